"""The generator over gRPC, against an in-process generic gRPC server (a test double)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from infermeter.loadgen.generator import LoadPlan, merge, run_plan
from infermeter.protocols.grpc_client import GrpcTarget
from infermeter.protocols.v2 import V2Tensor, grpc_request

grpc = pytest.importorskip("grpc")


class Handler(grpc.GenericRpcHandler):
    def __init__(self, fail_every=0):
        self.n = 0
        self.fail_every = fail_every

    def service(self, details):
        if details.method != "/test.Echo/Call":
            return None

        def call(request, context):
            self.n += 1
            if self.fail_every and self.n % self.fail_every == 0:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full")
            return request

        return grpc.unary_unary_rpc_method_handler(call)


@pytest.fixture
def server():
    started = []

    def start(fail_every=0):
        srv = grpc.server(ThreadPoolExecutor(4))
        handler = Handler(fail_every)
        srv.add_generic_rpc_handlers((handler,))
        port = srv.add_insecure_port("127.0.0.1:0")
        srv.start()
        started.append(srv)
        return port, handler

    yield start
    for srv in started:
        srv.stop(0)


def plan(port, **kw):
    base = dict(target=GrpcTarget(f"127.0.0.1:{port}", "/test.Echo/Call", (b"a", b"bb")), mode="closed", users=2,
                warmup_s=0, min_seconds=0.3, min_requests=20, max_seconds=5, timeout_s=2)
    base.update(kw)
    return LoadPlan(**base)


def test_grpc_closed_loop_counts_ok_calls(server):
    port, handler = server()
    m = merge([run_plan(plan(port))])
    assert m["outcomes"] == {"grpc:OK": m["requests"]} and m["ok"] == m["requests"] >= 20
    assert handler.n >= m["requests"]


def test_grpc_errors_are_failures_by_status(server):
    port, _ = server(fail_every=4)
    m = merge([run_plan(plan(port, users=1))])
    assert m["outcomes"]["grpc:RESOURCE_EXHAUSTED"] == pytest.approx(m["requests"] / 4, abs=2)
    assert m["failure_rate"] == pytest.approx(0.25, abs=0.05)


def test_grpc_open_loop(server):
    from infermeter.loadgen.schedule import arrivals

    port, _ = server()
    sched = tuple(arrivals(100, 0.5, "constant").tolist())
    m = merge([run_plan(plan(port, mode="open", schedule_ns=sched, max_seconds=2))])
    assert m["requests"] == len(sched) and m["ok"] == len(sched)


def test_v2_model_infer_request_wire_format():
    msg = grpc_request("resnet50", [V2Tensor("payload", "BYTES", (1,), [b"JPEG"])], ["result"])
    assert msg.startswith(b"\x0a\x08resnet50")  # field 1 (model_name), length 8
    assert b"\x0a\x07payload\x12\x05BYTES\x1a\x01\x01" in msg  # input tensor: name, datatype, packed shape [1]
    assert msg.endswith(b"\x3a\x08\x04\x00\x00\x00JPEG")  # field 7 raw_input_contents: 4-byte length + bytes
