"""Two runs into one output folder at once, 20 times: one succeeds, the other is refused.

::

    python benchmarks/concurrent_runs.py [--trials 20]
                                         [--out benchmarks/results/concurrent_runs.json]

Each trial makes the reliability tests' tiny inputs (120 x 120 cells, two regions)
and starts two ``soilmap run`` processes into one new folder together.  It checks
that exactly one exits 0 and the other exits 3 with ``OutputBusyError`` (naming the
other run's PID and start time), and that no staging folder remains.  The loser's
time to fail is measured from the moment it tries the lock (each process prints
``LOCK-ATTEMPT <time>`` then, and ``LOCK-REFUSED <time>`` when refused, see
``tests/reliability/two_runs.py``) to the error, and to the process's exit (which
includes Python's shutdown); its whole wall time and the start-up floor (Python
plus imports, measured alone before each trial) are recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

from tiny import make_tiny
from two_runs import race, startup_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--out", default="benchmarks/results/concurrent_runs.json")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="soilmap-race-"))
    cfg = make_tiny(tmp / "in", n=120, chunk=120)  # one window: the race, not the run
    trials = []
    for k in range(a.trials):
        floor = startup_s()
        out = tmp / f"out{k}"
        res = race(cfg, out)
        ok = sorted(r["exit"] for r in res) == [0, 3]
        loser = next((r for r in res if r["exit"] != 0), res[1])
        busy = "Error: OutputBusyError:" in loser["stderr"] and "PID" in loser["stderr"]
        trial = {
            "exits": [r["exit"] for r in res],
            "one_succeeds_one_busy": ok and busy,
            "loser_s": round(loser["s"], 3),
            "startup_floor_s": round(floor, 3),
            "loser_beyond_startup_s": round(loser["s"] - floor, 3),
            "loser_lock_attempt_to_error_s": round(loser["refused_after_s"] or -1, 4),
            "loser_lock_attempt_to_exit_s": round(loser["exit_after_s"] or -1, 3),
            "winner_s": round(max(r["s"] for r in res), 3),
            "staging_left": sorted(p.name for p in out.glob(".soilmap-staging-*")),
        }
        trials.append(trial)
        print(json.dumps(trial), flush=True)
    beyond = [t["loser_lock_attempt_to_error_s"] for t in trials]
    to_exit = [t["loser_lock_attempt_to_exit_s"] for t in trials]
    result = {
        "benchmark": "concurrent_runs",
        "trials": trials,
        "held": sum(t["one_succeeds_one_busy"] and not t["staging_left"] for t in trials),
        "of": len(trials),
        "loser_lock_attempt_to_error_s_median": round(statistics.median(beyond), 4),
        "loser_lock_attempt_to_error_s_max": round(max(beyond), 4),
        "error_within_1_s": sum(0 <= b < 1 for b in beyond),
        "loser_lock_attempt_to_exit_s_median": round(statistics.median(to_exit), 3),
        "loser_lock_attempt_to_exit_s_max": round(max(to_exit), 3),
        "exit_within_1_s": sum(0 <= b < 1 for b in to_exit),
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    med = result["loser_lock_attempt_to_error_s_median"]
    top = result["loser_lock_attempt_to_error_s_max"]
    print(f"{result['held']} of {result['of']} hold; lock attempt to error {med} s, max {top}")


if __name__ == "__main__":
    main()
