"""Cryptocurrency price forecasting: an LSTM over a window of hourly prices and volumes, predicting the
next hour's log return. The cost-of-serving study's time-series scenario, rebuilt without its data.

Prices are a synthetic series from a fixed seed (geometric Brownian motion with volatility regimes and
a daily cycle); volumes follow the absolute returns. A request carries a raw window (closes and volumes
as JSON) and the server turns it into features, as a deployed forecaster would.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from infermeter.workloads.base import Provenance, TensorSpec, Workload

WINDOW = 64  # hours per request
SERIES_HOURS = 4000
SAMPLES = 32
FEATURES = 3  # log return, range-normalised close, volume z-score


def synthetic_prices(hours: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(close prices, volumes) of `hours` hourly steps."""
    rng = np.random.default_rng(seed)
    regime = np.repeat(rng.choice([0.004, 0.009, 0.02], size=hours // 200 + 1, p=[0.5, 0.35, 0.15]), 200)[:hours]
    daily = 0.002 * np.sin(2 * np.pi * np.arange(hours) / 24)
    returns = 0.00005 + daily * regime / 0.009 + regime * rng.standard_t(4, hours) / np.sqrt(2)
    close = 30000.0 * np.exp(np.cumsum(returns))
    volume = 1e6 * (1 + 40 * np.abs(returns)) * rng.lognormal(0, 0.3, hours)
    return close, volume


def window_features(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """[WINDOW, FEATURES] float32 from one raw window (the first return is 0)."""
    close = np.asarray(close, dtype=np.float64)
    volume = np.asarray(volume, dtype=np.float64)
    ret = np.diff(np.log(close), prepend=np.log(close[0]))
    span = close.max() - close.min()
    level = (close - close.min()) / span if span > 0 else np.zeros_like(close)
    vz = (volume - volume.mean()) / (volume.std() + 1e-9)
    return np.stack([ret * 100, level, vz], axis=1).astype(np.float32)


class CryptoLstm(Workload):
    name = "crypto-lstm"
    task = "time-series forecasting"
    description = f"2-layer LSTM (64 hidden) over {WINDOW} hourly prices and volumes, predicts the next log return"
    requires = ("torch",)
    payload_content_type = "application/json"

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("window", (None, WINDOW, FEATURES), "float32")]

    def _windows(self) -> list[tuple[np.ndarray, np.ndarray]]:
        close, volume = synthetic_prices(SERIES_HOURS, self.seed)
        starts = np.linspace(0, SERIES_HOURS - WINDOW, SAMPLES).astype(int)
        return [(close[s : s + WINDOW], volume[s : s + WINDOW]) for s in starts]

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        return [{"window": window_features(c, v)} for c, v in self._windows()]

    def torch_module(self) -> Any:
        import torch

        from infermeter.workloads.torch_modules import LstmForecaster

        torch.manual_seed(self.seed)
        return LstmForecaster(FEATURES, hidden=64, layers=2).eval()

    def payloads(self) -> list[bytes]:
        return [json.dumps({"close": np.round(c, 2).tolist(), "volume": np.round(v, 1).tolist()}).encode() for c, v in self._windows()]

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        body = json.loads(data)
        return {"window": window_features(body["close"], body["volume"])}

    def postprocess(self, output: np.ndarray) -> Any:
        return {"next_log_return": float(output[0])}

    def agreement(self, reference: np.ndarray, output: np.ndarray) -> float:
        """Fraction of forecasts within 1e-4 + 1e-3 x |reference| (a regression has no top-1)."""
        close = np.abs(reference - output) <= 1e-4 + 1e-3 * np.abs(reference)
        return float(np.mean(np.all(close.reshape(len(close), -1), axis=1)))

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"seeded random weights (torch.manual_seed({self.seed})); not trained, so forecasts carry no information",
            inputs=f"{SAMPLES} windows of {WINDOW} hours from a synthetic price series (seed {self.seed}): geometric "
            "Brownian motion with volatility regimes and a daily cycle; not real market data",
        )
