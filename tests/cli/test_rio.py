"""``rio soilmap``: the rasterio plugin, run as an installed command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RIO = Path(sys.executable).with_name("rio")


def _rio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RIO), *args], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


def test_rio_soilmap_help():
    done = _rio("soilmap", "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: rio soilmap" in done.stdout and "run" in done.stdout
    assert "soilmap" in _rio("--help").stdout


# `rio soilmap run ...` from the built wheel in a fresh venv: test_fresh_install.py.
