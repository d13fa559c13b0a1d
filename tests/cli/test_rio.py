"""``rio soilmap``: the rasterio plugin, run as an installed command in a subprocess."""

from __future__ import annotations

import json
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


def test_rio_soilmap_run(sample_dir, tmp_path):
    out = tmp_path / "out"
    done = _rio("soilmap", "run", str(sample_dir / "tigray.toml"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["soilmap_run"] == 1
    assert (out / "report.html").exists() and (out / "zonal_stats.gpkg").exists()
