import json
import struct

from infermeter.servers.prometheus import parse
from infermeter.servers.triton import v2_binary_requests


def test_v2_binary_requests_share_one_header_length_and_carry_the_payload():
    payloads = [b"x" * 9, b"y" * 123456]
    bodies, width = v2_binary_requests(payloads, batched=False)
    for body, payload in zip(bodies, payloads):
        header = json.loads(body[:width])
        size = header["inputs"][0]["parameters"]["binary_data_size"]
        assert size == 4 + len(payload) and header["inputs"][0]["shape"] == [1]
        rest = body[width:]
        assert struct.unpack("<I", rest[:4])[0] == len(payload) and rest[4:] == payload
    batched, bwidth = v2_binary_requests(payloads, batched=True)
    assert json.loads(batched[0][:bwidth])["inputs"][0]["shape"] == [1, 1]


def test_prometheus_parse_sums_labelled_samples():
    text = '# HELP x\nnv_inference_queue_duration_us{model="a",version="1"} 100\nnv_inference_queue_duration_us{model="b"} 50\nother 3\n'
    assert parse(text, ("nv_inference_queue_duration_us",)) == {"nv_inference_queue_duration_us": 150.0}
