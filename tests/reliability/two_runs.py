"""Two ``soilmap run`` processes into one folder at once (test and benchmark share it)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

#: ``soilmap`` that prints ``LOCK-ATTEMPT <time>`` on stderr when it tries the lock.
CODE = """
import contextlib, sys, time
import soilmap.pipeline.run as run
lock = run.output_lock
@contextlib.contextmanager
def timed(out):
    t = time.time()
    sys.stderr.write(f"LOCK-ATTEMPT {t}\\n")
    cm = lock(out)
    try:
        held = cm.__enter__()
    except BaseException:
        sys.stderr.write(f"LOCK-REFUSED {time.time()}\\n")
        raise
    try:
        yield held
    except BaseException:
        if not cm.__exit__(*sys.exc_info()):
            raise
    else:
        cm.__exit__(None, None, None)
run.output_lock = timed
from soilmap.cli.main import cli
cli()
"""
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
                end = time.time()
                err = p.stderr.read() if p.stderr else ""
                stamps = {
                    ln.split()[0]: float(ln.split()[1])
                    for ln in err.splitlines()
                    if ln.startswith("LOCK-")
                }
                tried = stamps.get("LOCK-ATTEMPT")
                refused = stamps.get("LOCK-REFUSED")
                results[i] = {
                    "exit": p.returncode,
                    "s": time.perf_counter() - t0,
                    # From trying the lock to OutputBusyError, and to the process's end
                    # (the poll adds <= 10 ms; the end includes Python's shutdown).
                    "refused_after_s": refused - tried if tried and refused else None,
                    "exit_after_s": end - tried if tried else None,
                    "stderr": err,
                }
                pending.discard(i)
        time.sleep(0.01)
    return results
