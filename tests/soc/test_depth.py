"""Depth travels with the stock (issue 15): the WHRC 0–200 cm map is labelled 0–200 cm."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.windows import from_bounds

from soilmap.errors import ConfigError, DepthConflictError
from soilmap.soc.depth import depth_from_name, parse_depth
from soilmap.soc.open import open_soc
from soilmap.soc.spec import SocSpec

NAME = "SOCS_0_200cm_year_2010AD_10km.tif"


@pytest.fixture(scope="module")
def whrc200(tmp_path_factory):
    """A clip (lon −3.5…1.5, lat 4.5…11.5, around Ghana) of WHRC's 0–200 cm map, as a
    plain stock: no product preset, t C ha-1 declared, the file's own name."""
    from soilmap.datasets import fetch

    src_path = fetch("whrc_global_10km")[NAME]
    out = tmp_path_factory.mktemp("whrc") / NAME
    with rasterio.open(src_path) as src:
        win = from_bounds(-3.5, 4.5, 1.5, 11.5, src.transform).round_offsets().round_lengths()
        data = src.read(1, window=win)
        prof = src.profile | {
            "width": win.width,
            "height": win.height,
            "transform": src.window_transform(win),
            "driver": "GTiff",
        }
        prof.pop("blockxsize", None), prof.pop("blockysize", None), prof.pop("tiled", None)
    with rasterio.open(out, "w", **prof) as dst:
        dst.write(data, 1)
    return out


def test_depth_from_names_and_flags():
    assert depth_from_name("SOCS_0_200cm_year_2010AD_10km.tif") == (0, 200)
    assert depth_from_name("soc_0-100cm.tif") == (0, 100)
    assert depth_from_name("Bhutan_GSOCseq_T0_Map030.tif") == (0, 30)
    assert depth_from_name("PH-GSOC-CORGT0-2021-0-30.tif") == (0, 30)
    assert depth_from_name("soc_stock_2020.tif") is None
    assert parse_depth("0-30") == (0, 30) and parse_depth("0-100cm") == (0, 100)
    with pytest.raises(ConfigError, match="--soc-depth 0-30"):
        parse_depth("30")


@pytest.mark.realdata
def test_whrc_0_200_plain_stock_is_labelled_0_200(whrc200):
    soc = open_soc(SocSpec(stock=whrc200, units="t C ha-1"), chunks=(32, 32))
    assert soc.stock.attrs["depth_range_cm"] == "0-200"
    assert soc.stock.attrs["long_name"] == "SOC stock 0-200 cm"
    text = " ".join(soc.assumptions)
    assert "0-200 cm, from its name" in text
    assert "4 per 1000 aspiration concerns the top 30-40 cm" in text
    # a conflicting declaration is refused
    with pytest.raises(DepthConflictError, match="0-200 cm stock by its name, but 0-30 cm"):
        open_soc(SocSpec(stock=whrc200, units="t C ha-1", depth_declared=True))


@pytest.mark.realdata
def test_undeclared_depth_is_assumed_0_30_and_said(whrc200, tmp_path):
    plain = tmp_path / "stock.tif"
    plain.write_bytes(whrc200.read_bytes())
    soc = open_soc(SocSpec(stock=plain, units="t C ha-1"), chunks=(32, 32))
    assert soc.stock.attrs["depth_range_cm"] == "0-30"
    assert any("assumed 0-30 cm" in a for a in soc.assumptions)


@pytest.mark.realdata
def test_whrc_0_200_run_band_description_and_manifest(whrc200, tmp_path):
    from soilmap.cli.main import cli

    regions = tmp_path / "box.gpkg"
    gpd.GeoDataFrame(
        {"rid": ["gh"]}, geometry=[shapely.box(-3.0, 5.0, 1.0, 11.0)], crs="EPSG:4326"
    ).to_file(regions)
    out = tmp_path / "out"
    args = ["-q", "run", "--soc", str(whrc200), "--soc-units", "t C ha-1"]
    args += ["--regions", str(regions), "--region-id", "rid", "--out", str(out)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    with rasterio.open(out / "soc_stock.tif") as src:
        assert "0-200 cm" in src.descriptions[0]
    man = json.loads((out / "run.json").read_text())
    assert any("0-200 cm" in a for a in man["assumptions"])
    # the QGIS legends and the table units say the depth too
    assert 'suffix=" t C ha-1 (0-200 cm)"' in (out / "soc_stock.qml").read_text()
    assert "t C ha-1 yr-1 (0-200 cm)" in (out / "sequestration_rate.qml").read_text()
    units = man["outputs"]["zonal_stats"]["columns_units"]
    assert units["soc_stock_t"] == "t C (0-200 cm)"
    assert units["gain_2050_t"] == "t C (0-200 cm)"
    assert units["area_ha"] == "ha"
    # declared 0-30 on the command line: refused, nothing written
    bad = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "o2"), "--soc-depth", "0-30"])
    assert bad.exit_code != 0 and "0-200 cm stock by its name" in bad.output
    assert not (tmp_path / "o2").exists()
