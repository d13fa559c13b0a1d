"""The plugin zip: built from the installed wheel, installed in QGIS, run by qgis_process."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from soilmap._version import __version__
from soilmap.cli.qgis_plugin import PLUGIN, build_plugin_zip

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "qgis_plugin" / PLUGIN
SOILMAP = Path(sys.executable).with_name("soilmap")
# Debian's /usr/bin/qgis_process wrapper adds --noversioncheck from /etc/default/qgis,
# which qgis_process.bin 3.22 rejects ("Command --noversioncheck not known!").
QGIS_PROCESS = next(
    (p for p in ("/usr/bin/qgis_process.bin", "/usr/bin/qgis_process") if Path(p).exists()), None
)


def _plugin_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_zip_holds_the_plugin_folder_with_this_version(tmp_path):
    path = build_plugin_zip(tmp_path)
    assert path.name == f"{PLUGIN}-{__version__}.zip"
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        metadata = z.read(f"{PLUGIN}/metadata.txt").decode()
    assert names == {f"{PLUGIN}/{n}" for n in _plugin_files(SOURCE)}
    assert f"\nversion={__version__}\n" in metadata
    assert "qgisMinimumVersion=3.22" in metadata and "hasProcessingProvider=yes" in metadata
    assert {f"{PLUGIN}/{n}" for n in ("LICENSE", "icon.svg", "__init__.py")} <= names
    with pytest.raises(FileExistsError):
        build_plugin_zip(path)


@pytest.mark.slow
def test_the_wheel_ships_the_plugin(tmp_path):
    """`soilmap qgis-plugin build` from an installed wheel (no repository beside it)."""
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", wheel_dir],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = wheel_dir.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    shipped = site / "soilmap" / "qgis_plugin_data" / PLUGIN
    assert _plugin_files(shipped) == _plugin_files(SOURCE)
    env = {**os.environ, "PYTHONPATH": str(site)}  # before the editable checkout
    out = tmp_path / "plugin.zip"
    done = subprocess.run(
        [sys.executable, "-m", "soilmap", "qgis-plugin", "build", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as z:
        assert {n.removeprefix(f"{PLUGIN}/") for n in z.namelist()} == _plugin_files(SOURCE)


@pytest.mark.skipif(QGIS_PROCESS is None, reason="qgis_process (Debian's qgis) is not installed")
def test_installed_zip_runs_in_qgis_process(tmp_path, sample_dir):
    """Unzipped as "Install from ZIP" does, enabled, soilmap found on PATH: soilmap:zonal."""
    plugins = tmp_path / "plugins"
    with zipfile.ZipFile(build_plugin_zip(tmp_path)) as z:
        z.extractall(plugins)
    # Only `soilmap` on PATH, not the venv's python: QGIS's embedded Python would take
    # the first python3 on PATH as its home.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "soilmap").symlink_to(SOILMAP)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")},
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),  # a QGIS profile of the test's own
        "XDG_RUNTIME_DIR": str(tmp_path),
        "QGIS_PLUGINPATH": str(plugins),
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
    }
    qp = [QGIS_PROCESS]
    run = lambda *a: subprocess.run(
        [*qp, *a], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    done = run("plugins", "enable", PLUGIN)
    assert done.returncode == 0, done.stdout + done.stderr
    raster = sample_dir / "ORCDRC_sl1.tif"
    regions = sample_dir / "tigray_regions.gpkg"
    out = tmp_path / "qgis.csv"
    done = run(
        "run", "soilmap:zonal", "--", f"RASTERS={raster}", f"REGIONS={regions}",
        "REGION_ID=region_id", "UNITS=g kg-1", f"OUTPUT={out}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cli = tmp_path / "cli.csv"
    ref = subprocess.run(
        [SOILMAP, "zonal", raster, "--regions", regions, "--region-id", "region_id",
         "--units", "g kg-1", "--out", cli],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ref.returncode == 0, ref.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(cli), check_exact=True)
    assert len(pd.read_csv(out)) == 2
