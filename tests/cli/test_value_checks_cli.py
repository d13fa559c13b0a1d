"""The cases of issue 13 through the real command line: one error line with the fix, the
exit code of its class, nothing in --out; or, where the user declared the rule, a run.

Real files through the dataset registry: Bhutan's GSOCseq T0 (15 outliers up to 5e9
t C ha-1 when run as a plain stock) and the bundled Tigray sample.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from realdata import DATA

from soilmap.cli.main import cli
from soilmap.config import RunConfig

T0 = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif"
REGIONS = DATA / "gsocseq" / "bhutan_admin1.gpkg"
T0_FLAGS = ["--soc", str(T0), "--soc-units", "t C ha-1", "--regions", str(REGIONS)]
T0_FLAGS += ["--region-id", "id"]


def _soilmap(*args: str):
    return CliRunner().invoke(cli, ["run", *args])


def _empty(out: Path) -> bool:
    return not out.exists() or not list(out.iterdir())


def _one_error_line(res, cls: str) -> str:
    (line,) = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert line.startswith(f"Error: {cls}: ") and "Traceback" not in res.output
    return line


@pytest.mark.realdata
def test_on_implausible_flag_drop_and_error(tmp_path):
    """GSOCseq T0 as a plain stock: stops (exit 1); ``--on-implausible drop`` removes 15."""
    out = tmp_path / "stopped"
    res = _soilmap(*T0_FLAGS, "--out", str(out))
    assert res.exit_code == 1, res.output
    line = _one_error_line(res, "ImplausibleValuesError")
    assert str(T0) in line and "15 of" in line and "(--on-implausible drop)" in line
    assert 'on_implausible = "drop"' in line and "valid_range = [0, 800]" in line
    assert _empty(out)
    out = tmp_path / "dropped"
    res = _soilmap(*T0_FLAGS, "--on-implausible", "drop", "--out", str(out))
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["parameters"]["soc"]["on_implausible"] == "drop"
    vc = manifest["value_checks"]
    assert vc["on_implausible"] == "drop" and vc["cells_dropped_as_implausible"] == 15
    with rasterio.open(T0) as src:
        t0 = src.read(1, masked=True).filled(np.nan)
    assert int(((t0 < 0) | (t0 > 800)).sum()) == 15  # counted independently
    assert "implausible (on_implausible = 'drop') 15" in res.output
    assert "15 cells outside" in res.output  # the warning


def test_on_implausible_flag_over_a_config_file(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text(
        '[soc]\nstock = "t0.tif"\nunits = "t C ha-1"\non_implausible = "error"\n'
        '[regions]\npath = "r.gpkg"\nid_field = "id"\n[output]\ndir = "o"\n'
    )
    assert RunConfig.from_flags(p).soc.on_implausible == "error"
    assert RunConfig.from_flags(p, on_implausible="drop").soc.on_implausible == "drop"
    res = _soilmap(str(p), "--on-implausible", "maybe")
    assert res.exit_code == 2 and "'maybe' is not one of 'error', 'drop'" in res.output


@pytest.fixture
def sample(tmp_path, sample_dir) -> Path:
    dst = tmp_path / "sample"
    shutil.copytree(sample_dir, dst)
    return dst


def test_rate_percent_slip_on_the_command_line(sample):
    """``--rate 0.4`` (40 %/yr) is refused with both readings: exit 2, nothing written."""
    out = sample / "out"
    res = _soilmap(str(sample / "tigray.toml"), "--rate", "0.4", "--out", str(out))
    assert res.exit_code == 2, res.output
    line = _one_error_line(res, "ConfigError")
    assert "--rate" in line and "40 % a year" in line
    assert "0.4 per mille, write 0.0004 or '0.4‰'" in line
    assert "0.4 percent, write 0.004 or '0.4%'" in line
    assert _empty(out)


def test_eligible_croplands_on_the_command_line(sample):
    """``--eligible croplands``: not 'nothing eligible, exit 0', but a did-you-mean."""
    out = sample / "out"
    res = _soilmap(str(sample / "tigray.toml"), "--eligible", "croplands", "--out", str(out))
    assert res.exit_code == 2, res.output
    line = _one_error_line(res, "ConfigError")
    assert "'croplands' is not a land-use group" in line and "Did you mean 'cropland'?" in line
    assert "--eligible" in line
    assert _empty(out)


def test_eligible_grasland_in_the_config_file(sample):
    """``eligible = [..., "grasland"]``: not grassland silently dropped, but stopped."""
    cfg = sample / "tigray.toml"
    cfg.write_text(
        cfg.read_text().replace(
            'growth = "linear"', 'growth = "linear"\neligible = ["cropland", "grasland"]'
        )
    )
    out = sample / "out"
    res = _soilmap(str(cfg), "--out", str(out))
    assert res.exit_code == 2, res.output
    line = _one_error_line(res, "ConfigError")
    assert "'grasland' is not a land-use group" in line and "Did you mean 'grassland'?" in line
    assert _empty(out)


def test_overwrite_no_keeps_an_earlier_output(sample):
    """``overwrite = "no"`` was read with bool() and overwrote: now a typed error, file kept."""
    out = sample / "out"
    out.mkdir()
    (out / "run.json").write_text("earlier")
    cfg = sample / "tigray.toml"
    text = cfg.read_text().replace('dir = "soilmap-demo"', 'dir = "out"\noverwrite = "no"')
    cfg.write_text(text)
    res = _soilmap(str(cfg))
    assert res.exit_code == 2, res.output
    line = _one_error_line(res, "ConfigError")
    assert str(cfg) in line and "[output] overwrite = 'no' is a string" in line
    assert "TOML boolean" in line
    assert (out / "run.json").read_text() == "earlier"
