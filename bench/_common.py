"""Shared by the benchmarks: timing and printing."""
from __future__ import annotations

import json
import time


def best_seconds(fn, repeats: int) -> float:
    """Fastest of `repeats` timed calls of fn() after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def report(res: dict, as_json: bool) -> None:
    """Print the figures as one JSON line or as an aligned table."""
    if as_json:
        print(json.dumps(res))
        return
    width = max(map(len, res)) + 2
    for k, v in res.items():
        print(f"{k:{width}s} {v}")
