"""What the checks report, per scenario, on the console and in run.json; ``[groups]``.

A 10 x 12 raster of 1 ha cells (EPSG:6933 is equal-area: a 100 m cell is 1 ha), so
every area is a count of cells:

* rows 0-4 cropland (ESA CCI code 10), rows 5-9 urban (190, excluded);
* region A = columns 0-5 (60 ha), region B = columns 6-11 (60 ha);
* 4 cells without SOC data in A (row 0, cols 0-3, cropland);
* 2 cells of 900 and 950 t C ha-1 in B (col 6, rows 1-2, cropland), removed by the
  declared ``valid_range = [0, 800]``;
* 1 cell of exactly 0 t C ha-1 in A (row 3, col 1, cropland): data, but named.

So: A has SOC data on 56 of 60 ha, B on 58 of 60; the eligible cropland with SOC data
is 26 ha in A and 28 in B, 54 ha in all; no cell is grassland.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from soilmap.cli.main import cli
from soilmap.config import load_config
from soilmap.errors import ClassTableError, ConfigError, NoValidDataError
from soilmap.pipeline.run import run
from soilmap.testing import make_grid, write_raster

GRID = make_grid((10, 12), crs="EPSG:6933", res=100.0, origin=(0.0, 1000.0))

SCENARIOS = """
[[scenario]]
name = "crop"
eligible = ["{crop}"]
rate = {{ {crop} = 0.004 }}
horizons = [2030]

[[scenario]]
name = "grass"
eligible = ["grassland"]
rate = {{ grassland = 0.004 }}
horizons = [2030]
"""


def _inputs(tmp: Path, *, table: str | None = None) -> Path:
    stock = np.full(GRID.shape, 50.0, "float32")
    stock[0, :4] = np.nan
    stock[1, 6], stock[2, 6] = 900.0, 950.0
    stock[3, 1] = 0.0
    lc = np.full(GRID.shape, 10, "uint8")
    lc[5:, :] = 190
    write_raster(tmp / "soc.tif", stock, GRID, nodata=np.nan)
    write_raster(tmp / "lc.tif", lc, GRID)
    x0, y0, x1, y1 = GRID.bounds
    boxes = [shapely.box(x0, y0, x0 + 600, y1), shapely.box(x0 + 600, y0, x1, y1)]
    gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=boxes, crs=GRID.crs).to_file(tmp / "r.gpkg")
    if table is not None:
        (tmp / "table.csv").write_text(table, encoding="utf-8")
    return tmp


def _config(tmp: Path, *, scheme: str = "esa_cci_lc", crop: str = "cropland", extra: str = ""):
    p = tmp / "run.toml"
    p.write_text(
        '[soc]\nstock = "soc.tif"\nunits = "t C ha-1"\nvalid_range = [0, 800]\n'
        'unit_check = "off"\n'
        f'[landcover]\npath = "lc.tif"\nscheme = "{scheme}"\n'
        '[regions]\npath = "r.gpkg"\nid_field = "id"\n'
        + SCENARIOS.format(crop=crop)
        + '[output]\ndir = "out"\n'
        + extra,
        encoding="utf-8",
    )
    return p


def test_per_scenario_report_in_run_json_and_on_the_console(tmp_path):
    config = _config(_inputs(tmp_path))
    res = CliRunner().invoke(cli, ["run", str(config)])
    assert res.exit_code == 0, res.output
    vc = json.loads((tmp_path / "out" / "run.json").read_text())["value_checks"]
    by = {s["scenario"]: s for s in vc["scenarios"]}
    assert by["crop"]["eligible_area_ha"] == pytest.approx(54.0, rel=1e-9)
    assert by["grass"]["eligible_area_ha"] == 0.0
    for s in by.values():  # the same input, so the same shares and counts, in each
        assert s["regions_share_with_soc_data"] == pytest.approx(
            {"A": 56 / 60, "B": 58 / 60}, rel=1e-9
        )
        assert s["cells_removed_by_rule"] == {"soc:user_range": 2}
    # an eligible group that no cell has: run.json, a warning, the console
    assert by["grass"]["eligible_groups_absent"] == ["grassland"]
    assert by["crop"]["eligible_groups_absent"] == []
    assert any("'grass'" in w and "grassland" in w for w in vc["warnings"])
    zeros = vc["zero_stock_cells_by_group"]
    assert {g: n for g, n in zeros.items() if n} == {"cropland": 1.0}
    assert vc["ranges"][0]["cells_exactly_zero"] == 1
    out = res.output
    assert "scenario crop: eligible area 54 ha\n" in out
    assert "scenario grass: eligible area 0 ha (no cell in eligible group(s) grassland)" in out
    assert "scenario crop: share with SOC data, lowest first: A 93.3%, B 96.7%" in out
    assert "scenario grass: share with SOC data, lowest first: A 93.3%, B 96.7%" in out
    assert "scenario crop: cells removed by cleaning rules: soc:user_range 2" in out
    assert "warning: scenario 'grass': no cell of the land cover" in out
    assert "exact zeros in the SOC stock, per land-use group: cropland 1 cells" in out
    assert "warning: exact zeros on eligible land (cropland: 1 cells)" in out


def test_custom_group_close_to_a_standard_name_declared_in_groups(tmp_path):
    """``croplnd`` in a table: refused with both fixes; declared under [groups]: a group."""
    table = "code,group\n10,croplnd\n190,excluded\n"
    tmp = _inputs(tmp_path, table=table)
    refused = _config(tmp, scheme="table.csv", crop="croplnd")
    with pytest.raises(ClassTableError) as err:
        run(load_config(refused), progress=False)
    msg = str(err.value)
    assert "'croplnd'" in msg and "did you mean 'cropland'" in msg
    assert "'# groups: croplnd'" in msg and 'custom = ["croplnd"] under [groups]' in msg
    assert not (tmp / "out").exists() or not list((tmp / "out").iterdir())
    declared = _config(
        tmp, scheme="table.csv", crop="croplnd", extra='[groups]\ncustom = ["croplnd"]\n'
    )
    cfg = load_config(declared)
    assert cfg.landcover is not None and cfg.landcover.groups == ("croplnd",)
    result = run(cfg, progress=False)
    vc = result.manifest["value_checks"]
    crop = next(s for s in vc["scenarios"] if s["scenario"] == "crop")
    assert crop["eligible_area_ha"] == pytest.approx(54.0, rel=1e-9)
    t = result.zonal
    rows = t[(t["scenario"] == "crop") & (t["landuse"] == "croplnd")]
    # 54 ha of cropland with data, one of them at 0 t C ha-1
    assert rows["sequestration_t_per_yr"].sum() == pytest.approx(53 * 50 * 0.004, rel=1e-9)
    assert result.manifest["parameters"]["landcover"]["groups"] == ["croplnd"]


def test_groups_entries_are_checked(tmp_path):
    tmp = _inputs(tmp_path, table="# groups: croplnd\ncode,group\n10,croplnd\n190,excluded\n")
    # a declaration that names no group of the table: a typo of its own
    typo = _config(
        tmp, scheme="table.csv", crop="croplnd", extra='[groups]\ncustom = ["croplnt"]\n'
    )
    with pytest.raises(ConfigError, match=r"\[groups\] custom declares 'croplnt'.*'croplnd'"):
        run(load_config(typo), progress=False)
    assert not (tmp / "out").exists() or not list((tmp / "out").iterdir())
    # typed: a list of strings
    with pytest.raises(ConfigError, match=r"\[groups\] custom = 'croplnd' is a string"):
        load_config(_config(tmp, extra='[groups]\ncustom = "croplnd"\n'))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['declare'\] in \[groups\]"):
        load_config(_config(tmp, extra='[groups]\ndeclare = ["croplnd"]\n'))
    # no class table to define them
    bare = tmp / "bare.toml"
    bare.write_text(
        '[soc]\nstock = "soc.tif"\nunits = "t C ha-1"\n[regions]\npath = "r.gpkg"\n'
        'id_field = "id"\n[output]\ndir = "out"\n[groups]\ncustom = ["croplnd"]\n'
    )
    with pytest.raises(ConfigError, match=r"\[groups\] declares .* no \[landcover\]"):
        load_config(bare)
    # flags that replace the land cover keep the file's declaration
    cfg = load_config(_config(tmp, extra='[groups]\ncustom = ["croplnd"]\n'))
    again = cfg.with_flags(landcover=str(tmp / "lc.tif"), landcover_scheme="esa_cci_lc")
    assert again.landcover is not None and again.landcover.groups == ("croplnd",)


def test_regions_that_hold_no_valid_cell(tmp_path):
    """The raster has valid cells, the region only the 4 without data: an error, no files."""
    tmp = _inputs(tmp_path)
    x0, _, _, y1 = GRID.bounds
    box = shapely.box(x0, y1 - 100, x0 + 400, y1)  # row 0, cols 0-3: no SOC data
    gpd.GeoDataFrame({"id": ["C"]}, geometry=[box], crs=GRID.crs).to_file(tmp / "c.gpkg")
    p = _config(tmp, extra='[run]\nextent = "raster"\n')
    p.write_text(p.read_text().replace('path = "r.gpkg"', 'path = "c.gpkg"'))
    with pytest.raises(NoValidDataError) as err:
        run(load_config(p), progress=False)
    msg = str(err.value)
    assert str(tmp / "c.gpkg") in msg and "no valid SOC cell" in msg
    assert "Nothing was written" in msg
    assert not (tmp / "out").exists() or not list((tmp / "out").iterdir())


def test_without_land_cover_every_cell_with_data_is_eligible(tmp_path):
    tmp = _inputs(tmp_path)
    p = tmp / "nolc.toml"
    p.write_text(
        '[soc]\nstock = "soc.tif"\nunits = "t C ha-1"\nvalid_range = [0, 800]\n'
        'unit_check = "off"\n[regions]\npath = "r.gpkg"\nid_field = "id"\n[output]\ndir = "out"\n'
    )
    (s,) = run(load_config(p), progress=False).manifest["value_checks"]["scenarios"]
    assert s["eligible_area_ha"] == pytest.approx(56.0 + 58.0, rel=1e-9)
    assert s["regions_share_with_soc_data"] == pytest.approx({"A": 56 / 60, "B": 58 / 60})
    assert s["cells_removed_by_rule"] == {"soc:user_range": 2}
    assert s["eligible_groups_absent"] == []
