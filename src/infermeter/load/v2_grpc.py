"""Open Inference Protocol (KServe V2) ModelInfer requests, encoded straight to protobuf wire format.

Only what a request needs: model name, one BYTES input tensor with its shape, the requested output, and
the tensor's bytes in raw_input_contents. Field numbers follow grpc_predict_v2.proto / Triton's
grpc_service.proto (ModelInferRequest: 1 model_name, 2 model_version, 5 inputs, 6 outputs,
7 raw_input_contents; InferInputTensor: 1 name, 2 datatype, 3 shape; InferRequestedOutputTensor: 1 name).
"""

from __future__ import annotations

import struct

METHOD = "/inference.GRPCInferenceService/ModelInfer"


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


def model_infer_request(model: str, input_name: str, output_name: str, element: bytes, shape: list[int], version: str = "") -> bytes:
    """A ModelInferRequest carrying one BYTES element (length-prefixed, as V2 serializes BYTES)."""
    tensor = _field(1, input_name.encode()) + _field(2, b"BYTES") + _field(3, b"".join(_varint(d) for d in shape))
    msg = _field(1, model.encode())
    if version:
        msg += _field(2, version.encode())
    msg += _field(5, tensor) + _field(6, _field(1, output_name.encode()))
    msg += _field(7, struct.pack("<I", len(element)) + element)
    return msg
