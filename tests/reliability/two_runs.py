"""Two ``soilmap run`` processes into one folder at once (test and benchmark share it)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

CODE = "from soilmap.cli.main import cli; cli()"
#: What a process needs before soilmap's first line runs: interpreter and imports.
IMPORTS = "import soilmap.cli.main, soilmap.pipeline.run"


def startup_s() -> float:
    """Wall time of starting Python and importing the CLI (the floor of any failure)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True)
    return time.perf_counter() - t0


def race(cfg: Path, out: Path) -> list[dict]:
    """Start two runs of ``cfg`` into ``out`` together; exit code, time, stderr of each."""
    procs = []
    for _ in range(2):
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-c", CODE, "-q", "run", str(cfg), "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((p, t0))
    results: list[dict] = [{}, {}]
    pending = {0, 1}
    while pending:
        for i in list(pending):
            p, t0 = procs[i]
            if p.poll() is not None:
                results[i] = {
                    "exit": p.returncode,
                    "s": time.perf_counter() - t0,
                    "stderr": p.stderr.read() if p.stderr else "",
                }
                pending.discard(i)
        time.sleep(0.01)
    return results
