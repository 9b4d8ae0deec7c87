import base64
import json
import struct

import pytest

from infermeter.protocols import v2
from infermeter.protocols.v2 import V2Endpoint, V2Tensor
from infermeter.servers.common.prometheus import parse


def test_binary_bodies_share_one_header_length_and_carry_the_payload():
    ep = V2Endpoint("m", "http://127.0.0.1:1", binary=True)
    payloads = [b"x" * 9, b"y" * 123456]
    target = ep.http_target(payloads)
    width = int(dict(target.headers)["Inference-Header-Content-Length"])
    for body, payload in zip(target.bodies, payloads):
        header = json.loads(body[:width])
        assert header["inputs"][0]["parameters"]["binary_data_size"] == 4 + len(payload)
        assert header["inputs"][0]["shape"] == [1]
        rest = body[width:]
        assert struct.unpack("<I", rest[:4])[0] == len(payload) and rest[4:] == payload
    batched = V2Endpoint("m", "http://127.0.0.1:1", binary=True, batched_shape=True).http_target(payloads)
    bwidth = int(dict(batched.headers)["Inference-Header-Content-Length"])
    assert json.loads(batched.bodies[0][:bwidth])["inputs"][0]["shape"] == [1, 1]


def test_json_bodies_carry_text_as_is_and_binary_as_base64():
    text = json.loads(V2Endpoint("m", "http://h:1").http_target([b"hello"]).bodies[0])
    assert text["inputs"][0]["data"] == ["hello"] and "parameters" not in text["inputs"][0]
    jpeg = b"\xff\xd8\xff\xe0binary"
    b64 = json.loads(V2Endpoint("m", "http://h:1", bytes_encoding="base64").http_target([jpeg]).bodies[0])
    assert base64.b64decode(b64["inputs"][0]["data"][0]) == jpeg
    assert b64["inputs"][0]["parameters"] == {"content_type": "base64"}


def test_decode_http_json_and_binary_outputs():
    body = json.dumps({"outputs": [{"name": "result", "datatype": "BYTES", "shape": [1, 1], "data": [['{"a": 1}']]},
                                   {"name": "p", "datatype": "FP32", "shape": [2], "data": [0.25, 0.75]}]}).encode()
    out = v2.decode_http(body)
    assert out["result"].data == [b'{"a": 1}'] and out["result"].shape == (1, 1)
    assert out["p"].data == [0.25, 0.75]
    raw = struct.pack("<2f", 0.5, 1.5)
    header = json.dumps({"outputs": [{"name": "p", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": len(raw)}}]}).encode()
    assert v2.decode_http(header + raw, len(header))["p"].data == [0.5, 1.5]


def _response(outputs: list[bytes], raws: list[bytes] = ()) -> bytes:
    msg = v2._field(1, b"m")
    for o in outputs:
        msg += v2._field(5, o)
    for r in raws:
        msg += v2._field(6, r)
    return msg


def _output(name: str, datatype: str, shape: list[int], contents: bytes = b"") -> bytes:
    out = v2._field(1, name.encode()) + v2._field(2, datatype.encode()) + v2._field(3, b"".join(v2._varint(d) for d in shape))
    return out + (v2._field(5, contents) if contents else b"")


def test_decode_grpc_typed_contents_as_mlserver_and_kserve_answer():
    contents = v2._field(8, b'{"label": "benign"}') + v2._field(8, b"second")
    out = v2.decode_grpc(_response([_output("result", "BYTES", [2], contents)]))
    assert out["result"].data == [b'{"label": "benign"}', b"second"] and out["result"].shape == (2,)
    fp = v2._field(6, struct.pack("<2f", 1.0, 2.0))  # packed fp32_contents
    assert v2.decode_grpc(_response([_output("p", "FP32", [2], fp)]))["p"].data == [1.0, 2.0]


def test_decode_grpc_raw_output_contents_as_triton_answers():
    raw = struct.pack("<I", 3) + b"abc"
    out = v2.decode_grpc(_response([_output("result", "BYTES", [1, 1])], [raw]))
    assert out["result"].data == [b"abc"] and out["result"].shape == (1, 1)


def test_grpc_request_roundtrips_through_the_wire_reader():
    msg = v2.grpc_request("model", [V2Tensor("payload", "BYTES", (1,), [b"\x00\xffdata"])], ["result"])
    fields = v2._fields(msg)
    assert fields[0] == (1, 2, b"model")
    raw = [value for number, _, value in fields if number == 7][0]
    assert v2._raw_elements("BYTES", raw) == [b"\x00\xffdata"]


def test_grpc_target_needs_a_grpc_address():
    with pytest.raises(ValueError, match="no gRPC endpoint"):
        V2Endpoint("m", "http://h:1").grpc_target([b"x"])


def test_prometheus_parse_sums_labelled_samples():
    text = '# HELP x\nnv_inference_queue_duration_us{model="a",version="1"} 100\nnv_inference_queue_duration_us{model="b"} 50\nother 3\n'
    assert parse(text, ("nv_inference_queue_duration_us",)) == {"nv_inference_queue_duration_us": 150.0}
