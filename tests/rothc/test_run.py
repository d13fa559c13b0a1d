"""``soilmap rothc run``: a gridded RothC run from the ``[rothc]`` config section.

A small generated world (:mod:`gridworld`: generated SOC, clay, land cover and the
official Rothamsted example's site climate shifted per cell) is run once through
:func:`soilmap.rothc.run.run_rothc` with every block read counted; each cell is then
re-computed by the independent pure-Python model (:mod:`soilmap.rothc.scalar`) with an
iterative spin-up, and the share of the 4 per 1000 target by hand, per pixel and region.
"""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from gridworld import GRID, fields, write_world
from pyproj import Geod

from soilmap.config import load_config
from soilmap.rothc.run import run_rothc
from soilmap.rothc.scalar import step_year
from soilmap.testing import raise_if_dask_computes

DPM_RPM = {10: 1.44, 130: 0.67, 50: 0.25}  # cropland, grassland, forest (RothC guide)
NPP_SHARE = {10: 0.53, 130: 0.72, 50: 0.88}  # GSOCseq's coefficients
MULT = {"BAU": 1.0, "SSM1": 1.05, "SSM2": 1.10, "SSM3": 1.20}
#: The progress events of the ``world`` run.
EVENTS: list = []


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("rothc_world")
    f = fields()
    cfg = write_world(d, f, extra="")
    reads: collections.Counter = collections.Counter()
    original = rasterio.io.DatasetReader.read

    def counting_read(self, *args, **kwargs):
        reads[(Path(self.name).name, str(kwargs.get("window")), str(args))] += 1
        return original(self, *args, **kwargs)

    config = load_config(cfg)
    events = EVENTS
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rasterio.io.DatasetReader, "read", counting_read)
        result = run_rothc(config.with_output(d / "out"), progress=events.append)
    return d, f, result, reads


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        a = src.read(1).astype("float64")
        return np.where(a == src.nodata, np.nan, a)


def _miami_t_c(temp: list[float], rain: list[float]) -> float:
    """Miami NPP (Lieth 1975) in t C/ha/yr, written out here on its own."""
    t, p = sum(temp) / 12.0, sum(rain)
    npp = min(3000.0 / (1.0 + math.exp(1.315 - 0.119 * t)), 3000.0 * (1 - math.exp(-0.000664 * p)))
    return npp / 100.0 * 0.5


def _scalar_cell(f, y: int, x: int, years: int = 20) -> dict[str, float]:
    """The cell by the scalar model: iterative spin-up, 2-year warm-up, four scenarios."""
    code = int(f["lc"][y, x])
    month = lambda t, r, e, i: (float(t[i, y, x]), float(r[i, y, x]), float(e[i, y, x]), 1)
    spin = [month(f["temp"], f["rain"], f["evap"], i) for i in range(12)]
    warm = [month(f["warm_temp"], f["warm_rain"], f["warm_evap"], i) for i in range(24)]
    clay, soc, ratio = float(f["clay"][y, x]), float(f["soc"][y, x]), DPM_RPM[code]
    iom = 0.049 * soc**1.139
    # Unscaled input: Miami NPP x the group's share, spread evenly over the months.
    c = _miami_t_c([m[0] for m in spin], [m[1] for m in spin]) * NPP_SHARE[code] / 12.0
    pools, smd, prev = [0.0] * 4, 0.0, -1.0
    while abs(sum(pools) - prev) > 1e-12:  # the official spin-up, to a tighter tolerance
        prev = sum(pools)
        pools, smd = step_year(pools, smd, spin, [c] * 12, ratio, clay, 30.0)
    scale = (soc - iom) / sum(pools)  # RothC is linear in its inputs
    pools = [p * scale for p in pools]
    pools, smd = step_year(pools, smd, warm, [c * scale] * 24, ratio, clay, 30.0)
    out = {"t0": sum(pools) + iom}
    for s, mult in MULT.items():
        q, d = list(pools), smd
        for _ in range(years):
            q, d = step_year(q, d, spin, [c * scale * mult] * 12, ratio, clay, 30.0)
        out[s] = sum(q) + iom
    return out


def test_each_cell_equals_the_scalar_point_model(world):
    d, f, _, _ = world
    out = d / "out" / "rothc"
    status = _read(out / "status.tif")
    t0 = _read(out / "soc_t0.tif")
    cells = [(y, x) for y in range(6) for x in range(8) if int(f["lc"][y, x]) in DPM_RPM]
    cells = [c for c in cells if np.isfinite(f["soc"][c])]
    picked = {int(f["lc"][c]): c for c in cells}  # one cell of each modelled group
    assert set(picked) == {10, 130, 50}
    for y, x in picked.values():
        ref = _scalar_cell(f, y, x)
        assert status[y, x] == 0
        assert t0[y, x] == pytest.approx(ref["t0"], rel=2e-7)  # float32 COG
        for s in MULT:
            got = _read(out / f"soc_{s}_20yr.tif")[y, x]
            assert got == pytest.approx(ref[s], rel=2e-7)
            asr = _read(out / f"asr_{s}.tif")[y, x]
            assert asr == pytest.approx((ref[s] - ref["t0"]) / 20, rel=1e-5, abs=1e-6)
            share = _read(out / f"attainable_share_of_target_{s}.tif")[y, x]
            # attainable share = RothC gain / 4 per 1000 gain over the 20 years
            expected = (ref[s] - ref["t0"]) / (0.004 * ref["t0"] * 20)
            assert share == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_status_counts_every_cell_with_soc(world):
    d, f, result, _ = world
    status = _read(d / "out" / "rothc" / "status.tif")
    has_soc = np.isfinite(f["soc"])
    assert np.isnan(status[0, 0])  # no SOC: no status, no number
    water = has_soc & (f["lc"] == 210)
    assert water[1, 1] and status[1, 1] == 5
    counts = result.manifest["cells"]["status"]
    assert counts["land_use_not_modelled"] == int(water.sum())
    assert counts["calibrated"] == int((has_soc & ~water).sum())
    assert sum(counts.values()) == int(has_soc.sum())
    assert np.isnan(_read(d / "out" / "rothc" / "soc_t0.tif")[water]).all()


def _cell_areas_ha() -> np.ndarray:
    """True ground area of each UTM cell (pyproj geodesic polygons), an independent method."""
    from pyproj import Transformer

    tr = Transformer.from_crs(GRID.crs_wkt, "EPSG:4326", always_xy=True)
    geod = Geod(ellps="WGS84")
    a, (ny, nx) = GRID.transform, GRID.shape
    out = np.zeros((ny, nx))
    for i in range(ny):
        for j in range(nx):
            xs = [a.c + a.a * (j + dj) for dj in np.linspace(0, 1, 9)]
            ring = (
                [(x, a.f + a.e * i) for x in xs]
                + [(xs[-1], a.f + a.e * (i + di)) for di in np.linspace(0, 1, 9)[1:]]
                + [(x, a.f + a.e * (i + 1)) for x in xs[::-1][1:]]
                + [(xs[0], a.f + a.e * (i + di)) for di in np.linspace(0, 1, 9)[::-1][1:]]
            )
            lon, lat = tr.transform(*zip(*ring, strict=True))
            out[i, j] = abs(geod.polygon_area_perimeter(lon, lat)[0]) / 1e4
    return out


def test_regional_share_of_target_by_hand(world):
    d, f, result, _ = world
    out = d / "out" / "rothc"
    area = _cell_areas_ha()
    t0 = _read(out / "soc_t0.tif")
    table = result.table.set_index(["region_id", "landuse", "scenario"])
    for region, cols in (("W", slice(0, 4)), ("E", slice(4, 8))):
        a, s0 = area[:, cols], t0[:, cols]
        ok = np.isfinite(s0)
        for s in MULT:
            s20 = _read(out / f"soc_{s}_20yr.tif")[:, cols]
            gain = ((s20 - s0) * a)[ok].sum()
            target = 0.004 * (s0 * a)[ok].sum() * 20
            row = table.loc[(region, "all", s)]
            assert row["area_ha"] == pytest.approx(a[ok].sum(), rel=1e-6)
            # the maps are float32: a share is good to ~1e-7 of the target (4.8 t C/ha)
            assert row["attainable_share_of_target"] == pytest.approx(gain / target, abs=2e-6)
            for code, group in ((10, "cropland"), (50, "forest")):
                g = ok & (f["lc"][:, cols] == code)
                if g.any():
                    grow = table.loc[(region, group, s)]
                    assert grow["soc_t0_t"] == pytest.approx((s0 * a)[g].sum(), rel=1e-5)
    csv = (out / "rothc_stats.csv").read_text().splitlines()[0].split(",")
    assert {"region_id", "landuse", "scenario", "attainable_share_of_target"} <= set(csv)


def test_every_input_block_is_read_once(world):
    _, _, _, reads = world
    assert reads and max(reads.values()) == 1, {k: v for k, v in reads.items() if v > 1}
    names = {k[0] for k in reads}
    assert {"soc.tif", "clay.tif", "lc.tif", "temp.tif", "warm_rain.tif"} <= names


def test_outputs_are_cogs_with_styles_and_manifest(world):
    d, _, _, _ = world
    out = d / "out" / "rothc"
    for stem in ("soc_t0", "soc_SSM2_10yr", "asr_SSM3", "attainable_share_of_target_BAU"):
        assert (out / f"{stem}.qml").exists()
        with rasterio.open(out / f"{stem}.tif") as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.crs.to_epsg() == 32630 and src.units[0]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["parameters"]["scenarios"] == MULT
    assert manifest["parameters"]["warmup_years"] == 2
    assert all(c["outside"] == 0 for c in manifest["input_checks"])
    assert not [p for p in out.iterdir() if p.name.startswith(".soilmap-staging")]


def test_plan_is_lazy(tmp_path):
    from soilmap.pipeline.plan import plan
    from soilmap.rothc.run import _model

    cfg = load_config(write_world(tmp_path, fields()))
    with raise_if_dask_computes():
        p = plan(cfg)
        m = _model(p, cfg, cfg.rothc)
    assert m.ds["soc_SSM3_20"].chunks is not None


def test_progress_events_cover_every_stage(world):
    assert world and EVENTS  # the run's progress events, as a callback received them
    events = EVENTS
    stages = [ev.stage for ev in events]
    for stage in ("open", "compute", "write", "tables", "done"):
        assert stage in stages
    computed = [ev for ev in events if ev.stage == "compute"]
    assert computed[-1].done == computed[-1].total and computed[-1].cells == 48
