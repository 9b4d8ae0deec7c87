"""Write a results directory with the code before the typed record model (schema 1), for tests/data."""
import json, sys
from pathlib import Path
from infermeter.config import parse_suite
from infermeter.runner import run_suite
from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig
from infermeter.loadgen.http import HttpTarget
from infermeter.loadgen.endpoint import LoadSettings, run_load

out = Path(sys.argv[1]); cache = Path(sys.argv[2])
suite = parse_suite({
    "name": "v1-fixture", "workloads": ["fake-tiny"],
    "engines": [{"name": "fake", "settings": {"service_ms": 1.0}}, {"name": "fake", "settings": {"fail_on_load": True}}, "onnxruntime"],
    "scenarios": [{"kind": "offline", "batch_sizes": [1, 2]}],
    "warmup": {"iterations": 2, "seconds": 0},
    "measure": {"repeats": 3, "min_iterations": 30, "min_seconds": 0.05, "max_seconds": 2},
})
run_suite(suite, out / "engines", cache_root=cache, isolation="none")
# A kill after 2 of the 3 repeats of the batch-2 cell: keep its first two records, drop the third, resume.
path = out / "engines" / "results.jsonl"
lines = path.read_text().splitlines(keepends=True)
b2 = [i for i, l in enumerate(lines) if json.loads(l).get("cell", {}).get("batch_size") == 2 and json.loads(l)["status"] == "ok"
      and json.loads(l)["engine"]["label"] == "fake[service_ms=1.0]"]
del lines[b2[2]]
path.write_text("".join(lines))
run_suite(suite, out / "engines", cache_root=cache, isolation="none", resume=True)
with FakeHttpServer(FakeServerConfig(service_ms=2.0)) as srv:
    target = HttpTarget(srv.url + "/predict", method="POST", body=b'{"x": 1}')
    run_load(target, out / "load", LoadSettings(warmup_s=0.1, min_seconds=0.5, min_requests=20, max_seconds=2, timeout_s=2, repeats=2, workers=1),
             users=[1, 2], label="fake endpoint")
servers = parse_suite({
    "name": "v1-servers", "workloads": ["malware-gbt"], "servers": [{"name": "litserve", "settings": {"runtime": "onnxruntime"}}],
    "load": {"users": [1, 2], "repeats": 2, "warmup_s": 0.2, "min_seconds": 0.5, "min_requests": 10, "max_seconds": 2, "timeout_s": 5},
})
run_suite(servers, out / "servers", cache_root=cache, isolation="none")
