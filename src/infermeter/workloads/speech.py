"""Speech recognition: wav2vec2-base with a CTC head, on speech synthesised with espeak-ng at 16 kHz.

`wav2vec2-base` pads every clip to the longest synthesised clip; `wav2vec2-base-50k` truncates or pads to
exactly 50,000 samples, as the TensorFlow model in the serving study required; `wav2vec2-base-natural`
keeps each clip at its own length, as the study's full-length clips were (one clip per call: batching
would pad them to one length).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from infermeter.errors import NotInstalledError
from infermeter.workloads.base import Provenance, TensorSpec, Workload

SAMPLE_RATE = 16_000


def sentences() -> list[str]:
    text = resources.files("infermeter.workloads").joinpath("data/sentences.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def synthesise(text: str) -> np.ndarray:
    """Speak `text` with espeak-ng and return float32 mono audio at 16 kHz."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise NotInstalledError(
            "the speech workloads synthesise their input with espeak-ng, which is not installed",
            "apt-get install espeak-ng",
        )
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(path), text], check=True, capture_output=True)
        rate, audio = wavfile.read(path)
    audio = audio.astype(np.float32) / 32768.0
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)
    return audio


def normalise(audio: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance: what Wav2Vec2FeatureExtractor does for wav2vec2-base."""
    return ((audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)).astype(np.float32)


def decode_wav(data: bytes) -> np.ndarray:
    """A 16 kHz 16-bit WAV upload as the model's normalised input, at its own length."""
    import io

    from scipy.io import wavfile

    rate, audio = wavfile.read(io.BytesIO(data))
    if rate != SAMPLE_RATE:
        from infermeter.errors import ConfigError

        raise ConfigError(f"expected {SAMPLE_RATE} Hz audio, got {rate} Hz")
    return normalise(audio.astype(np.float32) / 32768.0)


class Wav2Vec2Base(Workload):
    name = "wav2vec2-base"
    task = "speech-recognition"
    description = "wav2vec2-base with a CTC head (32 characters), clips padded to the longest clip"
    fixed_length: int | None = None

    def _clips(self) -> list[np.ndarray]:
        return [synthesise(s) for s in sentences()]

    def _length(self, clips: list[np.ndarray]) -> int:
        return self.fixed_length or max(len(c) for c in clips)

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("input_values", (None, self._length_hint()), "float32")]

    def _length_hint(self) -> int:
        return self.fixed_length or len(self.samples()[0]["input_values"])

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        clips = self._clips()
        n = self._length(clips)
        out = []
        for clip in clips:
            clip = normalise(clip)[:n]
            out.append({"input_values": np.pad(clip, (0, n - len(clip)))})
        return out

    def config(self) -> dict[str, Any]:
        return {**super().config(), "length": self._length_hint(), "voice": "espeak-ng en-us 150 wpm"}

    payload_content_type = "audio/wav"

    def payloads(self) -> list[bytes]:
        """Each clip as a 16 kHz 16-bit mono WAV file, as a client would upload it."""
        import io

        from scipy.io import wavfile

        out = []
        for clip in self._clips():
            buf = io.BytesIO()
            wavfile.write(buf, SAMPLE_RATE, (np.clip(clip, -1, 1) * 32767).astype(np.int16))
            out.append(buf.getvalue())
        return out

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        n = self._length_hint()
        clip = decode_wav(data)[:n]
        return {"input_values": np.pad(clip, (0, n - len(clip)))}

    def torch_module(self) -> Any:
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

        from infermeter.workloads.torch_modules import CtcLogits

        torch.manual_seed(self.seed)
        return CtcLogits(Wav2Vec2ForCTC(Wav2Vec2Config())).eval()  # Wav2Vec2Config() defaults are wav2vec2-base

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"seeded random weights (torch.manual_seed({self.seed})) from transformers Wav2Vec2Config(); not trained",
            inputs=f"{len(sentences())} English sentences spoken by espeak-ng (en-us, 150 wpm), resampled to 16 kHz, "
            f"normalised, {self._length_hint()} samples per clip",
        )


class Wav2Vec2Base50k(Wav2Vec2Base):
    name = "wav2vec2-base-50k"
    description = "wav2vec2-base with a CTC head, clips truncated/padded to exactly 50,000 samples"
    fixed_length = 50_000


class Wav2Vec2BaseNatural(Wav2Vec2Base):
    name = "wav2vec2-base-natural"
    description = "wav2vec2-base with a CTC head, each clip at its own natural length (one clip per call)"
    unbatchable = "its clips keep their natural, different lengths (a batch would pad them to one length)"

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("input_values", (None, None), "float32")]

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        return [{"input_values": normalise(clip)} for clip in self._clips()]

    def lengths(self) -> list[int]:
        return [len(s["input_values"]) for s in self.samples()]

    def batch(self, batch_size: int, offset: int = 0) -> dict[str, np.ndarray]:
        """One clip as it is; several (only the exporter's tracing example: measurement runs batch 1) zero-padded
        to the longest of them, as a feature extractor pads a batch."""
        samples = self.samples()
        picked = [samples[(offset + i) % len(samples)]["input_values"] for i in range(batch_size)]
        n = max(len(c) for c in picked)
        return {"input_values": np.stack([np.pad(c, (0, n - len(c))) for c in picked])}

    def config(self) -> dict[str, Any]:
        return {**Workload.config(self), "lengths": self.lengths(), "voice": "espeak-ng en-us 150 wpm"}

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        return {"input_values": decode_wav(data)}

    def torch_module(self) -> Any:
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

        from infermeter.workloads.torch_modules import CtcLogitsToFrames

        torch.manual_seed(self.seed)
        inner = Wav2Vec2ForCTC(Wav2Vec2Config())
        frames = int(inner._get_feat_extract_output_lengths(torch.tensor(max(self.lengths()))))
        return CtcLogitsToFrames(inner, frames).eval()

    def provenance(self) -> Provenance:
        n = self.lengths()
        return Provenance(
            weights=f"seeded random weights (torch.manual_seed({self.seed})) from transformers Wav2Vec2Config(); not trained",
            inputs=f"{len(n)} English sentences spoken by espeak-ng (en-us, 150 wpm), resampled to 16 kHz, normalised, "
            f"each at its own length: {min(n)} to {max(n)} samples ({min(n) / SAMPLE_RATE:.1f} to {max(n) / SAMPLE_RATE:.1f} s)",
            notes=("one clip per call; the logits are padded with zeros to the frames of the longest clip, so that every "
                   "answer has one shape",),
        )
