"""``rio soilmap`` and ``soilmap`` from the built wheel, installed into a fresh virtualenv.

The wheel is built from this checkout by pip (hatchling, as a user's ``pip install .``
does), installed with pip into a new venv, and run from there: the ``rasterio.rio_plugins``
entry point named ``soilmap`` and the package data (presets, the sample's config) come
from the wheel.  The dependencies are the project's venv's, made visible to the fresh
venv by a ``.pth`` line, so nothing is downloaded.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_RIO = "import sys; from rasterio.rio.main import main_group; sys.argv[0] = 'rio'; main_group()"


def _run(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    # Not from the checkout's folder, whose soilmap/ would shadow the installed one.
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=Path(sys.executable).anchor,
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A new venv with only soilmap's wheel installed in it; returns its python."""
    tmp = tmp_path_factory.mktemp("fresh")
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", REPO, "-w", tmp / "dist")
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("soilmap_4p1000-*.whl")
    made = _run(sys.executable, "-m", "venv", "--without-pip", tmp / "venv")
    assert made.returncode == 0, made.stderr
    python = tmp / "venv" / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    installed = _run(*pip, "install", "-q", "--no-deps", "--no-index", wheel)
    assert installed.returncode == 0, installed.stderr
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (Path(purelib.stdout.strip()) / "deps.pth").write_text(site.getsitepackages()[0] + "\n")
    return python


def test_the_plugin_and_the_package_come_from_the_wheel(fresh):
    where = _run(
        fresh,
        "-c",
        "import importlib.metadata as m, soilmap;"
        "(ep,) = m.entry_points(group='rasterio.rio_plugins', name='soilmap');"
        "print(soilmap.__file__); print(ep.value); print(ep.dist.locate_file(''))",
    )
    assert where.returncode == 0, where.stderr
    module, value, dist = where.stdout.split("\n")[:3]
    venv = fresh.parent.parent
    assert Path(module).is_relative_to(venv) and Path(dist).is_relative_to(venv)
    assert value == "soilmap.cli.main:cli"


def test_rio_soilmap_help_in_a_fresh_install(fresh):
    done = _run(fresh, "-c", _RIO, "soilmap", "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: rio soilmap" in done.stdout and "run" in done.stdout
    # pip wrote the wheel's own command too.
    assert "soilmap.cli.main" in (fresh.parent / "soilmap").read_text()


@pytest.mark.realdata
def test_rio_soilmap_run_in_a_fresh_install(fresh, sample_dir, tmp_path):
    out = tmp_path / "out"
    done = _run(fresh, "-c", _RIO, "soilmap", "-q", "run", sample_dir / "tigray.toml", "--out", out)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["soilmap_run"] == 1
    assert (out / "report.html").exists() and (out / "zonal_stats.gpkg").exists()
    # The class table came from the wheel's presets (the sample uses ESA CCI LC).
    assert manifest["landcover"]["source"] == "preset:esa_cci_lc"
