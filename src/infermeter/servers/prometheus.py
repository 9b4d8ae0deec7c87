"""Read Prometheus text exposition: sums of the samples of the metrics asked for."""

from __future__ import annotations

import urllib.request


def scrape(url: str, names: tuple[str, ...], timeout: float = 5.0) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        text = r.read().decode("utf-8", errors="replace")
    return parse(text, names)


def parse(text: str, names: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        name = metric.split("{", 1)[0]
        if name in names:
            try:
                out[name] = out.get(name, 0.0) + float(value)
            except ValueError:
                continue
    return out
