"""The Open Inference Protocol (KServe V2) as MLServer, KServe and Triton speak it: requests encoded once
(REST JSON, REST with the binary tensor extension, gRPC ModelInfer in protobuf wire format written by
hand, so no generated stubs are needed) and responses decoded back into tensors, whatever form the
server chose (JSON data, binary output, gRPC typed contents or raw_output_contents).

Where the servers differ: MLServer's REST has no binary extension (BYTES go as JSON strings, so binary
payloads are base64-encoded there); Triton answers BYTES on gRPC in raw_output_contents, MLServer and
KServe in typed contents; output shapes differ ([1] or [1, 1]). `V2Endpoint` holds one server's choices.

Field numbers follow grpc_predict_v2.proto: ModelInferRequest 1 model_name, 2 model_version, 5 inputs,
6 outputs, 7 raw_input_contents; InferInputTensor 1 name, 2 datatype, 3 shape, 5 contents;
ModelInferResponse 1 model_name, 5 outputs, 6 raw_output_contents; InferOutputTensor 1 name,
2 datatype, 3 shape, 5 contents; InferTensorContents 1 bool, 2 int, 3 int64, 6 fp32, 7 fp64, 8 bytes.
"""

from __future__ import annotations

import base64
import json
import struct
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from infermeter.protocols.grpc_client import GrpcTarget
from infermeter.protocols.http import HttpTarget

METHOD = "/inference.GRPCInferenceService/ModelInfer"
INPUT = "payload"
OUTPUT = "result"


@dataclass(frozen=True)
class V2Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    data: list[Any] = field(default_factory=list)  # flat, row-major; BYTES elements are bytes


# --- protobuf wire format, just what ModelInfer needs ---------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message; length-delimited values stay bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        elif wire == 2:
            size, i = _read_varint(buf, i)
            value, i = buf[i : i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _packed_varints(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        n, i = _read_varint(buf, i)
        out.append(n)
    return out


_RAW = {"FP32": "<f", "FP64": "<d", "INT64": "<q", "INT32": "<i", "BOOL": "<?"}


def _raw_elements(datatype: str, raw: bytes) -> list[Any]:
    """Elements of a raw (binary) tensor: BYTES are 4-byte-length-prefixed, numbers little-endian."""
    if datatype == "BYTES":
        out, i = [], 0
        while i < len(raw):
            (n,) = struct.unpack_from("<I", raw, i)
            out.append(raw[i + 4 : i + 4 + n])
            i += 4 + n
        return out
    fmt = _RAW[datatype]
    return [v[0] for v in struct.iter_unpack(fmt, raw)]


def _raw_bytes(t: V2Tensor) -> bytes:
    if t.datatype == "BYTES":
        return b"".join(struct.pack("<I", len(e)) + e for e in t.data)
    return b"".join(struct.pack(_RAW[t.datatype], v) for v in t.data)


# --- requests -------------------------------------------------------------------------------------
def grpc_request(model: str, inputs: list[V2Tensor], outputs: list[str] = (OUTPUT,), version: str = "") -> bytes:  # type: ignore[assignment]
    """A ModelInferRequest with every input in raw_input_contents."""
    msg = _field(1, model.encode())
    if version:
        msg += _field(2, version.encode())
    for t in inputs:
        msg += _field(5, _field(1, t.name.encode()) + _field(2, t.datatype.encode()) + _field(3, b"".join(_varint(d) for d in t.shape)))
    for name in outputs:
        msg += _field(6, _field(1, name.encode()))
    for t in inputs:
        msg += _field(7, _raw_bytes(t))
    return msg


def _json_data(t: V2Tensor, bytes_encoding: str) -> list[Any]:
    if t.datatype != "BYTES":
        return list(t.data)
    if bytes_encoding == "base64":
        return [base64.b64encode(e).decode("ascii") for e in t.data]
    return [e.decode("utf-8") for e in t.data]


def json_body(inputs: list[V2Tensor], outputs: list[str] = (OUTPUT,), bytes_encoding: str = "utf-8") -> bytes:  # type: ignore[assignment]
    """A REST request with all data inline as JSON (every V2 server accepts this)."""
    body = {
        "inputs": [{"name": t.name, "shape": list(t.shape), "datatype": t.datatype, "data": _json_data(t, bytes_encoding)}
                   | ({"parameters": {"content_type": "base64"}} if t.datatype == "BYTES" and bytes_encoding == "base64" else {})
                   for t in inputs],
        "outputs": [{"name": n} for n in outputs],
    }
    return json.dumps(body).encode()


def binary_body(inputs: list[V2Tensor], outputs: list[str] = (OUTPUT,), pad_to: int = 0) -> tuple[bytes, int]:  # type: ignore[assignment]
    """A REST request with the binary tensor extension: (body, JSON header length). The header is padded
    with spaces to `pad_to`, so that one Inference-Header-Content-Length can serve several bodies."""
    raws = [_raw_bytes(t) for t in inputs]
    header = json.dumps({
        "inputs": [{"name": t.name, "shape": list(t.shape), "datatype": t.datatype, "parameters": {"binary_data_size": len(r)}}
                   for t, r in zip(inputs, raws)],
        "outputs": [{"name": n, "parameters": {"binary_data": False}} for n in outputs],
    }).encode().ljust(pad_to)
    return header + b"".join(raws), len(header)


# --- responses ------------------------------------------------------------------------------------
def decode_http(body: bytes, header_length: int | None = None) -> dict[str, V2Tensor]:
    """Outputs of a REST response (JSON, or JSON header + binary outputs)."""
    head = json.loads(body[:header_length] if header_length else body)
    rest = body[header_length:] if header_length else b""
    out = {}
    for o in head.get("outputs", []):
        size = (o.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            data, rest = _raw_elements(o["datatype"], rest[:size]), rest[size:]
        else:
            data = _flatten(o.get("data", []))
            if o["datatype"] == "BYTES":
                data = [d.encode("utf-8") if isinstance(d, str) else bytes(d) for d in data]
        out[o["name"]] = V2Tensor(o["name"], o["datatype"], tuple(o.get("shape", [])), data)
    return out


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list):
        return [x for d in data for x in _flatten(d)]
    return [data]


_CONTENTS = {1: "BOOL", 2: "INT32", 3: "INT64", 6: "FP32", 7: "FP64", 8: "BYTES"}


def decode_grpc(msg: bytes) -> dict[str, V2Tensor]:
    """Outputs of a ModelInferResponse, from typed contents or raw_output_contents."""
    metas, raws = [], []
    for number, _, value in _fields(msg):
        if number == 5:
            metas.append(value)
        elif number == 6:
            raws.append(value)
    out = {}
    for k, meta in enumerate(metas):
        name = datatype = ""
        shape: list[int] = []
        data: list[Any] = []
        for number, wire, value in _fields(meta):
            if number == 1:
                name = value.decode()
            elif number == 2:
                datatype = value.decode()
            elif number == 3:
                shape += _packed_varints(value) if wire == 2 else [value]
            elif number == 5:
                data = _typed_contents(value, datatype)
        if k < len(raws):
            data = _raw_elements(datatype, raws[k])
        out[name] = V2Tensor(name, datatype, tuple(shape), data)
    return out


def _typed_contents(buf: bytes, datatype: str) -> list[Any]:
    data: list[Any] = []
    for number, wire, value in _fields(buf):
        kind = _CONTENTS.get(number)
        if kind == "BYTES":
            data.append(bytes(value))
        elif kind in ("FP32", "FP64"):
            fmt = "<f" if kind == "FP32" else "<d"
            data += [v[0] for v in struct.iter_unpack(fmt, value)] if wire == 2 else [struct.unpack(fmt, value)[0]]
        elif kind is not None:
            data += _packed_varints(value) if wire == 2 else [value]
    return data


# --- one server's endpoint ------------------------------------------------------------------------
@dataclass(frozen=True)
class V2Endpoint:
    """Where one model is served over V2 and which of the protocol's forms this server takes."""

    model: str
    http_base: str | None = None  # http://127.0.0.1:PORT
    grpc_address: str | None = None  # 127.0.0.1:PORT
    binary: bool = False  # REST binary tensor extension (Triton, KServe; not MLServer)
    bytes_encoding: str = "utf-8"  # how BYTES go inline in JSON: "utf-8" text or "base64"
    batched_shape: bool = False  # payload shape [1, 1] (a model with a batch dimension) instead of [1]

    @property
    def infer_url(self) -> str:
        return f"{self.http_base}/v2/models/{self.model}/infer"

    def ready(self) -> bool:
        """Server and model ready (V2 health API)."""
        for path in ("/v2/health/ready", f"/v2/models/{self.model}/ready"):
            with urllib.request.urlopen(f"{self.http_base}{path}", timeout=2) as r:
                if r.status != 200:
                    return False
        return True

    def payload_tensor(self, payload: bytes) -> V2Tensor:
        return V2Tensor(INPUT, "BYTES", (1, 1) if self.batched_shape else (1,), [payload])

    def http_target(self, payloads: list[bytes]) -> HttpTarget:
        """The load generator's target: one pre-encoded request per payload."""
        tensors = [[self.payload_tensor(p)] for p in payloads]
        if self.binary:
            width = max(binary_body(t)[1] for t in tensors)
            bodies = [binary_body(t, pad_to=width)[0] for t in tensors]
            headers = (("Content-Type", "application/octet-stream"), ("Inference-Header-Content-Length", str(width)))
        else:
            bodies = [json_body(t, bytes_encoding=self.bytes_encoding) for t in tensors]
            headers = (("Content-Type", "application/json"),)
        return HttpTarget(self.infer_url, "POST", headers=headers, bodies=tuple(bodies))

    def grpc_target(self, payloads: list[bytes]) -> GrpcTarget:
        if not self.grpc_address:
            raise ValueError(f"{self.model}: this server has no gRPC endpoint")
        return GrpcTarget(self.grpc_address, METHOD, tuple(grpc_request(self.model, [self.payload_tensor(p)]) for p in payloads))

    def infer(self, inputs: list[V2Tensor], outputs: list[str] = (OUTPUT,), protocol: str = "http", timeout: float = 60) -> dict[str, V2Tensor]:  # type: ignore[assignment]
        """One request, answered and decoded (for checks and tests, not for load)."""
        if protocol == "grpc":
            import grpc

            with grpc.insecure_channel(self.grpc_address) as channel:
                call = channel.unary_unary(METHOD)
                return decode_grpc(call(grpc_request(self.model, inputs, outputs), timeout=timeout))
        if self.binary:
            body, width = binary_body(inputs, outputs)
            headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(width)}
        else:
            body, headers = json_body(inputs, outputs, self.bytes_encoding), {"Content-Type": "application/json"}
        req = urllib.request.Request(self.infer_url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            length = r.headers.get("Inference-Header-Content-Length")
            return decode_http(r.read(), int(length) if length else None)

    def answer(self, payload: bytes, protocol: str = "http") -> Any:
        """The server's JSON answer for one payload (the infermeter serving model's "result" output)."""
        out = self.infer([self.payload_tensor(payload)], protocol=protocol)[OUTPUT]
        return json.loads(out.data[0])
