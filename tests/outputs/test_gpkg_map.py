"""The zonal GeoPackage is a map: layer ``regions``, default styles, GeoPackage 1.2, real QGIS."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from soilmap.io.staging import OutputStage
from soilmap.outputs.regions import INTENSIVE, regions_layer
from soilmap.outputs.write import write_tables

QGIS_PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent


def _long_table() -> gpd.GeoDataFrame:
    """Two regions x (cropland, excluded, all) x two scenarios, numbers chosen by hand."""
    rows = []
    for sc, rate in (("p4", 0.004), ("p8", 0.008)):
        for rid, name, crop_stock in (("A", "Alpha", 3000.0), ("B", "Beta", 1000.0)):
            seq = rate * crop_stock
            rows += [
                (rid, name, "cropland", True, sc, 60.0, crop_stock, seq),
                (rid, name, "excluded", False, sc, 40.0, 500.0, 0.0),
                (rid, name, "all", False, sc, 100.0, crop_stock + 500.0, seq),
            ]
    cols = ["region_id", "region_name", "landuse", "eligible", "scenario", "area_ha"]
    t = gpd.GeoDataFrame(
        [r[:6] for r in rows],
        columns=cols,
        geometry=[
            shapely.box(0, 0, 1, 1) if r[0] == "A" else shapely.box(1, 0, 2, 1) for r in rows
        ],
        crs=4326,
    )
    t["soc_stock_t"] = [r[6] for r in rows]
    t["sequestration_t_per_yr"] = [r[7] for r in rows]
    t["co2e_t_per_yr"] = t["sequestration_t_per_yr"] * 44 / 12
    t["region_area_ha"] = 200.0
    t["covered_share"] = 0.5
    return t


def test_regions_layer_one_row_per_region_wide_columns():
    r = regions_layer(_long_table())
    assert r["region_id"].tolist() == ["A", "B"]
    # p4, region A: 0.004 x 3000 t = 12 t C/yr over 200 ha of region = 0.06 t C/ha/yr.
    assert r["sequestration_t_per_yr__p4"].tolist() == [12.0, 4.0]
    assert r["sequestration_t_per_yr__p8"].tolist() == [24.0, 8.0]
    assert np.allclose(r[f"{INTENSIVE}__p4"], [0.06, 0.02])
    assert r["sequestration_t_per_yr__cropland__p8"].tolist() == [24.0, 8.0]
    assert r["area_ha__excluded__p4"].tolist() == [40.0, 40.0]
    assert r["eligible_area_ha__p4"].tolist() == [60.0, 60.0]
    assert r["soc_stock_t"].tolist() == [3500.0, 1500.0]  # the whole region's stock
    assert r["eligible_soc_stock_t__p4"].tolist() == [3000.0, 1000.0]
    assert len(r) == 2 and r.geometry.is_valid.all()


@pytest.fixture
def gpkg(tmp_path) -> Path:
    with OutputStage(tmp_path / "out", [], overwrite=False) as stage:
        write_tables(
            stage,
            _long_table(),
            "zonal_stats",
            units={"area_ha": "ha", "sequestration_t_per_yr": "t C yr-1"},
            metadata={"software": "soilmap"},
            formats=("gpkg",),
            with_regions=True,
        )
        stage.commit()
    return tmp_path / "out" / "zonal_stats.gpkg"


def test_gpkg_version_and_default_styles(gpkg):
    con = sqlite3.connect(gpkg)
    # GeoPackage 1.2: application_id 'GPKG', user_version 10200.
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
    styles = con.execute(
        "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
    ).fetchall()
    assert [s[:3] for s in styles] == [("zonal_stats", "geom", 1), ("regions", "geom", 1)]
    geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    assert geom_cols == {"zonal_stats": "geom", "regions": "geom"}
    regions_qml = styles[1][3]
    assert f'attr="{INTENSIVE}__p4"' in regions_qml and 'fieldName="region_name"' in regions_qml
    assert 'labelsEnabled="1"' in regions_qml and "t C ha-1 yr-1" in regions_qml
    zonal_attr = ET.fromstring(styles[0][3].split("\n", 1)[1]).find("renderer-v2").get("attr")
    assert "\"landuse\" = 'all' AND \"scenario\" = 'p4'" in zonal_attr


@pytest.mark.skipif(
    not (os.path.exists(QGIS_PYTHON) and shutil.which("qgis_process")),
    reason="needs Debian's qgis + python3-qgis (.ci/run installs them)",
)
def test_real_qgis_opens_styled_layers(gpkg):
    runtime = gpkg.parent.parent / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [QGIS_PYTHON, str(HERE / "qgis_open_gpkg.py"), str(gpkg)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    regions = seen["regions"]
    assert regions["valid"] and regions["features"] == 2
    assert regions["renderer"] == "graduatedSymbol" and regions["attr"] == f"{INTENSIVE}__p4"
    assert regions["labels"] and regions["label_field"] == "region_name"
    # Quantile classes of 0.02 and 0.06 (p4): from the lowest to the highest value.
    lows = [r[0] for r in regions["ranges"]]
    highs = [r[1] for r in regions["ranges"]]
    assert min(lows) == pytest.approx(0.02) and max(highs) == pytest.approx(0.06)
    assert all("t C ha-1 yr-1" in r[2] for r in regions["ranges"])
    zonal = seen["zonal_stats"]
    assert zonal["valid"] and zonal["features"] == 12 and zonal["renderer"] == "graduatedSymbol"
    assert not [m for m in seen["messages"] if "GeoPackage" in m[1] or "version" in m[1]]
