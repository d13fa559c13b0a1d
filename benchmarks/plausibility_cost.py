"""Benchmark: what the range check over every cell costs a whole ``soilmap run``.

The inputs are :mod:`bench_scale`'s generated rasters (a SOC stock and a land cover,
tiled 512 x 512, with regions).  Each size is run in-process twice per repetition, in
alternating order (a pair: with, without; the next pair: without, with): the normal
run (range check of every SOC input, zeros per group, computed in the same pass), and
the same run with the range check switched off (``soilmap.soc.open._range_check`` and
the check reductions replaced by no-ops).

Two figures per run: the wall time, and the CPU time of the process (user + system of
all its threads, ``resource.getrusage``; GDAL's encoder threads included).  The
machine is shared with other jobs, so the wall time measures their load as much as
soilmap; the CPU time is the fair figure.  The cost is the median over the pairs of
``(with - without) / with``, and the difference of the medians.  The range check also
reads nothing more: the reads are the same blocks, once (``tests/pipeline/test_lazy.py``).

Usage::

    python benchmarks/plausibility_cost.py [--cells 1e7 1e8] [--repeat 3] [--profile]

Writes ``benchmarks/results/plausibility_cost.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _one(config: Path, out: Path, *, checked: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one whole run (with or without the range check)."""
    import soilmap.pipeline.run as run_mod
    import soilmap.soc.open as open_mod
    from soilmap.config import load_config

    saved = (open_mod._range_check, run_mod.check_reductions)
    if not checked:
        open_mod._range_check = lambda *a, **k: None  # type: ignore[assignment]
        run_mod.check_reductions = lambda p: []  # type: ignore[assignment]
    try:
        cfg = load_config(config).with_output(out, overwrite=True)
        t, c = time.perf_counter(), _cpu_s()
        result = run_mod.run(cfg, progress=False)
        elapsed, cpu = time.perf_counter() - t, _cpu_s() - c
    finally:
        open_mod._range_check, run_mod.check_reductions = saved
    ranges = result.manifest["value_checks"].get("ranges")
    assert bool(ranges) == checked, "the range check did (not) run"
    return elapsed, cpu


def _shares(with_: list[float], without: list[float]) -> dict[str, object]:
    pairs = [round((w - wo) / w, 4) for w, wo in zip(with_, without, strict=True)]
    mw, mwo = statistics.median(with_), statistics.median(without)
    return {
        "with_check_s": with_,
        "without_check_s": without,
        "median_with_check_s": round(mw, 2),
        "median_without_check_s": round(mwo, 2),
        "pairwise_cost_shares": pairs,
        "median_pairwise_cost_share": statistics.median(pairs),
        "cost_share_of_medians": round((mw - mwo) / mw, 4),
    }


#: The check's own tasks: the per-chunk statistics and the removal of outside cells.
CHECK_TASKS = ("range_block", "zero_block", "organic_block", "kept_block")


def _task_shares(config: Path, out: Path) -> dict[str, object]:
    """One run with the check under dask's ``Profiler``: the check tasks' thread-seconds,
    against all tasks' and the run's CPU time (less sensitive to other jobs than wall or
    CPU time; it leaves out the graph building in Python, and GDAL's own threads run
    outside dask's tasks, so the run's CPU time is more than the tasks')."""
    import collections

    from dask.diagnostics import Profiler

    import soilmap.pipeline.run as run_mod
    from soilmap.config import load_config

    cfg = load_config(config).with_output(out, overwrite=True)
    c = _cpu_s()
    with Profiler() as prof:
        run_mod.run(cfg, progress=False)
    cpu = _cpu_s() - c
    by_name: collections.Counter[str] = collections.Counter()
    for r in prof.results:
        key = r.key[0] if isinstance(r.key, tuple) else r.key
        by_name[str(key).rsplit("-", 1)[0]] += r.end_time - r.start_time
    total = sum(by_name.values())
    # (A task fused with others is named after them all: matched by substring.)
    check = {n: round(t, 3) for n, t in by_name.items() if any(c in n for c in CHECK_TASKS)}
    return {
        "run_cpu_s": round(cpu, 2),
        "task_seconds_total": round(total, 2),
        "check_task_seconds": check,
        "check_share_of_task_seconds": round(sum(check.values()) / total, 4),
        "check_task_seconds_share_of_run_cpu": round(sum(check.values()) / cpu, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", type=float, default=[1e7])
    ap.add_argument("--repeat", type=int, default=3, help="pairs of runs")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "plausibility_cost.json")
    ap.add_argument(
        "--profile", action="store_true", help="also the check tasks' share of task time"
    )
    args = ap.parse_args()
    # The code measured is the one imported now, whatever is committed while it runs.
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    import bench_scale

    results = []
    for cells in args.cells:
        data = bench_scale.prepare(cells)
        config = data["paths"]["config"]
        out = data["paths"]["dir"] / "out_plausibility"
        times: dict[str, dict[str, list[float]]] = {
            "wall": {"with": [], "without": []},
            "cpu": {"with": [], "without": []},
        }
        loads = []
        for i in range(args.repeat):
            order = [True, False] if i % 2 == 0 else [False, True]
            for checked in order:
                key = "with" if checked else "without"
                loads.append(round(os.getloadavg()[0], 2))
                wall, cpu = _one(config, out, checked=checked)
                times["wall"][key].append(round(wall, 2))
                times["cpu"][key].append(round(cpu, 2))
                print(
                    f"  {cells:.0e} {key} check: wall {wall:.1f} s, cpu {cpu:.1f} s",
                    file=sys.stderr,
                )
        cpu_shares = _shares(times["cpu"]["with"], times["cpu"]["without"])
        results.append(
            {
                "cells": data["n"] ** 2,
                "pairs": args.repeat,
                "cpu": cpu_shares,
                "wall": _shares(times["wall"]["with"], times["wall"]["without"]),
                "load_average_1min_before_each_run": loads,
                "target": "<= 0.05 of the run",
                "holds_on_cpu": cpu_shares["median_pairwise_cost_share"] <= 0.05,  # type: ignore[operator]
            }
        )
        if args.profile:
            results[-1]["dask_profile"] = _task_shares(config, out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "plausibility_cost",
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "soilmap_commit": commit,
                "note": (
                    "shared machine (2 cores, other jobs running): wall times are noisy; "
                    "CPU time (user + system of the process) is the fair figure"
                ),
                "results": results,
            },
            indent=2,
        )
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
