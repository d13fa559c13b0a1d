"""A gridded RothC run from a run description: ``soilmap rothc run CONFIG.toml``.

:func:`run_rothc` opens the SOC stock, land use and regions through the run's own doors
(:func:`soilmap.pipeline.plan.plan`), the ``[rothc]`` rasters through
:func:`soilmap.rothc.inputs.open_inputs`, builds the RothC layers lazily
(:func:`soilmap.rothc.grid.run_grid`: calibrated spin-up, warm-up, scenarios) and
computes every raster, the zonal sums, the status counts and the input range checks
in one pass of the shared engine (:func:`soilmap.pipeline.execute.execute`: window by
window, each input block read once).  Everything is written atomically into
``<out>/rothc/``; a ``report.html`` already in ``<out>`` is rebuilt with the RothC
section.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from soilmap.config import RunConfig
from soilmap.config.rothc import RothcConfig
from soilmap.config.sections import soc_paths
from soilmap.errors import ConfigError, RothCInputError
from soilmap.grid import Grid, dask_chunks
from soilmap.io.raster import read_layout
from soilmap.io.staging import OutputStage, output_lock
from soilmap.landuse.table import ALL_LAND
from soilmap.options import apply_gdal_cache
from soilmap.outputs.manifest import describe_inputs, software_versions, write_json
from soilmap.outputs.write import (
    Continuous,
    Paletted,
    RasterOutput,
    disk_full_as_space_error,
    output_names,
    write_styles,
    write_tables,
)
from soilmap.pipeline.cluster import Compute, compute_on
from soilmap.pipeline.execute import Reduction, chunk_budget, execute
from soilmap.pipeline.plan import Plan, plan
from soilmap.progress import Progress, reporter, resolve
from soilmap.report import write_report
from soilmap.rothc.calibrate import STATUS_NAMES
from soilmap.rothc.cellparams import cell_params
from soilmap.rothc.grid import GridInputs, run_grid, target_layers
from soilmap.rothc.inputs import RothcInputs, open_inputs
from soilmap.rothc.npp import miami_npp, npp_carbon
from soilmap.rothc.params import GroupTable, group_table, scenario_multipliers
from soilmap.rothc.table import TABLE, rothc_rows, table_units, zonal_layer_names
from soilmap.zonal.sums import window_sums

log = logging.getLogger("soilmap.rothc")

__all__ = ["FOLDER", "NOT_MODELLED", "RothcResult", "run_rothc"]

#: The sub-folder of ``--out`` the RothC outputs go to.
FOLDER = "rothc"
#: Status of a cell with SOC whose land use has no RothC parameters.
NOT_MODELLED = 5
STATUS = {**STATUS_NAMES, NOT_MODELLED: "land_use_not_modelled"}
_STATUS_COLOURS = ("#1a9850", "#999999", "#4575b4", "#fdae61", "#d73027", "#dddddd")


@dataclass
class RothcResult:
    """What :func:`run_rothc` wrote: paths, the regional table and ``rothc/run.json``."""

    out_dir: Path
    outputs: list[Path]
    table: gpd.GeoDataFrame
    manifest: dict[str, Any]


@dataclass
class _Model:
    """The lazy RothC layers of a run and what they were built from."""

    ds: xr.Dataset
    status: xr.DataArray
    inputs: RothcInputs
    groups: GroupTable
    scenarios: dict[str, float]
    horizons: tuple[int, ...]
    depth_cm: float
    assumptions: list[str]


def run_rothc(
    config: RunConfig, *, progress: bool | Progress | None = None, compute: Compute | None = None
) -> RothcResult:
    """Run the ``[rothc]`` section of ``config``; write ``<out>/rothc/``.

    Parameters
    ----------
    config : RunConfig
        A run description with a ``[rothc]`` section.
    progress : bool or callable, optional
        A bar (default: on a terminal) or a :class:`~soilmap.progress.Progress` callback.
    compute : Compute, optional
        Where the graph runs (default: from the config).

    Raises
    ------
    soilmap.errors.SoilmapError
        Unusable input or config (before anything is computed), implausible input values
        (after the pass, before anything is moved into place), a full disk.
    """
    if config.rothc is None:
        where = config.source or "the run description"
        raise ConfigError(f"{where} has no [rothc] section (see the README, 'soilmap rothc').")
    apply_gdal_cache()
    out = Path(config.output.dir)
    with (
        output_lock(out),
        compute_on(
            compute, config.scheduler, config.workers, memory_limit=config.memory_limit
        ) as ctx,
        disk_full_as_space_error(out, "RothC COGs, tables and run.json"),
    ):
        return _run(config, config.rothc, progress=resolve(progress), compute=ctx)


def _warmup_months(rc: RothcConfig) -> int:
    if rc.warmup is None:
        return 0
    t = rc.warmup.temperature
    return len(t) if len(t) > 1 else read_layout(t[0], what="RothC warm-up temperature").count


def _offsets(whole: Grid, grid: Grid) -> tuple[int, int]:
    """Row and column of ``grid``'s first cell in ``whole`` (a window of it)."""
    t, w = grid.transform, whole.transform
    return round((t.f - w.f) / w.e), round((t.c - w.c) / w.a)


def _cut(p: Plan, whole: Grid) -> Callable[[xr.DataArray], xr.DataArray]:
    r0, c0 = _offsets(whole, p.grid)
    ny, nx = p.grid.shape
    coords = {"y": p.stock["y"].values, "x": p.stock["x"].values}

    def cut(a: xr.DataArray) -> xr.DataArray:
        a = a.isel(y=slice(r0, r0 + ny), x=slice(c0, c0 + nx)).assign_coords(coords)
        if "spatial_ref" in p.stock.coords:
            a = a.assign_coords(spatial_ref=p.stock["spatial_ref"])
        return a

    return cut


def _groups(p: Plan, rc: RothcConfig) -> GroupTable:
    if p.table is None:
        if rc.land_use is None:
            raise ConfigError(
                "[rothc] without [landcover] needs land_use = '<group>' (e.g. 'cropland'): "
                "the RothC parameters every cell gets."
            )
        one = group_table([rc.land_use], rc.groups)
        return GroupTable((ALL_LAND,), one.params)
    table = group_table([str(g) for g in p.fractions["group"].values], rc.groups)
    if not table.modelled:
        raise ConfigError(
            f"[rothc]: none of the land-use groups {list(table.groups)} has RothC parameters; "
            "give them in [rothc.groups.<name>] (dpm_rpm, npp_share ...)."
        )
    return table


def _depth(config: RunConfig, rc: RothcConfig) -> float:
    soc_depth = float(config.soc.bottom_cm) - float(config.soc.top_cm)
    if rc.depth_cm is not None and abs(rc.depth_cm - soc_depth) > 1e-9:
        raise ConfigError(
            f"[rothc] depth_cm = {rc.depth_cm:g} but the SOC stock is of {config.soc.top_cm:g}-"
            f"{config.soc.bottom_cm:g} cm: RothC is calibrated to that stock, so it models "
            "that layer. Remove depth_cm or declare the SOC depth (top_cm, bottom_cm)."
        )
    return soc_depth


def _model(p: Plan, config: RunConfig, rc: RothcConfig) -> _Model:
    """Open the RothC rasters and build every RothC layer lazily."""
    whole = read_layout(soc_paths(config.soc)[0], what="SOC").grid
    opened = open_inputs(rc, grid=whole, chunks=config.chunks)
    cut = _cut(p, whole)
    temp, rain, evap = cut(opened.temp), cut(opened.rain), cut(opened.evap)
    groups = _groups(p, rc)
    cp = cell_params(p.landuse, groups)
    assumptions = list(opened.assumptions)
    assumptions.append(
        "RothC runs once per cell with the parameters of the cell's largest modelled land-use "
        "group (as GSOCseq runs one class per pixel); zonal rows weight it by group fractions"
    )
    if opened.carbon_input is not None:
        plant = cut(opened.carbon_input).where(cp.index >= 0)
        source = f"carbon input raster {rc.carbon_input}"
    else:
        npp = xr.apply_ufunc(
            miami_npp, temp.mean("month"), rain.sum("month"), dask="parallelized",
            output_dtypes=[np.float64],
        )  # fmt: skip
        plant = npp_carbon(npp) * cp.scalar("npp_share")
        source = "Miami NPP (Lieth 1975) of the spin-up climate x 0.01 x 0.5 x npp_share"
    assumptions.append(
        f"plant carbon inputs: {source}; the spin-up scales them per cell so that the "
        "equilibrium equals the observed stock, so their magnitude sets input_scale only "
        "(and the plant/manure split), not the modelled changes"
    )
    depth = _depth(config, rc)
    warm = None
    if opened.warmup is not None:
        warm = (cut(opened.warmup[0]), cut(opened.warmup[1]), cut(opened.warmup[2]))
    gi = GridInputs(
        clay=cut(opened.clay), soc=p.stock, temp=temp, rain=rain, evap=evap,
        plant=plant, cover=cp.monthly("cover"), input_share=cp.monthly("input_months"),
        dpm_rpm=cp.scalar("dpm_rpm"),
        fym=cut(opened.manure) if opened.manure is not None else None,
        factor=cp.monthly("factor"), depth_cm=depth, warmup=warm,
    )  # fmt: skip
    scen = scenario_multipliers(rc.scenarios, rc.multipliers)
    ds = run_grid(gi, scenarios=scen, horizons=rc.horizons)
    ds = target_layers(ds, scen, max(rc.horizons), rate=rc.target_rate)
    has_soc = p.stock.notnull()
    status = xr.where(has_soc & (cp.index < 0), float(NOT_MODELLED), ds["status"])
    status = status.where(has_soc)
    opened.checks = [replace(c, bad=cut(c.bad)) for c in opened.checks]
    return _Model(ds, status, opened, groups, scen, rc.horizons, depth, assumptions)


def _tags(m: _Model, rc: RothcConfig, scenario: str | None = None) -> dict[str, Any]:
    tags: dict[str, Any] = {
        "software": "soilmap",
        "model": "RothC-26.3",
        "target_rate": rc.target_rate,
        "years": max(m.horizons),
    }
    if scenario is not None:
        tags |= {"scenario": scenario, "input_multiplier": m.scenarios[scenario]}
    return tags


def _georef(a: xr.DataArray, p: Plan) -> xr.DataArray:
    """``a`` with the SOC grid's CRS and transform (the model's layers lose them)."""
    return a.rio.write_crs(p.grid.crs_wkt).rio.write_transform(p.grid.transform)


def _rasters(p: Plan, m: _Model, rc: RothcConfig) -> dict[str, RasterOutput]:
    stock = Continuous("YlOrBr")
    share = Continuous("RdYlBu", label_unit="x target", vmin=0.0, vmax=2.0)
    status = m.status.fillna(255).astype("uint8")
    status.attrs = {"units": "1", "long_name": "RothC calibration status"}
    entries = tuple((code, _STATUS_COLOURS[code], name) for code, name in STATUS.items())
    out = {
        "status": RasterOutput(status, Paletted(entries), nodata=255, dtype="uint8",
                               resampling="mode", tags=_tags(m, rc)),
        "soc_t0": RasterOutput(m.ds["soc_t0"], stock, tags=_tags(m, rc)),
    }  # fmt: skip
    for s in m.scenarios:
        tags = _tags(m, rc, s)
        for h in m.horizons:
            out[f"soc_{s}_{h}yr"] = RasterOutput(m.ds[f"soc_{s}_{h}"], stock, tags=tags)
        out[f"asr_{s}"] = RasterOutput(m.ds[f"asr_{s}"], Continuous("YlGn"), tags=tags)
        stem = f"attainable_share_of_target_{s}"
        out[stem] = RasterOutput(m.ds[stem], share, tags=tags)
    return {k: replace(r, layer=_georef(r.layer, p)) for k, r in out.items()}


def _reductions(p: Plan, m: _Model) -> dict[str, Reduction]:
    red: dict[str, Reduction] = {}
    for code in STATUS:
        red[f"status:{code}"] = ((m.status == code), "sum")
    for i, c in enumerate(m.inputs.checks):
        red[f"range:{i}"] = (c.bad, "sum")
    ok = m.status == 0
    area = p.area_ha.where(ok)
    red["total:area_ha"] = (area, "sum")
    red["total:soc_t0_t"] = (m.ds["soc_t0"] * area, "sum")
    for s in m.scenarios:
        for h in m.horizons:
            red[f"total:soc_{s}_{h}_t"] = (m.ds[f"soc_{s}_{h}"] * area, "sum")
    return red


def _check_ranges(m: _Model, reduced: dict[str, Any]) -> None:
    """Stop (nothing moved into place) when an input has values outside its range."""
    for i, c in enumerate(m.inputs.checks):
        n = int(reduced[f"range:{i}"])
        if n:
            raise RothCInputError(
                f"{c.name} ({', '.join(c.files)}): {n:,} value(s) outside the plausible range "
                f"{c.low:g} to {c.high:g} {c.unit}. Check the units declared for it (a "
                "temperature in K or in tenths of a degree, a daily rate, clay as a fraction) "
                "and the file's nodata value."
            )


def _totals(m: _Model, rc: RothcConfig, r: dict[str, Any]) -> list[dict[str, Any]]:
    years = max(m.horizons)
    out = []
    t0 = float(r["total:soc_t0_t"])
    for s, mult in m.scenarios.items():
        gain = float(r[f"total:soc_{s}_{years}_t"]) - t0
        target = rc.target_rate * t0
        out.append(
            {
                "scenario": s,
                "multiplier": mult,
                "area_ha": float(r["total:area_ha"]),
                "soc_t0_t": t0,
                "rothc_t_per_yr": gain / years,
                "target_t_per_yr": target,
                "attainable_share_of_target": (gain / years / target) if target > 0 else None,
            }
        )
    return out


def _run(
    config: RunConfig, rc: RothcConfig, *, progress: Progress | None, compute: Compute
) -> RothcResult:
    t_start = time.perf_counter()
    # Float64 months in flight per cell: 12-month stacks, warm-up stacks, pools.
    layers = 2 * (100 + 3 * _warmup_months(rc))
    chunks = chunk_budget(
        config.chunks, memory_limit=config.memory_limit or "2GB", workers=config.workers,
        layers=layers,
    )  # fmt: skip
    config = replace(config, chunks=chunks)
    # The values that need no raster are checked before anything is opened.
    scenario_multipliers(rc.scenarios, rc.multipliers)
    _depth(config, rc)
    report = reporter(progress)
    report("open", 0, 1, "inputs")
    p = plan(config)
    m = _model(p, config, rc)
    report("open", 1, 1, "inputs")
    rasters = _rasters(p, m, rc)
    zonal_layers = {k: m.ds[k] for k in zonal_layer_names(list(m.scenarios), m.horizons)}
    out = Path(config.output.dir)
    names = output_names(list(rasters), [TABLE], formats=("gpkg", "csv"))
    with OutputStage(out / FOLDER, names, overwrite=config.output.overwrite) as stage:
        done = execute(
            rasters,
            stage=stage,
            compute=compute,
            chunks=dask_chunks(p.stock),
            compress=config.output.compress,
            zonal=lambda w: window_sums(
                w,
                p.fractions,
                p.area_ha,
                zonal_layers,
                p.regions,
                p.grid,
                minmax=False,
                group_index=p.group_index,
            ),
            reductions=_reductions(p, m),
            inputs=config.input_paths(),
            progress=progress,
        )
        _check_ranges(m, done.reduced)
        t_compute = time.perf_counter()
        write_styles(done.written, rasters, done.ranges, done.stretches)
        if done.zonal is None:
            raise ValueError("the RothC run computed no zonal sums")
        table = rothc_rows(
            done.zonal.frame(p.regions, stats=("sum",)), p.regions, m.scenarios, m.horizons,
            rc.target_rate,
        )  # fmt: skip
        units = {k: v for k, v in table_units(m.horizons).items() if k in table.columns}
        meta = {"units": "; ".join(f"{k}={v}" for k, v in units.items()), "model": "RothC"}
        write_tables(stage, table, TABLE, units=units, metadata=meta, formats=("gpkg", "csv"))
        report("tables", 1, 1, "RothC tables")
        manifest = _manifest(p, config, rc, m, done.reduced, units, rasters)
        manifest["timings_s"] = {
            "compute_and_write_rasters": round(t_compute - t_start, 3),
            "compute_windows": round(done.timings_s["compute_windows"], 3),
            "cog_finish": round(done.timings_s["cog_finish"], 3),
            "total": round(time.perf_counter() - t_start, 3),
        }
        write_json(manifest, stage.path("run.json"))
        outputs = stage.commit()
    if (out / "run.json").exists():
        # The folder's report gains (or refreshes) its RothC section.
        report("report", 0, 1, "report.html")
        outputs += write_report(out)
        report("report", 1, 1, "report.html")
    report("done", 1, 1, str(out / FOLDER))
    log.info("wrote %d files to %s", len(outputs), out / FOLDER)
    return RothcResult(out_dir=out / FOLDER, outputs=outputs, table=table, manifest=manifest)


def _manifest(
    p: Plan,
    config: RunConfig,
    rc: RothcConfig,
    m: _Model,
    r: dict[str, Any],
    units: dict[str, str],
    rasters: dict[str, RasterOutput],
) -> dict[str, Any]:
    """``rothc/run.json``: parameters, inputs, status counts, checks, totals, outputs."""
    status = {STATUS[c]: int(r[f"status:{c}"]) for c in STATUS}
    return {
        "soilmap_rothc_run": 1,
        "config_file": str(config.source) if config.source else None,
        "model": "RothC-26.3 (soilmap.rothc): exact equilibrium of the periodic year, "
        "plant inputs scaled to the observed stock (IOM from Falloon et al. 1998)",
        "parameters": {
            "scenarios": m.scenarios,
            "horizons_years": list(m.horizons),
            "years": max(m.horizons),
            "target_rate": rc.target_rate,
            "depth_cm": m.depth_cm,
            "warmup_years": _warmup_months(rc) // 12,
            "carbon_input": str(rc.carbon_input) if rc.carbon_input else "miami",
            "attainable_share_of_target": "RothC gain / (target_rate x SOC at t0 x years)",
        },
        "groups": m.groups.describe(),
        "inputs": describe_inputs(config.input_paths()),
        "cells": {
            "status": status,
            "note": "cells with SOC data by calibration status; only 'calibrated' cells "
            "have RothC values (NaN elsewhere, never zero)",
        },
        "input_checks": [
            {
                "input": c.name,
                "files": list(c.files),
                "range": [c.low, c.high],
                "unit": c.unit,
                "outside": int(r[f"range:{i}"]),
            }
            for i, c in enumerate(m.inputs.checks)
        ],
        "assumptions": [*p.assumptions, *m.assumptions],
        "totals": _totals(m, rc, r),
        "outputs": {
            **{f"{s}.tif": {"units": o.layer.attrs.get("units")} for s, o in rasters.items()},
            TABLE: {"columns_units": units},
        },
        "software": software_versions(),
    }
