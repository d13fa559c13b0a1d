"""The soilmap Processing provider in real headless QGIS (Debian's qgis + python3-qgis).

QGIS runs in a subprocess with its own Python (``/usr/bin/python3``, or
``SOILMAP_QGIS_PYTHON``) and ``QT_QPA_PLATFORM=offscreen``: ``qgis_driver.py`` loads
the plugin from ``qgis_plugin/``, points it at this venv's ``soilmap`` executable and
runs the steps below in one QGIS session (QGIS starts in seconds; the whole module
takes about a minute).  The project venv never imports qgis.  The references are the
same runs made with the CLI.

The PNG of the project after the run is saved under the test's temporary folder; with
``SOILMAP_UPDATE_SCREENSHOT=1`` it is also copied to ``docs/images/qgis_run.png``
(the README's "Use from QGIS" screenshot).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import Geod
from realdata import DATA

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "qgis_plugin"
DRIVER = Path(__file__).with_name("qgis_driver.py")
QGIS_PYTHON = os.environ.get("SOILMAP_QGIS_PYTHON", "/usr/bin/python3")
SOILMAP = Path(sys.executable).with_name("soilmap")
SCREENSHOT = REPO / "docs" / "images" / "qgis_run.png"
RASTERS = (
    "soc_stock.tif",
    "landuse_fractions.tif",
    "landuse.tif",
    "sequestration_rate.tif",
    "co2e_rate.tif",
    "gain_2030.tif",
    "gain_2050.tif",
)
TOTALS = ("area_ha", "soc_stock_t", "sequestration_t_per_yr", "co2e_t_per_yr")


def _qgis_available() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    )
    return probe.returncode == 0


pytestmark = [
    pytest.mark.skipif(
        not _qgis_available(),
        reason=f"QGIS's Python ({QGIS_PYTHON} with python3-qgis) is not installed; "
        ".ci/run installs qgis and python3-qgis",
    ),
    pytest.mark.realdata,  # the GSOCseq maps of Bhutan
]
BHUTAN = DATA / "gsocseq" / "bhutan"
#: A 10 km x 10 km exclusion square inside region ET0104 of the sample (UTM 37N).
MASK_SQUARE = shapely.box(557500.0, 1396400.0, 567500.0, 1406400.0)
ESA_CCI_TABLE = REPO / "soilmap" / "landuse" / "presets" / "esa_cci_lc.csv"
BHUTAN_REGIONS = DATA / "gsocseq" / "bhutan_admin1.gpkg"
#: A loss of 0.2 % of the stock a year (soilmap:run takes negative rates, as the CLI does).
LOSS_RATE = -0.002
#: Steps with rates soilmap refuses as unit slips (|rate| > 0.05 per year), as typed.
SLIPS = {"slip_gain": "0.4", "slip_loss": "-0.06"}


def _soilmap(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SOILMAP), *map(str, args)], capture_output=True, text=True, check=False
    )


def _pixels(path: Path) -> str:
    """A hash of a raster's cells and georeferencing (the files' timestamps differ)."""
    with rasterio.open(path) as src:
        h = hashlib.sha256()
        h.update(repr((src.crs.to_wkt(), tuple(src.transform), src.nodata, src.dtypes)).encode())
        for band in range(1, src.count + 1):
            h.update(np.ascontiguousarray(src.read(band)).tobytes())
        return h.hexdigest()


def _step(record: dict, name: str) -> dict:
    return record["steps"][record["names"].index(name)]


def _log_text(step: dict) -> str:
    return "\n".join(text for _kind, text in step["log"])


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict:
    """CLI reference runs, then every provider step in one headless QGIS session."""
    tmp = tmp_path_factory.mktemp("qgis")
    config = sample_dir / "tigray.toml"
    cli_cfg, cli_flags = tmp / "cli_config", tmp / "cli_flags"
    done = _soilmap("run", config, "--out", cli_cfg, "--progress", "none")
    assert done.returncode == 0, done.stderr
    regions = gpd.read_file(sample_dir / "tigray_regions.gpkg")
    # The provider gets the full layer with one region selected; the CLI that region only.
    one = tmp / "one_region.gpkg"
    regions[regions["region_id"] == "ET0104"].to_file(one, layer="regions")
    with_nulls = tmp / "null_ids.gpkg"
    nulls = regions.copy()
    nulls.loc[1, "region_id"] = None
    nulls.to_file(with_nulls, layer="regions")
    soc = cli_cfg / "soc_stock.tif"
    landcover = sample_dir / "LC_250m_ESACCI2010.tif"
    flags = ["--soc", soc, "--soc-units", "t C ha-1", "--landcover", landcover]
    flags += ["--landcover-scheme", "esa_cci_lc", "--regions", one, "--region-id", "region_id"]
    flags += ["--region-name", "region_name"]
    # An exclusion square inside the region; a compound 0.5 %/yr from 2018.
    mask = tmp / "exclude.gpkg"
    gpd.GeoDataFrame(geometry=[MASK_SQUARE], crs="EPSG:32637").to_file(mask, layer="exclude")
    scenario = ["--rate", "0.005", "--growth", "compound", "--start-year", "2018"]
    done = _soilmap(
        "run", *flags, "--exclude", mask, *scenario, "--out", cli_flags, "--progress", "none"
    )
    assert done.returncode == 0, done.stderr
    bad = _soilmap("run", *flags[:2], "--soc-units", "kg C m-2", *flags[4:], "--out", tmp / "b")
    # Rates the CLI refuses as unit slips: 40 %/yr, and a loss of 6 %/yr.
    slips = {
        rate: _soilmap("run", *flags[:4], "--rate", rate, "--out", tmp / f"c_slip{rate}")
        for rate in SLIPS.values()
    }
    cli_zonal = tmp / "cli_zonal.csv"
    done = _soilmap(
        "zonal", soc, "--regions", sample_dir / "tigray_regions.gpkg", "--region-id",
        "region_id", "--out", cli_zonal,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli_gsocseq = tmp / "cli_gsocseq"
    done = _soilmap(
        "gsocseq", BHUTAN, "--regions", BHUTAN_REGIONS, "--region-id", "id", "--out",
        cli_gsocseq, "--progress", "none",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Points on two valid cells, one nodata cell and one outside, for soilmap:sample.
    with rasterio.open(soc) as src:
        rows, cols = np.nonzero(src.read(1, masked=True).mask)
        xy = [src.xy(10, 20), src.xy(100, 150), src.xy(rows[0], cols[0])]
        xy.append((src.bounds.left - 5000.0, src.bounds.top + 5000.0))
        crs = src.crs.to_wkt()
    x, y = (np.array(v) for v in zip(*xy, strict=True))
    points = gpd.GeoDataFrame(
        {"pid": ["a", "b", "nd", "out"]}, geometry=gpd.points_from_xy(x, y), crs=crs
    )
    points.to_file(tmp / "points.gpkg", layer="points")
    points[points["pid"] != "b"].to_file(tmp / "points_selected.gpkg", layer="points")
    cli_sample = tmp / "cli_sample.csv"
    sampled = [soc, cli_cfg / "sequestration_rate.tif"]
    done = _soilmap(
        "sample", *sampled, "--points", tmp / "points_selected.gpkg", "--id", "pid", "--out",
        cli_sample,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    qgis_cfg, qgis_flags = tmp / "qgis_config", tmp / "qgis_flags"
    png = tmp / "qgis_run.png"
    # A raster QGIS reads but soilmap gets as an exported GeoTIFF (not a plain file).
    zipped = tmp / "soc.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.write(soc, "soc_stock.tif")
    fields = {
        "SOC": str(soc),
        "SOC_UNITS": 1,  # t C ha-1
        "LANDCOVER": str(landcover),
        "SCHEME": 1,  # esa_cci_lc
        "REGION_ID": "region_id",
        "REGION_NAME": "region_name",
    }
    # SOC of one region, no land cover: the quickest run that has a table to check.
    loss = {k: fields[k] for k in ("SOC", "SOC_UNITS", "REGION_ID")} | {"REGIONS": str(one)}
    steps = {
        "config": {
            "algorithm": "soilmap:run",
            "parameters": {"CONFIG": str(config), "OUTPUT": str(qgis_cfg)},
            "render": str(png),
        },
        "fields": {
            "algorithm": "soilmap:run",
            "parameters": {
                **fields,
                "SCHEME_TABLE": str(ESA_CCI_TABLE),  # the preset's own table, as a file
                "RATE": 0.005,
                "GROWTH": 1,  # compound
                "START_YEAR": 2018,
                "OUTPUT": str(qgis_flags),
            },
            "raster_layers": {"SOC": f"/vsizip/{zipped}/soc_stock.tif"},
            "memory_layer_lists": {"EXCLUDE": [str(mask)]},
            "memory_layers": {
                "REGIONS": {
                    "path": str(sample_dir / "tigray_regions.gpkg"),
                    "select": "\"region_id\" = 'ET0104'",
                }
            },
        },
        "cancel": {
            "algorithm": "soilmap:run",
            "parameters": {"CONFIG": str(config), "OUTPUT": str(qgis_cfg), "OVERWRITE": True},
            "cancel_at": 71.0,  # in the write stage, with 6 of 7 COGs still to write
            "snapshot": str(qgis_cfg),
            "load": False,
        },
        "bad_units": {
            "algorithm": "soilmap:run",
            "parameters": {
                **fields,
                "SOC_UNITS": 3,  # kg C m-2: the values are t C ha-1
                "REGIONS": str(one),
                "OUTPUT": str(tmp / "q_bad"),
            },
        },
        "bad_cluster": {
            "algorithm": "soilmap:run",
            "parameters": {
                "CONFIG": str(config),
                "OUTPUT": str(tmp / "q_cluster"),
                "WORKERS": 2,
                "MEMORY_LIMIT": "4 parsecs",
            },
        },
        "raster_as_regions": {
            "algorithm": "soilmap:run",
            "parameters": {**fields, "REGIONS": str(soc), "OUTPUT": str(tmp / "q_r")},
        },
        "null_ids": {
            "algorithm": "soilmap:run",
            "parameters": {**fields, "REGIONS": str(with_nulls), "OUTPUT": str(tmp / "q_n")},
        },
        "loss": {
            "algorithm": "soilmap:run",
            "parameters": {**loss, "RATE": LOSS_RATE, "OUTPUT": str(tmp / "q_loss")},
            "load": False,
        },
        **{
            step: {
                "algorithm": "soilmap:run",
                "parameters": {**loss, "RATE": float(rate), "OUTPUT": str(tmp / f"q_{step}")},
            }
            for step, rate in SLIPS.items()
        },
        "zonal": {
            "algorithm": "soilmap:zonal",
            "parameters": {
                "RASTERS": [str(soc)],
                "REGIONS": str(sample_dir / "tigray_regions.gpkg"),
                "REGION_ID": "region_id",
                "OUTPUT": str(tmp / "qgis_zonal.csv"),
            },
        },
        "gsocseq": {
            "algorithm": "soilmap:gsocseq",
            "parameters": {
                "FOLDER": str(BHUTAN),
                "REGIONS": str(BHUTAN_REGIONS),
                "REGION_ID": "id",
                "OUTPUT": str(tmp / "qgis_gsocseq"),
            },
        },
        "sample": {
            "algorithm": "soilmap:sample",
            "parameters": {
                "RASTERS": [str(p) for p in sampled],
                "ID": "pid",
                "OUTPUT": str(tmp / "qgis_sample.csv"),
            },
            "memory_layers": {
                "POINTS": {"path": str(tmp / "points.gpkg"), "select": "\"pid\" <> 'b'"}
            },
        },
    }
    task = {
        "plugin_dir": str(PLUGIN_DIR),
        "executable": str(SOILMAP),
        "steps": list(steps.values()),
    }
    (tmp / "task.json").write_text(json.dumps(task))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp)}
    env["HOME"] = str(tmp)  # QGIS settings of the test only, not the user's profile
    done = subprocess.run(
        [QGIS_PYTHON, str(DRIVER), str(tmp / "task.json"), str(tmp / "result.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp / "result.json").read_text())
    assert "driver_error" not in record, record["driver_error"]
    record["names"] = list(steps)
    record["paths"] = {
        "tmp": tmp,
        "cli_cfg": cli_cfg,
        "cli_flags": cli_flags,
        "qgis_cfg": qgis_cfg,
        "qgis_flags": qgis_flags,
        "cli_zonal": cli_zonal,
        "qgis_zonal": tmp / "qgis_zonal.csv",
        "png": png,
        "cli_gsocseq": cli_gsocseq,
        "qgis_gsocseq": tmp / "qgis_gsocseq",
        "cli_cfg_table": cli_cfg / "zonal_stats.csv",
        "cli_sample": cli_sample,
        "qgis_sample": tmp / "qgis_sample.csv",
        "soc": soc,
    }
    record["cli_bad"] = bad
    record["cli_slips"] = slips
    return record


def test_provider_offers_the_algorithms(session):
    assert {"soilmap:run", "soilmap:zonal", "soilmap:gsocseq"} <= set(session["algorithms"])
    sample_cli = _soilmap("sample", "--help").returncode == 0
    assert ("soilmap:sample" in session["algorithms"]) == sample_cli


@pytest.mark.parametrize(("step", "qgis", "cli"), [
    ("config", "qgis_cfg", "cli_cfg"),
    ("fields", "qgis_flags", "cli_flags"),
])  # fmt: skip
def test_run_outputs_are_bit_identical_to_the_cli(session, step, qgis, cli):
    record = _step(session, step)
    assert record["ok"], _log_text(record)
    q, c = session["paths"][qgis], session["paths"][cli]
    for name in RASTERS:
        assert _pixels(q / name) == _pixels(c / name), name
    tq = pd.read_csv(q / "zonal_stats.csv")
    tc = pd.read_csv(c / "zonal_stats.csv")
    pd.testing.assert_frame_equal(tq, tc, check_exact=True)
    for column in TOTALS:
        assert tq[column].sum() == tc[column].sum() > 0


def test_layers_soilmap_cannot_read_are_exported(session):
    """A memory layer with one of two regions selected reached soilmap as one region; a
    raster inside a zip (/vsizip/) as a GeoTIFF; an exclusion mask in memory as a file:
    outputs equal the CLI's (test above)."""
    table = pd.read_csv(session["paths"]["qgis_flags"] / "zonal_stats.csv")
    assert set(table["region_id"]) == {"ET0104"}
    log = _log_text(_step(session, "fields"))
    assert "[regions]" in log and "soilmap_run.toml" in log
    assert "soc_stock: exported to" in log
    assert "exclude0_in_memory: exported to" in log


def test_run_fields_reach_the_engine(session):
    """Exclusion mask, class-table file, rate, growth and start year of the form: the
    10 000 ha square is excluded (less what was excluded already), the rate is 0.5 %/yr
    compound from 2018, checked on the table against the config run's (0.4 %, linear)."""
    table = pd.read_csv(session["paths"]["qgis_flags"] / "zonal_stats.csv")
    base = pd.read_csv(session["paths"]["cli_cfg_table"])
    base = base[base["region_id"] == "ET0104"]

    def excluded(t: pd.DataFrame) -> float:
        return float(t.loc[t["landuse"] == "excluded", "area_ha"].sum())

    # The square held no excluded cell before: its whole geodesic area is added.
    square = gpd.GeoSeries([MASK_SQUARE.segmentize(100.0)], crs="EPSG:32637").to_crs(4326)
    area_ha = abs(Geod(ellps="WGS84").geometry_area_perimeter(square[0])[0]) / 1e4
    assert 10_000.0 < area_ha < 10_010.0  # 10 km x 10 km, UTM scale factor < 1
    assert excluded(table) - excluded(base) == pytest.approx(area_ha, rel=1e-6)
    eligible = table[table["eligible"] & (table["landuse"] != "all")]
    expected = base[base["eligible"] & (base["landuse"] != "all")]
    assert set(eligible["landuse"]) == set(expected["landuse"]) and len(eligible) >= 3
    assert set(eligible["rate_per_yr"]) == {0.005}
    stock = eligible["soc_stock_t"]
    # Compound growth: gain at 2030 = S (1.005^12 - 1), at 2050 = S (1.005^32 - 1).
    np.testing.assert_allclose(eligible["gain_2030_t"], stock * (1.005**12 - 1), rtol=1e-5)
    np.testing.assert_allclose(eligible["gain_2050_t"], stock * (1.005**32 - 1), rtol=1e-5)
    log = _log_text(_step(session, "fields"))
    assert f'scheme = "{ESA_CCI_TABLE}"' in log


def test_progress_reaches_100_through_the_feedback(session):
    progress = _step(session, "config")["run_progress"]
    assert progress[-1] == 100.0
    assert progress == sorted(progress)
    assert len({p for p in progress if 0 < p < 100}) >= 5  # stages and COGs, not a jump


def test_cancel_halfway_leaves_the_output_folder_as_it_was(session):
    record = _step(session, "cancel")
    log = _log_text(record)
    assert record["ok"] is False
    assert "cancel at" in log and "soilmap write" in log
    assert "soilmap stopped on Cancel" in log
    assert record["after"] == record["before"]  # sha256 of every file, same names
    assert not [n for n in record["after"] if ".soilmap-staging-" in n]
    assert not list(session["paths"]["qgis_cfg"].glob(".soilmap-staging-*"))


def test_bad_input_shows_the_soilmap_error_in_the_log(session):
    record = _step(session, "bad_units")
    cli = session["cli_bad"]
    assert cli.returncode == 1
    message = cli.stderr.strip().splitlines()[-1].removeprefix("Error: ")
    assert message.startswith("UnitsError: stock 'soc_stock.tif' is declared in 'kg C m-2'")
    errors = [text for kind, text in record["log"] if kind == "error"]
    assert record["ok"] is False
    assert any(message in e for e in errors), errors
    assert not any("Traceback" in e for e in errors)


@pytest.mark.parametrize(("step", "expected"), [
    ("raster_as_regions", "is a raster layer"),
    ("null_ids", "field 'region_id' is NULL or empty for 1 feature(s)"),
])  # fmt: skip
def test_wrong_fields_are_refused_before_the_engine_starts(session, step, expected):
    record = _step(session, step)
    ok, message = record["checked"]
    assert ok is False and expected in message
    assert "ok" not in record  # never run
    assert not [text for kind, text in record["log"] if kind == "command"]


def _qml_renderer(qml: Path) -> str:
    return ET.parse(qml).getroot().find(".//rasterrenderer").get("type")


def test_results_are_loaded_with_their_styles(session):
    layers = {x["name"]: x for x in _step(session, "config")["layers"]}
    out = session["paths"]["qgis_cfg"]
    for name in RASTERS:
        stem = name.removesuffix(".tif")
        assert layers[stem]["valid"]
        assert layers[stem]["renderer"] == _qml_renderer(out / f"{stem}.qml"), stem
    assert layers["landuse"]["renderer"] == "paletted"
    assert layers["sequestration_rate"]["visible"]
    assert layers["zonal_stats"]["valid"]


def _default_style_renderer(gpkg: Path, layer: str) -> str | None:
    with sqlite3.connect(gpkg) as db:
        row = db.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = ? AND useAsDefault",
            (layer,),
        ).fetchone()
    return ET.fromstring(row[0]).find(".//renderer-v2").get("type") if row else None


def test_zonal_geopackage_layers_are_styled(session):
    layers = {x["name"]: x for x in _step(session, "config")["layers"]}
    gpkg = session["paths"]["qgis_cfg"] / "zonal_stats.gpkg"
    assert layers["zonal_stats"]["renderer"] == _default_style_renderer(gpkg, "zonal_stats")
    assert layers["regions"]["renderer"] == _default_style_renderer(gpkg, "regions")
    assert layers["regions"]["renderer"] == "graduatedSymbol"
    assert layers["regions"]["labels"] and layers["regions"]["valid"]
    # The choropleth is above the rasters but unticked: its fills would hide the map.
    assert layers["regions"]["tree_index"] < layers["sequestration_rate"]["tree_index"]
    assert [n for n, x in layers.items() if x["visible"]] == ["sequestration_rate"]


def test_report_is_linked_in_the_log(session):
    record = _step(session, "config")
    report = session["paths"]["qgis_cfg"] / "report.html"
    assert report.is_file()
    assert f"soilmap report: {report.resolve().as_uri()}" in _log_text(record)
    assert record["results"]["REPORT"] == str(report)


def test_zonal_table_equals_the_cli(session):
    record = _step(session, "zonal")
    assert record["ok"], _log_text(record)
    tq = pd.read_csv(session["paths"]["qgis_zonal"])
    tc = pd.read_csv(session["paths"]["cli_zonal"])
    pd.testing.assert_frame_equal(tq, tc, check_exact=True)
    assert {x["name"] for x in record["layers"]} == {"qgis_zonal"}


def test_rendered_map_of_the_project(session):
    png = session["paths"]["png"]
    from PIL import Image

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # a colour ramp, not a blank or one-colour image
    if os.environ.get("SOILMAP_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)
    assert "docs/images/qgis_run.png" in (REPO / "README.md").read_text()
    # The README shows the map the tests render now (antialiasing may move a few pixels).
    with Image.open(SCREENSHOT) as image:
        readme = np.asarray(image.convert("RGB"))
    stale = "docs/images/qgis_run.png is stale: rerun with SOILMAP_UPDATE_SCREENSHOT=1"
    assert readme.shape == pixels.shape, stale
    differing = np.any(np.abs(readme.astype(int) - pixels.astype(int)) > 8, axis=-1)
    assert differing.mean() < 0.01, stale


def test_gsocseq_comparison_equals_the_cli(session):
    record = _step(session, "gsocseq")
    assert record["ok"], _log_text(record)
    q, c = session["paths"]["qgis_gsocseq"], session["paths"]["cli_gsocseq"]
    rasters = sorted(p.name for p in c.glob("*.tif"))
    assert "target_rate.tif" in rasters and "share_BAU.tif" in rasters
    assert sorted(p.name for p in q.glob("*.tif")) == rasters
    for name in rasters:
        assert _pixels(q / name) == _pixels(c / name), name
    pd.testing.assert_frame_equal(
        pd.read_csv(q / "gsocseq_comparison.csv"),
        pd.read_csv(c / "gsocseq_comparison.csv"),
        check_exact=True,
    )
    layers = {x["name"]: x for x in record["layers"]}
    for name in rasters:
        stem = name.removesuffix(".tif")
        assert layers[stem]["renderer"] == _qml_renderer(q / f"{stem}.qml"), stem
    assert [n for n, x in layers.items() if x["kind"] == "raster" and x["visible"]] == ["share_BAU"]
    assert "gsocseq_comparison" in layers


def test_point_sampling_equals_the_cli(session):
    """The selected points (a memory layer) give the CLI's table on the same points, and
    the values are the cells' values read with rasterio."""
    record = _step(session, "sample")
    assert record["ok"], _log_text(record)
    tq = pd.read_csv(session["paths"]["qgis_sample"])
    tc = pd.read_csv(session["paths"]["cli_sample"])
    pd.testing.assert_frame_equal(tq, tc, check_exact=True)
    assert list(tq["pid"]) == ["a", "nd", "out"]
    assert list(tq["soc_stock_status"]) == ["ok", "nodata", "outside"]
    with rasterio.open(session["paths"]["soc"]) as src:
        assert tq["soc_stock"][0] == pytest.approx(float(src.read(1)[10, 20]), rel=1e-9)
    assert tq["soc_stock"][1:].isna().all()
    assert {x["name"] for x in record["layers"]} >= {"qgis_sample"}


def test_negative_rates_are_losses(session):
    """The dialog takes a negative rate, a loss, as `soilmap run --rate -0.002` does: every
    eligible row loses 0.2 % of its stock a year, linearly from 2020 (by hand: 10 and 30
    years of it at 2030 and 2050)."""
    record = _step(session, "loss")
    assert record["checked"] == [True, ""]
    assert record["ok"], _log_text(record)
    assert f"rate = {LOSS_RATE!r}" in _log_text(record)  # the TOML soilmap was given
    table = pd.read_csv(session["paths"]["tmp"] / "q_loss" / "zonal_stats.csv")
    rows = table[table["eligible"]]
    assert len(rows) >= 1 and set(rows["rate_per_yr"]) == {LOSS_RATE}
    assert (rows["soc_stock_t"] > 0).all()
    loss = rows["sequestration_t_per_yr"]
    np.testing.assert_allclose(loss, LOSS_RATE * rows["soc_stock_t"], rtol=1e-8)
    np.testing.assert_allclose(rows["gain_2030_t"], 10 * loss, rtol=1e-8)
    np.testing.assert_allclose(rows["gain_2050_t"], 30 * loss, rtol=1e-8)


@pytest.mark.parametrize("step", SLIPS)
def test_rate_unit_slips_are_refused_as_by_the_cli(session, step):
    """|rate| > 0.05 per year: the dialog passes the number on and soilmap refuses it
    with the CLI's message (the same check, where soilmap reads the rate); nothing is
    written."""
    typed = SLIPS[step]
    cli = session["cli_slips"][typed]
    assert cli.returncode == 2  # a ConfigError (soilmap.errors.EXIT_CODES)
    message = cli.stderr.strip().splitlines()[-1]
    # "Error: ConfigError: command line: --rate = '0.4' is 0.4 per year, ... unit slip ..."
    assert message.startswith(f"Error: ConfigError: command line: --rate = '{typed}' is ")
    assert "unit slip" in message
    reading = message.split(" is ", 1)[1]
    record = _step(session, step)
    assert record["checked"] == [True, ""]
    errors = [text for kind, text in record["log"] if kind == "error"]
    assert record["ok"] is False
    assert any(
        "ConfigError: " in e and f"soilmap_run.toml: [scenario] rate = {typed} is {reading}" in e
        for e in errors
    ), errors
    assert not any("Traceback" in e for e in errors)
    out = session["paths"]["tmp"] / f"q_{step}"
    assert not out.exists() or not any(out.iterdir())


def test_cluster_options_reach_the_engine(session):
    """Workers and memory limit (advanced) are soilmap's flags; a memory limit soilmap
    refuses is its ConfigError in the log (checked before a cluster starts)."""
    record = _step(session, "bad_cluster")
    commands = [text for kind, text in record["log"] if kind == "command"]
    assert len(commands) == 1 and commands[0].endswith(
        "--workers 2 --memory-limit '4 parsecs' --progress json"
    ), commands
    errors = [text for kind, text in record["log"] if kind == "error"]
    expected = "ConfigError: memory limit '4 parsecs': write it like '2GB', '1.5GiB' or '800MB'."
    assert record["ok"] is False and any(expected in e for e in errors), errors
