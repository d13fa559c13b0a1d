"""The 4 ‰ target against FAO's GSOCseq scenarios, on real clips of two national maps.

``realdata.DATA / "gsocseq"`` holds a 260 × 200 km window of the Philippines' GloSIS COGs
(EPSG:32651) with eight admin-1 regions, and Bhutan's whole original submission
(EPSG:4326, with its −999 sentinel and T0 outliers); see ``tests/realdata.py``.  Every
expected value here is computed independently with rasterio, numpy, shapely and
pyproj, never with soilmap.
"""

from __future__ import annotations

import collections
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from pyproj import CRS, Geod, Proj, Transformer
from realdata import DATA

from soilmap.cli.gsocseq import command
from soilmap.errors import ConfigError, GridMismatchError, InputError, InputNotFoundError
from soilmap.gsocseq import (
    IDENTITY_TOLERANCE,
    _layer_key,
    check_identities,
    compare,
    discover_gsocseq,
    run_comparison,
)
from soilmap.testing import make_grid, raise_if_dask_computes, write_raster

PH = DATA / "gsocseq" / "philippines_luzon"
PH_REGIONS = DATA / "gsocseq" / "philippines_luzon_admin1.gpkg"
BT = DATA / "gsocseq" / "bhutan"
BT_REGIONS = DATA / "gsocseq" / "bhutan_admin1.gpkg"
SCENARIOS = ("BAU", "SSM1", "SSM2", "SSM3")
RATE = 0.004
GEOD = Geod(ellps="WGS84")

# FAO MapsCorrection ranges, written out again so the test does not trust the module.
KEEP = {
    "T0": lambda v: (v >= 0) & (v <= 800),
    "finalSOC": lambda v: (v >= 0) & (v <= 800),
    "ASR": lambda v: (v > -4) & (v <= 4),
    "RSR": lambda v: (v >= 0) & (v <= 4),
}


def ph_file(code: str) -> Path:
    return PH / f"PH-GSOC-CORG{code}-2021-0-30.tif"


def bt_file(layer: str) -> Path:
    return BT / f"Bhutan_GSOCseq_{layer}_Map030.tif"


def read(path: Path, kind: str | None = None) -> tuple[np.ndarray, rasterio.Affine, str]:
    """Band 1 as float64 with NaN for the declared nodata and, given ``kind``, FAO's rule."""
    with rasterio.open(path) as src:
        raw = src.read(1)
        values = np.where(raw == src.nodata, np.nan, raw.astype("float64"))
        transform, crs = src.transform, src.crs.to_wkt()
    if kind is not None:
        with np.errstate(invalid="ignore"):
            values = np.where(KEEP[kind](values), values, np.nan)
    return values, transform, crs


# ------------------------------------------------------------------------ discovery


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PH-GSOC-CORGT0-2021-0-30.tif", ("T0", "glosis")),
        ("BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", ("T0", "glosis")),
        ("BT-GSOCSEQ-CORGT0-2022-0-30-UNCT.tif", ("uncertainty_T0", "glosis")),
        ("PH-GSOC-CORGASRSSM2-2021-0-30.tif", ("ASR_SSM2", "glosis")),
        ("BT-GSOCSEQ-CORGSOCBAU-2022-0-30-MEAN.tif", ("finalSOC_BAU", "glosis")),
        ("PH-GSOC-CORGRSRSSM1U-2021-0-30.tif", ("uncertainty_RSR_SSM1", "glosis")),
        ("PH-GSOC-CORGSSMU-2021-0-30.tif", ("uncertainty_SSM", "glosis")),
        ("PH-GSOC-CORGRDSSM3-2021-0-30.tif", ("RelDiff_SSM3", "glosis")),
        ("Bhutan_GSOCseq_T0_Map030.tif", ("T0", "national")),
        ("Sri_Lanka_GSOCseq_finalSOC_SSM1_Map030.tif", ("finalSOC_SSM1", "national")),
        ("PHL_GSOCseq_RSR_SSM3_Map030.tif", ("RSR_SSM3", "national")),
        ("PHL_GSOCseq_RSR_SSM1_UncertaintyMap030.tif", ("uncertainty_RSR_SSM1", "national")),
        ("Bhutan_GSOCseq_SSM_UncertaintyMap030.tif", ("uncertainty_SSM", "national")),
        ("PHL_GSOCseq_T0_Map100.tif", None),
        ("notes.tif", None),
    ],
)
def test_layer_names_of_both_conventions(name, expected):
    assert _layer_key(name) == expected


@pytest.mark.realdata
def test_discover_reports_what_each_folder_holds():
    ph = discover_gsocseq(PH)
    assert ph.scenarios == SCENARIOS and ph.conventions == ("glosis",)
    assert set(ph.final_soc) == set(SCENARIOS) and not ph.rsr
    assert ph.files["uncertainty_SSM"].name == "PH-GSOC-CORGSSMU-2021-0-30.tif"
    assert len(ph.input_paths()) == 9  # T0, 4 final SOC, 4 ASR: not the uncertainty
    bt = discover_gsocseq(BT)
    assert bt.conventions == ("national",) and set(bt.rsr) == {"SSM1", "SSM2", "SSM3"}
    assert "uncertainty_T0" in bt.describe()["layers"]
    assert ph.t0.attrs["units"] == "t C ha-1" and bt.asr["BAU"].attrs["units"] == "t C ha-1 yr-1"
    assert ph.t0.dtype == np.float32 and ph.t0.rio.crs.to_epsg() == 32651


@pytest.mark.realdata
@pytest.mark.parametrize("chunks", [None, (64, 96), (37, 50)])
def test_discover_compare_and_checks_stay_lazy(chunks):
    with raise_if_dask_computes():
        layers = discover_gsocseq(BT, chunks=chunks)
        maps = compare(layers)
        checks = check_identities(layers)
    assert all(dask.is_dask_collection(m) for m in maps.values())
    assert dask.is_dask_collection(checks["ASR_BAU"]["max_abs_error"])
    if chunks:
        assert maps["share_SSM1"].data.chunksize == chunks
        assert layers.asr["SSM3"].data.chunks == layers.t0.data.chunks


@pytest.mark.realdata
def test_nodata_of_both_conventions_becomes_nan():
    ph, bt = discover_gsocseq(PH), discover_gsocseq(BT)
    raw_ph, _, _ = read(ph_file("T0"))  # nodata -1
    raw_bt, _, _ = read(bt_file("T0"))  # nodata -3.4e38
    assert np.array_equal(np.isnan(ph.t0.values), np.isnan(raw_ph))
    bt_t0 = bt.t0.values
    assert np.isnan(bt_t0[np.isnan(raw_bt)]).all()
    assert np.nanmax(bt_t0) <= 800 and np.nanmin(bt_t0) >= 0


@pytest.mark.realdata
def test_bhutan_cleaning_counts_match_numpy():
    layers = discover_gsocseq(BT, chunks=(64, 96))
    (counts,) = dask.compute(dict(layers.cleaning))
    for key in ("T0", "ASR_BAU", "ASR_SSM3", "finalSOC_BAU", "finalSOC_SSM2", "RSR_SSM2"):
        kind = key.split("_")[0]
        raw, _, _ = read(bt_file(key))
        with np.errstate(invalid="ignore"):
            removed = int((np.isfinite(raw) & ~KEEP[kind](raw)).sum())
        assert counts[key]["removed_cells"] == removed, key
        assert counts[key]["kept_cells"] == int(np.isfinite(raw).sum()) - removed, key
    # What the numbers are: the 15 T0 outliers (1.3e3 … 5.1e9 t C/ha) and the −999
    # sentinel of the final stocks.
    assert counts["T0"]["removed_cells"] == 15
    assert counts["finalSOC_BAU"]["removed_cells"] == 1093


# ----------------------------------------------------------------------- identities


@pytest.mark.realdata
@pytest.mark.parametrize("folder", [PH, BT], ids=["philippines", "bhutan"])
def test_gsocseq_identities_hold_to_float32_precision(folder):
    """ASR × 20 = finalSOC − T0 and RSR × 20 = finalSOC_SSMk − finalSOC_BAU, 1e-4 t C/ha.

    The three float32 values are rounded apart: 20·ulp(ASR ≤ 4)/2 + 2·ulp(stock ≤ 800)/2
    ≈ 6.6e-5 t C/ha is the worst case storage explains.
    """
    layers = discover_gsocseq(folder)
    (checks,) = dask.compute(check_identities(layers))
    expected = {f"ASR_{s}" for s in SCENARIOS}
    if folder == BT:
        expected |= {"RSR_SSM1", "RSR_SSM2", "RSR_SSM3"}
    assert set(checks) == expected
    for name, check in checks.items():
        assert check["cells"] > 5000, name
        assert check["max_abs_error"] <= IDENTITY_TOLERANCE == 1e-4, (name, check)


@pytest.mark.realdata
def test_bhutan_raw_files_need_the_cleaning():
    """Raw, the −999 sentinel gives ASR ≈ −50 t C/ha/yr and the T0 outliers (up to
    5.1e9 t C/ha) break the identity by float rounding alone; FAO's rule removes both."""
    t0, _, _ = read(bt_file("T0"))
    asr, _, _ = read(bt_file("ASR_BAU"))
    final, _, _ = read(bt_file("finalSOC_BAU"))
    assert np.nanmin(asr) < -40 and np.nanmax(t0) > 1e9
    assert np.nanmax(np.abs(asr * 20 - (final - t0))) > 1.0
    t0 = read(bt_file("T0"), "T0")[0]
    asr = read(bt_file("ASR_BAU"), "ASR")[0]
    final = read(bt_file("finalSOC_BAU"), "finalSOC")[0]
    assert np.nanmax(np.abs(asr * 20 - (final - t0))) < 1e-4


# -------------------------------------------------------------------- pixel shares


@pytest.mark.realdata
@pytest.mark.parametrize("chunks", [None, (64, 96)])
def test_pixel_shares_match_numpy_on_hand_picked_pixels(chunks):
    maps = compare(discover_gsocseq(PH, chunks=chunks))
    t0 = read(ph_file("T0"))[0]
    computed = {k: maps[k].values for k in ("target_rate", "share_BAU", "share_SSM3", "rsr_SSM2")}
    for row, col in [(0, 92), (52, 184), (100, 130), (150, 40)]:
        assert np.isfinite(t0[row, col]) and t0[row, col] > 0
        target = RATE * t0[row, col]
        np.testing.assert_allclose(computed["target_rate"][row, col], target, rtol=1e-6)
        for sc in ("BAU", "SSM3"):
            asr = read(ph_file(f"ASR{sc}"))[0][row, col]
            np.testing.assert_allclose(computed[f"share_{sc}"][row, col], asr / target, rtol=1e-6)
        ssm2, bau = read(ph_file("SOCSSM2"))[0], read(ph_file("SOCBAU"))[0]
        rsr = (ssm2[row, col] - bau[row, col]) / 20
        np.testing.assert_allclose(computed["rsr_SSM2"][row, col], rsr, rtol=1e-5, atol=1e-7)
    assert computed["share_BAU"][0, 92] < 0  # losing carbon under BAU
    # T0 = 0 (45 cells of the clip): target 0, share undefined, not infinite.
    assert t0[3, 76] == 0 and computed["target_rate"][3, 76] == 0
    assert np.isnan(computed["share_BAU"][3, 76])
    assert np.isnan(computed["share_BAU"][0, 0]) and np.isnan(t0[0, 0])  # nodata
    assert maps["share_BAU"].attrs["units"] == "1"
    assert maps["target_rate"].attrs["units"] == "t C ha-1 yr-1"
    assert "4 per 1000" in maps["target_rate"].attrs["long_name"]


# ------------------------------------------------------------- regional, independent


def _cell_areas_ha(transform, crs_wkt: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Ground area of cells: geodesic polygons per row on lon/lat grids; otherwise the
    planar area divided by PROJ's areal scale at the cell centre (exact to ~1e-10 for
    1 km UTM cells, where the scale varies by ~1e-8 per km)."""
    crs = CRS.from_wkt(crs_wkt)
    if crs.is_geographic:
        lon = [transform.c, transform.c + transform.a] * 2
        by_row = {}
        for r in np.unique(rows):
            top, bottom = transform.f + transform.e * r, transform.f + transform.e * (r + 1)
            lat = [top, top, bottom, bottom]
            ring = ([lon[0], lon[1], lon[1], lon[0]], lat)
            by_row[r] = abs(GEOD.polygon_area_perimeter(*ring)[0]) / 1e4
        return np.array([by_row[r] for r in rows])
    x, y = transform @ (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y)
    scale = Proj(crs).get_factors(lon, lat).areal_scale
    return abs(transform.a * transform.e) / scale / 1e4


def _independent_region_sums(
    regions_4326: gpd.GeoDataFrame, layers: dict[str, np.ndarray], transform, crs_wkt
) -> pd.DataFrame:
    """Σ ha and Σ layer × ha per region over cells where every layer has data.

    Coverage is the exact share of each cell box inside the polygon (shapely), after
    repairing invalid polygons and densifying edges to 0.001° before projecting.
    """
    valid = np.logical_and.reduce([np.isfinite(v) for v in layers.values()])
    rr, cc = np.nonzero(valid)
    left, top = transform @ (cc, rr)
    right, bottom = transform @ (cc + 1, rr + 1)
    boxes = shapely.box(left, bottom, right, top)
    geoms = shapely.segmentize(shapely.make_valid(regions_4326.geometry.values), 0.001)
    rows_out = []
    for geom in gpd.GeoSeries(geoms, crs=4326).to_crs(crs_wkt).values:
        shapely.prepare(geom)
        hit = np.nonzero(shapely.intersects(geom, boxes))[0]
        frac = np.ones(hit.size)
        edge = ~shapely.contains(geom, boxes[hit])  # only border cells need the clip
        cut = boxes[hit][edge]
        frac[edge] = shapely.area(shapely.intersection(cut, geom)) / shapely.area(cut)
        weight = frac * _cell_areas_ha(transform, crs_wkt, rr[hit], cc[hit])
        sums = {"area_ha": weight.sum()}
        sums |= {k: (v[rr[hit], cc[hit]] * weight).sum() for k, v in layers.items()}
        rows_out.append(sums)
    return pd.DataFrame(rows_out)


@pytest.fixture(scope="module")
def ph_run(tmp_path_factory) -> tuple[Path, str]:
    """The Philippines comparison, run once from the CLI: (output folder, stdout)."""
    out = tmp_path_factory.mktemp("ph") / "out"
    args = [str(PH), "--regions", str(PH_REGIONS), "--region-id", "id"]
    args += ["--region-name", "name", "--out", str(out)]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    return out, result.output


def _ph_table(out: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(out / "gsocseq_comparison.gpkg", layer="gsocseq_comparison")


@pytest.mark.realdata
def test_regional_share_matches_an_independent_exact_computation(ph_run):
    out, _ = ph_run
    t0, transform, crs_wkt = read(ph_file("T0"), "T0")
    layers = {"t0": t0}
    for sc in SCENARIOS:
        layers[f"asr_{sc}"] = read(ph_file(f"ASR{sc}"), "ASR")[0]
        # The table also sums the derived RSR, so cells need the final stocks too.
        layers[f"final_{sc}"] = read(ph_file(f"SOC{sc}"), "finalSOC")[0]
    regions = gpd.read_file(PH_REGIONS)
    expected = _independent_region_sums(regions, layers, transform, crs_wkt)
    expected = expected.set_index(regions["id"].to_numpy())
    table = _ph_table(out)
    for sc in SCENARIOS:
        got = table[table["scenario"] == sc].set_index("region_id")
        exp = expected.loc[got.index]
        share = exp[f"asr_{sc}"] / (RATE * exp["t0"])
        np.testing.assert_allclose(got["share_of_target"], share, rtol=1e-6)
        np.testing.assert_allclose(got["area_ha"], exp["area_ha"], rtol=1e-6)
        np.testing.assert_allclose(got["t0_stock_t"], exp["t0"], rtol=1e-6)
        np.testing.assert_allclose(got["modelled_t_per_yr"], exp[f"asr_{sc}"], rtol=1e-6)
        if sc != "BAU":
            rel = (exp[f"final_{sc}"] - exp["final_BAU"]) / 20
            np.testing.assert_allclose(got["modelled_relative_t_per_yr"], rel, rtol=1e-5)
            # issue 15: what management adds beyond BAU, against the same numpy sums
            added = (exp[f"asr_{sc}"] - exp["asr_BAU"]) / (RATE * exp["t0"])
            col = f"additional_share_of_target_{sc}"
            np.testing.assert_allclose(got[col], added, rtol=1e-5, atol=1e-9)
    # The regional ratio of sums is not a mean of pixel ratios (BAU: 0.037 vs 0.043).
    totals = json.loads((out / "run.json").read_text())["totals"]
    pixel_mean = np.nanmean(layers["asr_BAU"] / (RATE * np.where(t0 > 0, t0, np.nan)))
    assert abs(totals[0]["share_of_target"] / pixel_mean - 1) > 0.1


@pytest.fixture(scope="module")
def bt_run(tmp_path_factory):
    """Bhutan, chunked, run once with every block read and every dask compute counted."""
    reads: collections.Counter = collections.Counter()
    original = rasterio.io.DatasetReader.read

    def counting_read(self, *args, **kwargs):
        if Path(self.name).parent.resolve() != BT.resolve():
            return original(self, *args, **kwargs)  # the report reading the outputs
        reads[(Path(self.name).name, str(kwargs.get("window")))] += 1
        return original(self, *args, **kwargs)

    out = tmp_path_factory.mktemp("bt") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rasterio.io.DatasetReader, "read", counting_read)
        with raise_if_dask_computes(max_computes=10_000) as scheduler:
            result = run_comparison(BT, BT_REGIONS, id_field="id", out_dir=out, chunks=(64, 96))
    return result, reads, scheduler.total


@pytest.mark.realdata
def test_bhutan_national_totals_match_numpy_after_cleaning(bt_run):
    result, _, _ = bt_run
    t0, transform, crs_wkt = read(bt_file("T0"), "T0")
    layers = {"t0": t0}
    layers |= {f"asr_{s}": read(bt_file(f"ASR_{s}"), "ASR")[0] for s in SCENARIOS}
    layers |= {f"rsr_{s}": read(bt_file(f"RSR_{s}"), "RSR")[0] for s in SCENARIOS[1:]}
    valid = np.logical_and.reduce([np.isfinite(v) for v in layers.values()])
    rows, cols = np.nonzero(valid)
    area = _cell_areas_ha(transform, crs_wkt, rows, cols)
    sums = {k: (v[rows, cols] * area).sum() for k, v in layers.items()}
    totals = result.totals.set_index("scenario")
    np.testing.assert_allclose(totals["area_ha"], area.sum(), rtol=1e-7)
    for sc in SCENARIOS:
        share = sums[f"asr_{sc}"] / (RATE * sums["t0"])
        np.testing.assert_allclose(totals.loc[sc, "share_of_target"], share, rtol=1e-6)
    rel = totals.loc["SSM2", "modelled_relative_t_per_yr"]
    np.testing.assert_allclose(rel, sums["rsr_SSM2"], rtol=1e-6)
    # Issue 15: BAU alone reaches ~196 % of the target; what SSM adds is (SSM − BAU).
    target = RATE * sums["t0"]
    assert sums["asr_BAU"] / target == pytest.approx(1.96, abs=0.01)
    added = {}
    for sc in SCENARIOS[1:]:
        added[sc] = (sums[f"asr_{sc}"] - sums["asr_BAU"]) / target
        col = f"additional_share_of_target_{sc}"
        np.testing.assert_allclose(totals[col], added[sc], rtol=1e-6)
    # the 23 / 46 / 92 %
    np.testing.assert_allclose([added[s] for s in SCENARIOS[1:]], [0.23, 0.46, 0.92], atol=0.01)
    # per region, against numpy over each region's cells
    t = result.table[result.table["scenario"] == "SSM3"].set_index("region_id")
    row = t.iloc[int(np.argmax(t["area_ha"].to_numpy()))]
    assert np.isfinite(row["additional_share_of_target_SSM3"])
    ref = result.table.set_index(["region_id", "scenario"])
    bau = ref.loc[(row.name, "BAU"), "modelled_t_per_yr"]
    expected = (row["modelled_t_per_yr"] - bau) / row["target_t_per_yr"]
    assert row["additional_share_of_target_SSM3"] == pytest.approx(expected, rel=1e-9)
    # Nothing of the −999 sentinel leaks into the sums: |ASR| ≤ 4 t C/ha/yr.
    assert (result.table["modelled_t_per_yr"].abs() <= 4 * result.table["area_ha"]).all()
    left_out = int((np.isfinite(t0) & ~valid).sum())
    assert result.manifest["compared_cells"]["t0_cells_left_out"] == left_out
    assert result.manifest["cleaning"]["T0"]["removed_cells"] == 15


@pytest.mark.realdata
def test_one_dask_compute_per_window(bt_run):
    """The comparison runs window by window, like ``soilmap run``: one compute each."""
    import os

    from soilmap.pipeline.execute import windows

    t0 = discover_gsocseq(BT, chunks=(64, 96)).t0
    expected = len(windows(t0.chunks, per_window=2 * (os.cpu_count() or 1)))
    assert expected > 1
    assert bt_run[2] == expected


@pytest.mark.realdata
def test_blocks_outside_the_maps_are_read_once(bt_run):
    """Zonal sums, totals, identity checks and cleaning counts share every block read."""
    reads = bt_run[1]
    assert len({name for name, _ in reads}) == 12  # never the uncertainty map
    final = {k: v for k, v in reads.items() if "finalSOC" in k[0]}
    assert len(final) == 4 * 3 * 5 and set(final.values()) == {1}  # 4 files × 15 chunks


@pytest.mark.realdata
def test_every_input_block_is_read_once(bt_run):
    reads = bt_run[1]
    assert max(reads.values()) == 1, {k: v for k, v in reads.items() if v > 1}


# ------------------------------------------------------------------------------ CLI


@pytest.mark.realdata
def test_cli_philippines_end_to_end(ph_run):
    out, output = ph_run
    for sc in SCENARIOS:
        assert f"{sc} " in output
    assert "% of the target" in output

    stems = ["target_rate", *(f"share_{s}" for s in SCENARIOS)]
    stems += [f"additional_share_of_target_{s}" for s in SCENARIOS[1:]]
    expected = {f"{s}{e}" for s in stems for e in (".tif", ".qml")}
    expected |= {f"gsocseq_comparison.{e}" for e in ("gpkg", "csv", "csvt")} | {"run.json"}
    expected |= {"report.html", "figures"}  # the report: tests/report/test_gsocseq_report.py
    assert {p.name for p in out.iterdir()} == expected  # no staging folder, no .aux.xml

    t0 = read(ph_file("T0"))[0]
    for stem in stems:
        with rasterio.open(out / f"{stem}.tif") as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.block_shapes[0] == (512, 512) and src.overviews(1) == [2]
            assert src.nodata == -9999 and src.crs.to_epsg() == 32651
            assert src.units[0] == ("t C ha-1 yr-1" if stem == "target_rate" else "1")
            assert src.tags()["rate"] == "0.004" and src.descriptions[0]
            values = src.read(1, masked=True)
        if stem == "target_rate":
            np.testing.assert_allclose(values[52, 184], RATE * t0[52, 184], rtol=1e-6)
        if stem.startswith("additional_share_of_target_"):
            # independently in numpy: (ASR_SSM − ASR_BAU) / (0.004 × T0)
            ssm = read(ph_file(f"ASR{stem.rsplit('_', 1)[1]}"))[0]
            bau = read(ph_file("ASRBAU"))[0]
            with np.errstate(invalid="ignore", divide="ignore"):
                ref = (ssm - bau) / (RATE * np.where(t0 > 0, t0, np.nan))
            ok = ~values.mask & np.isfinite(ref)
            assert ok.sum() > 1000
            np.testing.assert_allclose(values.data[ok], ref[ok], rtol=1e-4, atol=1e-6)
        assert values.mask[0, 0]
        ET.parse(out / f"{stem}.qml")

    table = _ph_table(out)
    columns = ["region_id", "region_name", "scenario", "area_ha", "t0_stock_t"]
    columns += ["target_t_per_yr", "modelled_t_per_yr", "share_of_target"]
    columns += ["modelled_relative_t_per_yr"]
    columns += [f"additional_share_of_target_{s}" for s in SCENARIOS[1:]]
    columns += ["region_area_ha", "covered_share", "extent_share"]
    assert list(table.columns) == [*columns, "geometry"]
    assert len(table) == 8 * 4 and set(table["scenario"]) == set(SCENARIOS)
    # The unnamed feature is named by its id; Aurora's invalid polygon was repaired.
    assert table.loc[table["region_id"] == "-99", "region_name"].iloc[0] == "-99"
    np.testing.assert_allclose(table["target_t_per_yr"], RATE * table["t0_stock_t"])
    assert table.loc[table["scenario"] == "BAU", "modelled_relative_t_per_yr"].isna().all()
    aurora = table[table["region_id"] == "PH.AU"].iloc[0]
    assert 0 < aurora["covered_share"] < 1  # partly outside the clip

    csv = pd.read_csv(out / "gsocseq_comparison.csv")
    assert list(csv.columns) == columns
    csvt = (out / "gsocseq_comparison.csvt").read_text().strip().split(",")
    assert csvt[:3] == ['"String"'] * 3 and set(csvt[3:]) == {'"Real"'}

    manifest = json.loads((out / "run.json").read_text())
    assert len(manifest["inputs"]) == 10
    assert all(len(i["sha256"]) == 64 and i["size_bytes"] > 0 for i in manifest["inputs"])
    assert manifest["parameters"]["rate"] == RATE
    assert all(v["holds"] for v in manifest["identities"].values())
    assert manifest["cleaning"]["T0"]["removed_cells"] == 0
    assert manifest["regions"]["repaired"] == ["PH.AU"]
    assert manifest["software"]["soilmap"] and manifest["software"]["gdal"]
    assert manifest["outputs"]["share_SSM1.tif"]["units"] == "1"


def test_cli_maps_arguments_to_run_comparison(monkeypatch, tmp_path):
    seen = {}

    def fake_run(folder, regions, **kwargs):
        seen.update(folder=folder, regions=regions, **kwargs)
        raise InputError("stop here")

    monkeypatch.setattr("soilmap.cli.gsocseq.run_comparison", fake_run)
    args = [
        "F",
        "--regions",
        "r.gpkg",
        "--region-id",
        "code",
        "--region-name",
        "nm",
        "--regions-crs",
        "EPSG:4326",
        "--rate",
        "0.002",
        "--emissions-field",
        "em",
        "--out",
        str(tmp_path),
        "--overwrite",
        "--compress",
        "zstd",
        "--duplicate-ids",
        "suffix",
        "--workers",
        "2",
        "--memory-limit",
        "1GB",
    ]
    result = CliRunner().invoke(command, args)
    assert isinstance(result.exception, InputError)  # SoilmapErrors propagate to the group
    assert seen == {
        "folder": Path("F"),
        "regions": Path("r.gpkg"),
        "id_field": "code",
        "name_field": "nm",
        "regions_crs": "EPSG:4326",
        "out_dir": tmp_path,
        "overwrite": True,
        "rate": 0.002,
        "emissions_field": "em",
        "duplicate_ids": "suffix",
        "compress": "zstd",
        "progress": False,
        "scheduler": None,
        "workers": 2,
        "memory_limit": "1GB",
    }


# ----------------------------------------------------------------- emissions offsets


def _tiny_case(tmp_path: Path) -> tuple[Path, Path]:
    """4 × 4 cells of exactly 100 ha (LAEA), T0 = 50, ASR 0.1 (BAU) and 0.3 (SSM1)."""
    grid = make_grid((4, 4), crs="EPSG:3035", res=1000.0, origin=(4_000_000.0, 3_000_000.0))
    nodata = float(np.float32(-3.4e38))
    t0 = np.full((4, 4), 50.0, dtype="float32")
    t0[0, 3] = nodata  # one cell of region B without data
    folder = tmp_path / "gsocseq"
    folder.mkdir()
    for layer, values in (
        ("T0", t0),
        ("ASR_BAU", np.full((4, 4), 0.1, "float32")),
        ("ASR_SSM1", np.full((4, 4), 0.3, "float32")),
    ):
        write_raster(folder / f"TST_GSOCseq_{layer}_Map030.tif", values, grid, nodata=nodata)
    x0, y0 = 4_000_000.0, 2_996_000.0
    regions = gpd.GeoDataFrame(
        {
            "code": ["A", "B", "C"],
            "emissions": [1000.0, 0.0, np.nan],
            "label": ["x", "y", "z"],
        },
        geometry=[
            shapely.box(x0, y0, x0 + 2000, y0 + 4000),  # left half: 8 cells
            shapely.box(x0 + 2000, y0, x0 + 4000, y0 + 4000),  # right half, 7 with data
            shapely.box(x0 + 3500, y0 - 1000, x0 + 4500, y0 + 1000),  # half a cell inside
        ],
        crs="EPSG:3035",
    )
    path = tmp_path / "regions.gpkg"
    regions.to_file(path, driver="GPKG")
    return folder, path


def test_emissions_offsets_on_a_hand_made_case(tmp_path):
    folder, regions = _tiny_case(tmp_path)
    result = run_comparison(
        folder, regions, id_field="code", out_dir=tmp_path / "out", emissions_field="emissions"
    )
    t = result.table.set_index(["region_id", "scenario"])
    co2 = 44.0 / 12.0
    a_bau, a_ssm1 = t.loc[("A", "BAU")], t.loc[("A", "SSM1")]
    assert a_bau["area_ha"] == pytest.approx(800.0, rel=1e-9)
    assert a_bau["t0_stock_t"] == pytest.approx(50 * 800, rel=1e-6)
    assert a_bau["target_t_per_yr"] == pytest.approx(160.0, rel=1e-6)
    assert a_bau["modelled_t_per_yr"] == pytest.approx(80.0, rel=1e-6)
    assert a_bau["share_of_target"] == pytest.approx(0.5, rel=1e-6)
    assert a_ssm1["share_of_target"] == pytest.approx(1.5, rel=1e-6)
    assert a_bau["offset_share_target"] == pytest.approx(160 * co2 / 1000, rel=1e-6)
    assert a_bau["offset_share_modelled"] == pytest.approx(80 * co2 / 1000, rel=1e-6)
    assert a_ssm1["offset_share_modelled"] == pytest.approx(240 * co2 / 1000, rel=1e-6)
    assert np.isnan(a_ssm1["modelled_relative_t_per_yr"])  # no RSR, no final stocks
    assert t.loc[("B", "BAU"), "area_ha"] == pytest.approx(700.0, rel=1e-9)
    assert np.isnan(t.loc[("B", "BAU"), "offset_share_target"])  # zero emissions
    c = t.loc[("C", "BAU")]
    assert c["area_ha"] == pytest.approx(50.0, rel=1e-9)
    assert c["covered_share"] == pytest.approx(50.0 / 200.0, rel=1e-6)
    assert np.isnan(c["offset_share_target"])  # emissions unknown
    written = pd.read_csv(tmp_path / "out" / "gsocseq_comparison.csv")
    assert {"emissions_t_co2e_per_yr", "offset_share_target"} <= set(written.columns)


@pytest.mark.parametrize(
    ("field", "message"), [("label", "must be a number"), ("nope", "has no field 'nope'")]
)
def test_unusable_emissions_field_is_an_input_error(tmp_path, field, message):
    folder, regions = _tiny_case(tmp_path)
    with pytest.raises(InputError, match=message):
        run_comparison(
            folder, regions, id_field="code", out_dir=tmp_path / "o", emissions_field=field
        )
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- errors


def _copy(src: Path, dst: Path, skip: str = "") -> Path:
    dst.mkdir()
    for p in src.iterdir():
        if not skip or skip not in p.name:
            shutil.copy(p, dst / p.name)
    return dst


@pytest.mark.realdata
def test_missing_t0_names_the_folder_and_the_expected_files(tmp_path):
    folder = _copy(PH, tmp_path / "ph", skip="CORGT0")
    with pytest.raises(InputNotFoundError) as info:
        discover_gsocseq(folder)
    text = str(info.value)
    assert str(folder) in text and "no T0 layer" in text
    assert "CORGT0" in text and "_GSOCseq_T0_Map030.tif" in text


@pytest.mark.realdata
def test_missing_asr_and_subfolder_hint(tmp_path):
    folder = _copy(BT, tmp_path / "bt", skip="_ASR_")
    with pytest.raises(InputNotFoundError, match="no ASR layer"):
        discover_gsocseq(folder)
    with pytest.raises(InputNotFoundError, match="Subfolders with GSOCseq layers: bt"):
        discover_gsocseq(tmp_path)


@pytest.mark.realdata
def test_layer_on_another_grid_is_a_grid_mismatch(tmp_path):
    folder = _copy(BT, tmp_path / "bt")
    target = folder / "Bhutan_GSOCseq_ASR_SSM2_Map030.tif"
    with rasterio.open(target, "r+") as dst:
        t = dst.transform
        dst.transform = rasterio.Affine(t.a, t.b, t.c + t.a, t.d, t.e, t.f)  # one cell east
    with pytest.raises(GridMismatchError, match="ASR_SSM2"):
        discover_gsocseq(folder)


@pytest.mark.realdata
def test_two_files_for_one_layer_and_bad_parameters(tmp_path):
    folder = _copy(PH, tmp_path / "ph")
    shutil.copy(ph_file("T0"), folder / "PHL_GSOCseq_T0_Map030.tif")
    with pytest.raises(InputError, match="both"):
        discover_gsocseq(folder)
    with pytest.raises(InputNotFoundError, match="does not exist"):
        discover_gsocseq(tmp_path / "nowhere")
    layers = discover_gsocseq(PH)
    for rate in (0.0, -0.004, float("nan"), 1.5):
        with pytest.raises(InputError, match="rate"):
            compare(layers, rate=rate)


@pytest.mark.parametrize(
    ("text", "expected"), [("0.002", 0.002), ("4‰", 0.004), ("0.4%", 0.004), ("4 permille", 0.004)]
)
def test_cli_rate_takes_its_unit(monkeypatch, tmp_path, text, expected):
    seen = {}

    def fake_run(folder, regions, **kwargs):
        seen.update(kwargs)
        raise InputError("stop here")

    monkeypatch.setattr("soilmap.cli.gsocseq.run_comparison", fake_run)
    args = ["F", "--regions", "r.gpkg", "--region-id", "c", "--rate", text, "--out", str(tmp_path)]
    CliRunner().invoke(command, args)
    assert seen["rate"] == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "words"),
    [("0.4", "unit slip"), ("4", "unit slip"), ("-0.002", "positive rate"), ("x", "not a rate")],
)
def test_cli_rate_slip_or_loss_is_refused_before_anything_runs(monkeypatch, tmp_path, text, words):
    # 0.4 was accepted (a per-mille/percent slip: 100x the target), like `soilmap run`
    # refuses it; a comparison target must be a gain.
    called = []
    monkeypatch.setattr("soilmap.cli.gsocseq.run_comparison", lambda *a, **k: called.append(1))
    args = ["F", "--regions", "r.gpkg", "--region-id", "c", "--rate", text, "--out", str(tmp_path)]
    result = CliRunner().invoke(command, args)
    assert isinstance(result.exception, ConfigError)
    assert words in str(result.exception) and "--rate" in str(result.exception)
    assert not called and not any(tmp_path.iterdir())
