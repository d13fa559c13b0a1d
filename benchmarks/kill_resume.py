"""kill -9 at a random point of a 1e7-cell run, then rerun: --resume is bit-identical.

::

    python benchmarks/kill_resume.py [--trials 10] [--no-resume-trials 3]
                                     [--out benchmarks/results/kill_resume.json]

Inputs are made by code in a temporary folder: a 3200 x 3200 (1.02e7 cells) stock
raster of 1 ha cells in EPSG:3035 (40 + (row + col) mod 17 t C ha-1), two
regions (West and East halves) and chunks of 500 x 500 cells (49 chunks, 13 windows on
2 cores).  An uninterrupted run gives the reference, and its wall time T.  Each
trial starts ``soilmap run``, waits for its staging folder (inputs opened, windows
about to start), kills it with SIGKILL after a uniformly random further time in
(0, T - that wait) and records what its journal held (windows done, COGs finished); then

* resume trials rerun with ``--resume --overwrite`` (``--overwrite`` for a kill that
  landed after the result was switched into place) and compare every output file with the
  reference by :func:`soilmap.testing.result_digests` (SHA-256 with the write
  times blanked: raster history tags, GeoPackage and report times; run.json
  without timings);
* no-resume trials rerun with ``--overwrite`` only and check that the message reports the stale
  folder as removed, and that the result equals the reference too.

Every trial checks that no ``.soilmap-staging-*`` folder remains.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

from tiny import make_tiny

from soilmap.pipeline.journal import JOURNAL_NAME
from soilmap.testing import result_digests

CODE = "from soilmap.cli.main import cli; cli()"


def _soilmap(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CODE, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _journal(out: Path) -> dict:
    for j in out.glob(f".soilmap-staging-*/{JOURNAL_NAME}"):
        try:
            doc = json.loads(j.read_text())
            return {
                "windows_done": doc["done"],
                "windows": len(doc["windows"]),
                "cogs": doc["cogs"],
            }
        except (OSError, ValueError):
            pass
    return {"windows_done": 0, "windows": None, "cogs": []}


def _staging(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob(".soilmap-staging-*")) if out.exists() else []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--no-resume-trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", default="benchmarks/results/kill_resume.json")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = Path(tempfile.mkdtemp(prefix="soilmap-kill-"))
    cfg = make_tiny(tmp / "in", n=3200, chunk=500)
    # 3200 x 3200 is 1.02e7 cells.
    t0 = time.perf_counter()
    # The same flags as the reruns (run.json records --overwrite).
    ref = _soilmap("-q", "run", str(cfg), "--out", str(tmp / "ref"), "--overwrite")
    _, err = ref.communicate()
    t_ref = time.perf_counter() - t0
    assert ref.returncode == 0, err
    want = result_digests(tmp / "ref")
    trials = []
    for k in range(a.trials + a.no_resume_trials):
        resume = k < a.trials
        out = tmp / f"out{k}"
        share = rng.uniform(0.0, 1.0)
        p = _soilmap("-q", "run", str(cfg), "--out", str(out), "--overwrite")
        t_start = time.perf_counter()
        # A random point between the staging folder's creation (the run's inputs are
        # open, its windows start) and the reference run's end.
        while not _staging(out) and p.poll() is None:
            time.sleep(0.01)
        t_stage = time.perf_counter() - t_start
        # (0.8: the machine's load changes; a kill after the run's end is no trial.)
        time.sleep(share * 0.8 * max(0.0, t_ref - t_stage))
        at = time.perf_counter() - t_start
        state = _journal(out)
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed = p.returncode == -signal.SIGKILL
        left = _staging(out)
        # Killed after the switch (the result is in place, e.g. while printing): the
        # folder must then hold the whole new result.
        complete = (out / "run.json").exists()
        complete_identical = complete and result_digests(out) == want
        t1 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-c", CODE, "run", str(cfg), "--out", str(out), "--overwrite"]
            + (["--resume"] if resume else []),
            capture_output=True,
            text=True,
        )
        trial = {
            "resume": resume,
            "kill_after_s": round(at, 2),
            "killed": killed,
            "journal_at_kill": state,
            "staging_left_by_kill": left,
            "result_in_place_at_kill": complete,
            "result_in_place_identical": complete_identical if complete else None,
            "rerun_exit": r.returncode,
            "rerun_s": round(time.perf_counter() - t1, 2),
            "identical": r.returncode == 0 and result_digests(out) == want,
            "staging_after_rerun": _staging(out),
        }
        if resume:
            trial["resume_reported"] = "resuming the interrupted run" in r.stderr or not left
        else:
            trial["removal_reported"] = (
                "removed the staging folder of an interrupted run" in r.stderr or not left
            )
        trials.append(trial)
        print(json.dumps(trial), flush=True)
        _write(a.out, t_ref, trials)
    _write(a.out, t_ref, trials)


def _write(path: str, t_ref: float, trials: list[dict]) -> None:
    """The results so far (written after every trial)."""
    ok = all(
        t["rerun_exit"] == 0
        and t["identical"]
        and t["result_in_place_identical"] in (None, True)
        and not t["staging_after_rerun"]
        and t.get("resume_reported", True)
        and t.get("removal_reported", True)
        for t in trials
    )
    result = {
        "benchmark": "kill_resume",
        "cells": 3200 * 3200,
        "chunks": [500, 500],
        "reference_run_s": round(t_ref, 2),
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "trials": trials,
        "resume_trials": sum(t["resume"] for t in trials),
        "no_resume_trials": sum(not t["resume"] for t in trials),
        "all_hold": ok,
        "comparison": "soilmap.testing.result_digests: SHA-256 of every file, write times blanked",
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=1) + "\n")
    print("all hold" if ok else "SOME TRIALS FAILED", path, flush=True)


if __name__ == "__main__":
    main()
