"""Read Prometheus text exposition: sums of the samples of the metrics asked for.

Parsing is prometheus_client's (`text_string_to_metric_families`): it handles label values with spaces,
braces and escapes, and the optional timestamp after the value, which a hand split of the line took for
the value.
"""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str, names: tuple[str, ...], timeout: float = 5.0) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        text = r.read().decode("utf-8", errors="replace")
    return parse(text, names)


def parse(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """Per name asked for, the sum of its samples over all label sets. A name is a sample name as it
    appears in the exposition (histogram and summary parts by their `_sum` / `_count` / `_bucket` names).

    A malformed exposition gives {}: the callers turn sums into per-request means by differences between
    two scrapes, and a partial parse (one family lost) would make those means silently wrong, while {}
    makes them absent.
    """
    wanted = set(names)
    out: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for key in _names_of(family.type, sample.name) & wanted:
                    out[key] = out.get(key, 0.0) + sample.value
    except ValueError:
        return {}
    return out


def _names_of(family_type: str, sample_name: str) -> set[str]:
    # The parser renames a counter's samples to end in `_total` (the OpenMetrics form) when the exposition
    # declared it without (`# TYPE nv_inference_request_success counter`, Triton; TorchServe likewise), so
    # the name the server wrote is no longer in the sample. Such a sample answers to both names; after
    # parsing, `x` declared as a counter and `x_total` cannot be told apart.
    if family_type == "counter" and sample_name.endswith("_total"):
        return {sample_name, sample_name[: -len("_total")]}
    return {sample_name}
