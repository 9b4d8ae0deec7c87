"""How much does infermeter add to what it measures?

For ONNX Runtime and OpenVINO, in one process, on the same loaded session: ResNet-50 batch-1 latency as
infermeter measures it (loadgen.inprocess.sequential over Engine.predict) against a bare loop that calls the
runtime's own API directly. Rounds alternate which side goes first (A/B, B/A) so drift hits both; the figure is the median over rounds
of the p50 ratio.

    python benchmarks/harness_overhead.py [--rounds 8] [--seconds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from infermeter.engines.onnxruntime_engine import OnnxRuntime
from infermeter.engines.openvino_engine import OpenVino
from infermeter.export.artifacts import Exporter
from infermeter.loadgen.inprocess import WindowRule, sequential
from infermeter.workloads.registry import get_workload


def bare_loop(call, feeds, seconds: float) -> np.ndarray:
    lat = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        feed = feeds[i % len(feeds)]
        t0 = time.perf_counter_ns()
        call(feed)
        lat.append(time.perf_counter_ns() - t0)
        i += 1
    return np.asarray(lat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    workload = get_workload("resnet50")
    exporter = Exporter(workload)
    feeds = workload.batches(1, count=4)
    specs = workload.input_specs()

    print(f"ResNet-50 batch 1, {args.rounds} rounds x {args.seconds:.0f} s per side, p50 in ms")
    print(f"{'engine':<12} {'round':>5} {'bare p50':>9} {'infermeter p50':>15} {'ratio':>7}")
    for cls in (OnnxRuntime, OpenVino):
        engine = cls()
        engine.load(exporter.artifact(cls.artifact_format).path, specs)
        if cls is OnnxRuntime:
            sess, outputs = engine.session, [engine.session.get_outputs()[0].name]

            def raw(feed, sess=sess, outputs=outputs):
                return sess.run(outputs, feed)[0]
        else:
            request = engine.compiled.create_infer_request()

            def raw(feed, request=request):
                return request.infer(feed, share_inputs=True)[0]

        for f in feeds:  # warm both paths
            raw(f)
            engine.predict(f)
        ratios = []
        for r in range(args.rounds):
            # ABBA: the side that goes first alternates, so slow drift does not favour either.
            sides = ["bare", "ours"] if r % 2 == 0 else ["ours", "bare"]
            p50 = {}
            for side in sides:
                if side == "bare":
                    p50[side] = float(np.median(bare_loop(raw, feeds, args.seconds))) / 1e6
                else:
                    window = sequential(engine.predict, feeds, WindowRule(1, args.seconds, args.seconds * 10))
                    p50[side] = float(np.median(window.latencies_ns)) / 1e6
            bare, ours = p50["bare"], p50["ours"]
            ratios.append(ours / bare)
            print(f"{cls.name:<12} {r + 1:>5} {bare:>9.2f} {ours:>15.2f} {ours / bare:>7.3f}")
        engine.close()
        print(f"{cls.name:<12} median ratio infermeter/bare = {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
