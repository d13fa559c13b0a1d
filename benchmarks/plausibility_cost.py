"""Benchmark: what the range check over every cell costs a whole ``soilmap run``.

The inputs are :mod:`bench_scale`'s generated rasters (a SOC stock and a land cover,
tiled 512 x 512, with regions).  Each size is run in-process twice per repetition, in
alternating order: the normal run (range check of every SOC input, zeros per group and
land-cover shares, computed in the same pass), and the same run with the range check
switched off (``soilmap.soc.open._range_check`` and the check reductions replaced by
no-ops).  The cost is the difference of the median wall times, as a share of the run.
The range check also reads nothing more: the reads are the same blocks, once.

Usage::

    python benchmarks/plausibility_cost.py [--cells 1e7 1e8] [--repeat 2]

Writes ``benchmarks/results/plausibility_cost.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _one(config: Path, out: Path, *, checked: bool) -> float:
    import soilmap.pipeline.run as run_mod
    import soilmap.soc.open as open_mod
    from soilmap.config import load_config

    saved = (open_mod._range_check, run_mod.check_reductions)
    if not checked:
        open_mod._range_check = lambda *a, **k: None  # type: ignore[assignment]
        run_mod.check_reductions = lambda p: {}  # type: ignore[assignment]
    try:
        cfg = load_config(config).with_output(out, overwrite=True)
        t = time.perf_counter()
        result = run_mod.run(cfg, progress=False)
        elapsed = time.perf_counter() - t
    finally:
        open_mod._range_check, run_mod.check_reductions = saved
    if checked:
        assert result.manifest["value_checks"]["ranges"], "the range check did not run"
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", type=float, default=[1e7])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "plausibility_cost.json")
    args = ap.parse_args()
    import bench_scale

    results = []
    for cells in args.cells:
        data = bench_scale.prepare(cells)
        config = data["paths"]["config"]
        out = data["paths"]["dir"] / "out_plausibility"
        times: dict[str, list[float]] = {"with_check": [], "without_check": []}
        for i in range(args.repeat):
            order = [True, False] if i % 2 == 0 else [False, True]
            for checked in order:
                key = "with_check" if checked else "without_check"
                times[key].append(round(_one(config, out, checked=checked), 2))
                print(f"  {cells:.0e} {key}: {times[key][-1]} s", file=sys.stderr)
        with_s = statistics.median(times["with_check"])
        without_s = statistics.median(times["without_check"])
        results.append(
            {
                "cells": data["n"] ** 2,
                "times_s": times,
                "median_with_check_s": with_s,
                "median_without_check_s": without_s,
                "cost_share_of_run": round((with_s - without_s) / with_s, 4),
                # Each repetition's two runs back to back: less exposed to the load of
                # other jobs drifting over minutes than the medians.
                "pairwise_cost_shares": [
                    round((w - wo) / w, 4)
                    for w, wo in zip(times["with_check"], times["without_check"], strict=True)
                ],
                "target": "<= 0.05",
            }
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "plausibility_cost",
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "note": "shared machine (2 cores, other jobs running): timings are noisy",
                "results": results,
            },
            indent=2,
        )
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
