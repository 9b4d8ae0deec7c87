"""Malware detection on PE-header-like features: a gradient-boosted tree classifier (scikit-learn),
also exported to ONNX. The cost-of-serving study's malware scenario, rebuilt without its data set.

The data are synthetic, generated from a fixed seed: per-file features shaped like those a PE parser
reports (section counts, entropies, sizes, import counts, header flags), with malware and benign files
drawn from different distributions and a label noise rate, so the trained model is a real, imperfect
classifier. Each request carries one file's features as a JSON object, as a parser would produce them.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from infermeter.errors import NotInstalledError
from infermeter.workloads.base import ONNX, SKLEARN, Provenance, TensorSpec, Workload

# (name, benign mean, malware mean, spread, log-scale): log-scaled features are sizes and counts.
FEATURES: tuple[tuple[str, float, float, float, bool], ...] = (
    ("NumberOfSections", 4.5, 6.0, 0.35, True),
    ("SizeOfCode", 11.5, 10.5, 1.2, True),
    ("SizeOfInitializedData", 11.0, 12.0, 1.4, True),
    ("SizeOfImage", 12.5, 12.0, 1.0, True),
    ("AddressOfEntryPoint", 10.0, 11.5, 1.5, True),
    ("MajorLinkerVersion", 11.0, 8.0, 3.0, False),
    ("MajorOperatingSystemVersion", 6.0, 4.5, 1.2, False),
    ("Subsystem", 2.3, 2.1, 0.5, False),
    ("DllCharacteristics", 0.8, 0.35, 0.3, False),
    ("SizeOfStackReserve", 13.0, 13.5, 1.0, True),
    ("SectionsMeanEntropy", 5.2, 6.4, 0.7, False),
    ("SectionsMaxEntropy", 6.4, 7.5, 0.6, False),
    ("SectionsMinEntropy", 2.5, 3.4, 1.0, False),
    ("SectionsMeanRawsize", 10.0, 10.6, 1.2, True),
    ("SectionsMeanVirtualsize", 10.2, 11.2, 1.3, True),
    ("ImportsNbDLL", 2.0, 1.4, 0.7, True),
    ("ImportsNb", 4.6, 3.4, 1.1, True),
    ("ImportsNbOrdinal", 0.6, 1.2, 0.8, True),
    ("ExportNb", 0.8, 0.3, 1.0, True),
    ("ResourcesNb", 2.2, 2.8, 1.2, True),
    ("ResourcesMeanEntropy", 4.0, 5.1, 1.1, False),
    ("ResourcesMaxEntropy", 5.6, 6.8, 1.0, False),
    ("LoadConfigurationSize", 4.0, 2.0, 2.0, True),
    ("VersionInformationSize", 2.6, 1.8, 0.9, True),
    ("HasDebugInfo", 0.75, 0.3, 0.4, False),
    ("HasSignature", 0.6, 0.15, 0.35, False),
    ("HasTlsCallbacks", 0.1, 0.35, 0.3, False),
    ("SuspiciousSectionNames", 0.2, 1.1, 0.8, False),
    ("PackedSectionRatio", 0.05, 0.45, 0.25, False),
    ("CheckSumMismatch", 0.2, 0.6, 0.35, False),
    ("TimeDateStampAgeYears", 4.0, 1.5, 2.5, False),
    ("NumberOfRvaAndSizes", 16.0, 14.5, 1.5, False),
)
FEATURE_NAMES = tuple(f[0] for f in FEATURES)
TRAIN_ROWS = 3000
SAMPLE_ROWS = 64
LABEL_NOISE = 0.05


def synthetic_pe_features(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 [rows, F], labels int64 [rows]): about 40% malware, 5% labels flipped."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.4).astype(np.int64)
    cols = []
    for _, benign, malware, spread, log_scale in FEATURES:
        centre = np.where(y == 1, malware, benign)
        x = centre + spread * rng.standard_normal(rows)
        cols.append(np.round(np.exp(x)) if log_scale else np.clip(x, 0, None))
    noisy = rng.random(rows) < LABEL_NOISE
    return np.stack(cols, axis=1).astype(np.float32), np.where(noisy, 1 - y, y)


class MalwareGbt(Workload):
    name = "malware-gbt"
    task = "malware-detection (tabular)"
    description = "gradient-boosted trees (scikit-learn, 100 trees, depth 3) over 32 PE-header features; also ONNX"
    requires = ("sklearn",)
    formats = frozenset({SKLEARN, ONNX})
    reference_engine = "sklearn"
    export_packages = ("scikit-learn", "skl2onnx")
    payload_content_type = "application/json"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self._model: Any = None

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("features", (None, len(FEATURES)), "float32")]

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        x, _ = synthetic_pe_features(SAMPLE_ROWS, self.seed + 1)  # held out: not the training rows
        return [{"features": row} for row in x]

    def config(self) -> dict[str, Any]:
        return {**super().config(), "train_rows": TRAIN_ROWS, "features": len(FEATURES)}

    def torch_module(self) -> Any:
        from infermeter.errors import UnsupportedError

        raise UnsupportedError(f"{self.name} is a scikit-learn model, not a PyTorch module", "use the sklearn or onnxruntime engine")

    def model(self) -> Any:
        """The trained classifier (trained once per instance, a few seconds here)."""
        if self._model is None:
            from sklearn.ensemble import GradientBoostingClassifier

            x, y = synthetic_pe_features(TRAIN_ROWS, self.seed)
            self._model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=self.seed).fit(x, y)
        return self._model

    def export(self, fmt: str, out: Path) -> tuple[str, str] | None:
        model = self.model()
        if fmt == SKLEARN:
            (out / "model.pkl").write_bytes(pickle.dumps(model, protocol=5))
            return "model.pkl", "pickle of the fitted scikit-learn estimator"
        if fmt == ONNX:
            try:
                from skl2onnx import to_onnx
                from skl2onnx.common.data_types import FloatTensorType
            except ImportError as exc:
                raise NotInstalledError("exporting scikit-learn models to ONNX needs skl2onnx", "pip install 'infermeter[tabular]'") from exc
            onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))], options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
            # Probabilities first: engines report the first output (the label output stays in the graph).
            outputs = list(onx.graph.output)
            probs = next(o for o in outputs if o.name == "probabilities")
            del onx.graph.output[:]
            onx.graph.output.extend([probs] + [o for o in outputs if o is not probs])
            (out / "model.onnx").write_bytes(onx.SerializeToString())
            return "model.onnx", "skl2onnx (TreeEnsembleClassifier, probabilities output)"
        return None

    def payloads(self) -> list[bytes]:
        return [json.dumps({k: float(v) for k, v in zip(FEATURE_NAMES, s["features"])}).encode() for s in self.samples()]

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        fields = json.loads(data)
        return {"features": np.array([float(fields[k]) for k in FEATURE_NAMES], dtype=np.float32)}

    def postprocess(self, output: np.ndarray) -> Any:
        p = float(output[1])
        return {"malware_probability": round(p, 6), "label": "malware" if p >= 0.5 else "benign"}

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"GradientBoostingClassifier trained here on {TRAIN_ROWS} synthetic rows (seed {self.seed}); "
            f"{LABEL_NOISE:.0%} of labels flipped so the model is imperfect",
            inputs=f"{SAMPLE_ROWS} held-out synthetic files (seed {self.seed + 1}) with {len(FEATURES)} PE-header-like features; "
            "not real executables",
        )
