"""Run the GSOCseq comparison: rasters, regional table, totals, ``run.json``, in one pass.

See :func:`run_comparison` and :mod:`soilmap.gsocseq`.
"""

from __future__ import annotations

import functools
import logging
import operator
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from soilmap.areas import cell_area_ha
from soilmap.grid import dask_chunks
from soilmap.gsocseq.discover import RATE_UNITS, STOCK_UNITS, GsocseqLayers, discover_gsocseq
from soilmap.gsocseq.pixels import GSOCSEQ_YEARS, IDENTITY_TOLERANCE, compare, identity_errors
from soilmap.io.staging import OutputStage
from soilmap.io.vector import EMISSIONS, DuplicatePolicy, RegionsReport, read_regions
from soilmap.landuse.fractions import uniform_fractions
from soilmap.options import Codec, apply_gdal_cache, get_options
from soilmap.outputs.manifest import describe_inputs, software_versions
from soilmap.outputs.write import (
    Continuous,
    RasterOutput,
    output_names,
    write_manifest,
    write_styles,
    write_tables,
)
from soilmap.pipeline.cluster import Compute, compute_on
from soilmap.pipeline.execute import Executed, Reduction, chunk_budget, execute
from soilmap.progress import Progress, reporter, resolve
from soilmap.report import REPORT, write_report
from soilmap.scenario.model import CO2_PER_C
from soilmap.zonal.regions import region_areas_on_grid, regions_on_grid
from soilmap.zonal.sums import window_sums

# The package's logger, as before it was split into modules.
log = logging.getLogger("soilmap.gsocseq")

TABLE = "gsocseq_comparison"
#: The table files the comparison writes.
_FORMATS = ("gpkg", "csv")
#: Units of the comparison table's numeric columns.
TABLE_UNITS = {
    "area_ha": "ha",
    "t0_stock_t": "t C",
    "target_t_per_yr": "t C yr-1",
    "modelled_t_per_yr": "t C yr-1",
    "share_of_target": "1",
    **{f"additional_share_of_target_SSM{i}": "1" for i in (1, 2, 3)},
    "modelled_relative_t_per_yr": "t C yr-1",
    "region_area_ha": "ha",
    "covered_share": "1",
    "extent_share": "1",
    "emissions_t_co2e_per_yr": "t CO2e yr-1",
    "offset_share_target": "1",
    "offset_share_modelled": "1",
}


@dataclass
class ComparisonResult:
    """What :func:`run_comparison` wrote and measured.

    Attributes
    ----------
    table : geopandas.GeoDataFrame
        One row per region × scenario (units in :data:`TABLE_UNITS`).
    totals : pandas.DataFrame
        One row per scenario over every compared cell of the raster (the whole
        country for national GSOCseq maps).
    manifest : dict
        ``run.json``, with the identity checks and cleaning counts.
    """

    out_dir: Path
    outputs: list[Path]
    table: gpd.GeoDataFrame
    totals: pd.DataFrame
    manifest: dict[str, Any]


def _ratio(num: Any, den: Any) -> np.ndarray:
    """``num / den`` where ``den > 0``; NaN elsewhere (no data, no target, no emissions)."""
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    out = np.full(np.broadcast(num, den).shape, np.nan)
    return np.divide(num, den, out=out, where=den > 0)


def _rows(sums: pd.DataFrame, scenarios: tuple[str, ...], rate: float) -> pd.DataFrame:
    """One row per row of ``sums`` (``area_ha``, ``t0_sum``, ``asr_X_sum`` ...) × scenario."""
    parts = []
    for sc in scenarios:
        part = pd.DataFrame({"region_index": sums["region_index"].to_numpy(), "scenario": sc})
        part["area_ha"] = sums["area_ha"].to_numpy()
        part["t0_stock_t"] = sums["t0_sum"].to_numpy()
        part["target_t_per_yr"] = rate * part["t0_stock_t"]
        part["modelled_t_per_yr"] = sums[f"asr_{sc}_sum"].to_numpy()
        part["share_of_target"] = _ratio(part["modelled_t_per_yr"], part["target_t_per_yr"])
        rel = f"rsr_{sc}_sum"
        part["modelled_relative_t_per_yr"] = sums[rel].to_numpy() if rel in sums else np.nan
        parts.append(part)
    if "BAU" in scenarios:
        # (SSM − BAU) / target: the part of the target that management adds to the
        # business-as-usual trend, per region (the same on the region's rows).
        target = rate * sums["t0_sum"].to_numpy()
        for sc in scenarios:
            if sc != "BAU":
                extra = sums[f"asr_{sc}_sum"].to_numpy() - sums["asr_BAU_sum"].to_numpy()
                col = _ratio(extra, target)
                for part in parts:
                    part[f"additional_share_of_target_{sc}"] = col
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values("region_index", kind="stable").reset_index(drop=True)


def _region_table(
    sums: pd.DataFrame,
    regions: gpd.GeoDataFrame,
    scenarios: tuple[str, ...],
    rate: float,
    emissions: np.ndarray | None,
    region_area: np.ndarray,
    extent_ha: np.ndarray,
) -> gpd.GeoDataFrame:
    table = _rows(sums, scenarios, rate)
    ri = table.pop("region_index").to_numpy()
    table.insert(0, "region_id", regions["region_id"].to_numpy()[ri])
    table.insert(1, "region_name", regions["region_name"].to_numpy()[ri])
    table["region_area_ha"] = region_area[ri]
    # share of the region with data, and inside the raster's extent (both <= 1: the
    # region's area is on the cell areas' surface, see region_areas_on_grid)
    table["covered_share"] = _ratio(table["area_ha"], table["region_area_ha"])
    table["extent_share"] = _ratio(extent_ha[ri], table["region_area_ha"])
    if emissions is not None:
        table["emissions_t_co2e_per_yr"] = emissions[ri]
        for col, src in (("target", "target_t_per_yr"), ("modelled", "modelled_t_per_yr")):
            table[f"offset_share_{col}"] = _ratio(table[src] * CO2_PER_C, emissions[ri])
    return gpd.GeoDataFrame(table, geometry=list(regions.geometry.to_numpy()[ri]), crs=regions.crs)


def _layer_meta(da: xr.DataArray) -> dict[str, Any]:
    keys = ("units", "long_name", "source")
    return {k: da.attrs.get(k) for k in keys} | {"history": da.attrs["history"].splitlines()}


def _identity_report(computed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, v in computed.items():
        cells = int(v["cells"])
        err = float(v["max_abs_error"]) if cells else None
        holds = err is None or err <= IDENTITY_TOLERANCE
        out[name] = v | {"cells": cells, "max_abs_error": err, "holds": holds}
        out[name]["tolerance"] = IDENTITY_TOLERANCE
        if not holds:
            log.warning("GSOCseq identity %s is off by up to %.3g t C/ha", v["identity"], err)
    return out


def run_comparison(
    folder: str | Path,
    regions_path: str | Path,
    *,
    id_field: str,
    name_field: str | None = None,
    regions_crs: str | None = None,
    out_dir: str | Path,
    overwrite: bool = False,
    rate: float = 0.004,
    emissions_field: str | None = None,
    duplicate_ids: DuplicatePolicy = "error",
    period_years: float = GSOCSEQ_YEARS,
    chunks: tuple[int, int] | int | None = None,
    compress: Codec | None = None,
    progress: bool | Progress | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
    compute: Compute | None = None,
) -> ComparisonResult:
    """Compare the 4 ‰ target with GSOCseq per pixel and per region; write the results.

    Writes atomically into ``out_dir``: COGs ``target_rate.tif`` (t C ha-1 yr-1) and
    ``share_<X>.tif`` (1) per scenario with ``.qml`` styles, the table
    ``gsocseq_comparison.gpkg`` (layer ``gsocseq_comparison``) with ``.csv``/``.csvt``,
    and ``run.json``.  Rasters, zonal sums, identity checks and cleaning counts are
    computed in one pass, window by window, by the same engine as ``soilmap run``.

    Parameters
    ----------
    folder : path-like
        GSOCseq layers (see :func:`discover_gsocseq`).
    regions_path : path-like
        Region polygons (any vector format).
    id_field : str
        Field with a unique region id.
    name_field : str, optional
        Field with the region name (default: the id).
    regions_crs : str, optional
        CRS of a regions file that has none.
    out_dir : path-like
        Output folder.
    overwrite : bool
        Replace outputs of an earlier run.
    rate : float
        Relative annual stock growth the target asks for (0.004 = 4 per 1000).
    emissions_field : str, optional
        Numeric field of the regions file with annual emissions (t CO2e yr-1): adds
        ``offset_share_target`` and ``offset_share_modelled`` (CO2e = C × 44/12 over
        the emissions; NaN where they are missing or ≤ 0).
    duplicate_ids : {"error", "suffix", "dissolve"}
        Region ids that repeat.
    period_years : float
        Years between T0 and the final SOC (20 in GSOCseq).
    chunks : tuple of int or int, optional
        Dask chunk ``(rows, cols)`` or cells per chunk (default: from
        ``memory_limit``, else the ``run_chunk_cells`` option).
    compress : {"deflate", "zstd", "lzw"}, optional
        Raster codec (default: the ``compress`` option).
    progress : bool or callable, optional
        A bar (default: on a terminal) or a :class:`~soilmap.progress.Progress` callback.
    scheduler : str, optional
        Address of an existing Dask scheduler.
    workers : int, optional
        Run on a local cluster of this many processes.
    memory_limit : str, optional
        Memory ceiling (``"4GB"``) that chunks are sized to.
    compute : Compute, optional
        A ready place to compute (overrides ``scheduler`` and ``workers``).

    Returns
    -------
    ComparisonResult

    Notes
    -----
    Table rows and totals compare scenarios on the same land: cells where T0 and every scenario's
    ASR (and RSR) have data.  ``share_of_target`` is ``Σ ASR × ha / (rate × Σ T0 × ha)`` over those
    cells (exact cell coverage, true cell areas): the regional ratio, not a mean of pixel shares.
    """
    apply_gdal_cache()
    args: _ComparisonArgs = {
        "folder": folder,
        "regions_path": regions_path,
        "id_field": id_field,
        "name_field": name_field,
        "regions_crs": regions_crs,
        "out_dir": out_dir,
        "overwrite": overwrite,
        "rate": rate,
        "emissions_field": emissions_field,
        "duplicate_ids": duplicate_ids,
        "period_years": period_years,
        "chunks": chunk_budget(chunks, memory_limit=memory_limit, workers=workers, layers=24),
        "compress": compress or get_options()["compress"],
        "progress": resolve(progress),
    }
    with compute_on(compute, scheduler, workers, memory_limit=memory_limit) as ctx:
        return _run_comparison(args, ctx)


class _ComparisonArgs(TypedDict):
    """The parameters of :func:`run_comparison`, with chunks, codec and progress resolved."""

    folder: str | Path
    regions_path: str | Path
    id_field: str
    name_field: str | None
    regions_crs: str | None
    out_dir: str | Path
    overwrite: bool
    rate: float
    emissions_field: str | None
    duplicate_ids: DuplicatePolicy
    period_years: float
    chunks: tuple[int, int] | int
    compress: Codec
    progress: Progress | None


def _rasters(
    maps: dict[str, xr.DataArray], scenarios: tuple[str, ...], tags: dict[str, Any]
) -> dict[str, RasterOutput]:
    target = Continuous("YlGn", label_unit=RATE_UNITS, vmin=0.0, vmax_if_empty=1.0)
    # 0–2 on a diverging ramp centred on 1: red falls short, blue exceeds.
    share = Continuous("RdYlBu", label_unit="x target", vmin=0.0, vmax=2.0)
    out = {"target_rate": RasterOutput(maps["target_rate"], target)}
    out |= {f"share_{sc}": RasterOutput(maps[f"share_{sc}"], share) for sc in scenarios}
    out |= {
        stem: RasterOutput(maps[stem], share)
        for sc in scenarios
        if (stem := f"additional_share_of_target_{sc}") in maps
    }
    return {
        stem: replace(r, tags={**tags, "layer": stem, "software": "soilmap"})
        for stem, r in out.items()
    }


def _reductions(
    layers: GsocseqLayers,
    area: xr.DataArray,
    summed: dict[str, xr.DataArray],
    identities: dict[str, tuple[str, xr.DataArray]],
) -> dict[str, Reduction]:
    """Whole-raster totals, identity errors and cleaning counts, computed with the maps.

    Totals are over the same cells as the table rows: where every summed layer has data.
    """
    mask = functools.reduce(operator.and_, [v.notnull() for v in summed.values()])
    reductions: dict[str, Reduction] = {"area_ha": (area.where(mask), "sum")}
    reductions |= {f"{k}_sum": ((v * area).where(mask), "sum") for k, v in summed.items()}
    reductions["left_out"] = (layers.t0.notnull() & ~mask, "sum")
    for name, (_, err) in identities.items():
        reductions[f"identity:{name}:max_abs_error"] = (err.fillna(0.0), "max")
        reductions[f"identity:{name}:cells"] = (err.notnull(), "sum")
    for key, counts in layers.cleaning.items():
        for c, m in counts["masks"].items():
            reductions[f"cleaning:{key}:{c}"] = (m, "sum")
    return reductions


def _run_comparison(args: _ComparisonArgs, compute: Compute) -> ComparisonResult:
    """:func:`run_comparison` once the parameters are resolved and ``compute`` is set up."""
    t_start = time.perf_counter()
    rate, period_years = args["rate"], args["period_years"]
    layers = discover_gsocseq(args["folder"], chunks=args["chunks"])
    maps = compare(layers, rate=rate, period_years=period_years)
    regions, report = read_regions(
        args["regions_path"],
        id_field=args["id_field"],
        name_field=args["name_field"],
        crs=args["regions_crs"],
        duplicate_ids=args["duplicate_ids"],
        emissions_field=args["emissions_field"],
    )
    regions = regions_on_grid(regions, layers.grid, what=f"{str(args['regions_path'])!r}")
    scenarios, t0 = layers.scenarios, layers.t0
    chunks = dask_chunks(t0)

    area = cell_area_ha(layers.grid, chunks=(chunks[0][0], chunks[1][0]))
    area = area.chunk({"y": chunks[0], "x": chunks[1]}).assign_coords(y=t0.y, x=t0.x)
    summed = {"t0": t0, **{k: v for k, v in maps.items() if k.startswith(("asr_", "rsr_"))}}
    fractions = uniform_fractions(t0)
    identities = identity_errors(layers, period_years=period_years)
    reductions = _reductions(layers, area, summed, identities)

    tags = {"rate": rate, "period_years": period_years, "source": "FAO GSOCseq"}
    rasters = _rasters(maps, scenarios, tags)
    names = [*output_names(list(rasters), [TABLE], formats=_FORMATS), REPORT]
    with OutputStage(args["out_dir"], names, overwrite=args["overwrite"]) as stage:
        # Maps, zonal sums, totals, identities and counts share one read of every block
        # (see test_every_input_block_is_read_once).
        done = execute(
            rasters,
            stage=stage,
            compute=compute,
            chunks=chunks,
            compress=args["compress"],
            zonal=lambda w: window_sums(w, fractions, area, summed, regions, layers.grid),
            reductions=reductions,
            inputs=[*layers.input_paths(), Path(args["regions_path"])],
            progress=args["progress"],
        )
        t_compute = time.perf_counter()
        write_styles(done.written, rasters, done.ranges, done.stretches)
        if done.zonal is None:
            raise ValueError("the comparison computed no zonal sums")
        emissions = regions[EMISSIONS].to_numpy() if args["emissions_field"] else None
        extent = done.zonal.extent_ha
        if extent is None:
            raise ValueError("the comparison's zonal sums carry no covered extent")
        areas = region_areas_on_grid(regions, layers.grid, extent)
        table = _region_table(
            done.zonal.frame(regions), regions, scenarios, rate, emissions, areas, extent
        )
        units = {k: v for k, v in TABLE_UNITS.items() if k in table.columns}
        meta = {"units": "; ".join(f"{k}={v}" for k, v in units.items()), "rate": str(rate)}
        write_tables(stage, table, TABLE, units=units, metadata=meta, formats=_FORMATS)

        r = done.reduced
        one_row = {
            "region_index": [0],
            **{k: [float(r[k])] for k in ("area_ha", *[f"{k}_sum" for k in summed])},
        }
        totals_df = _rows(pd.DataFrame(one_row), scenarios, rate).drop(columns="region_index")
        manifest = _manifest(
            args,
            layers,
            regions=regions,
            report=report,
            done=done,
            identities=identities,
            totals=totals_df,
            rasters=rasters,
            units=units,
            compute=compute,
            timings=(t_start, t_compute),
        )
        write_manifest(stage, manifest)
        # report.html and figures/ from the staged files, as `soilmap run` does.
        tell = reporter(args["progress"])
        tell("report", 0, 1, REPORT)
        write_report(stage.dir, path_for=stage.path)
        tell("report", 1, 1, REPORT)
        outputs = stage.commit()
    tell("done", 1, 1, str(args["out_dir"]))
    log.info("wrote %d files to %s", len(outputs), args["out_dir"])
    return ComparisonResult(
        out_dir=Path(args["out_dir"]),
        outputs=outputs,
        table=table,
        totals=totals_df,
        manifest=manifest,
    )


def _manifest(
    args: _ComparisonArgs,
    layers: GsocseqLayers,
    *,
    regions: gpd.GeoDataFrame,
    report: RegionsReport,
    done: Executed,
    identities: dict[str, tuple[str, xr.DataArray]],
    totals: pd.DataFrame,
    rasters: dict[str, RasterOutput],
    units: dict[str, str],
    compute: Compute,
    timings: tuple[float, float],
) -> dict[str, Any]:
    """``run.json`` of a comparison: parameters, inputs, checks, totals, outputs, timings.

    ``report`` tells what reading the regions repaired or renamed, ``done`` is what the one
    pass computed, ``identities`` GSOCseq's identities checked (text and per-cell errors),
    ``totals`` the whole-raster totals per scenario, ``units`` those of the table's columns
    and ``timings`` the ``time.perf_counter()`` at the start and when the pass was done.
    """
    r = done.reduced
    computed = {
        name: {
            "identity": text,
            "units": STOCK_UNITS,
            "max_abs_error": r[f"identity:{name}:max_abs_error"],
            "cells": r[f"identity:{name}:cells"],
        }
        for name, (text, _) in identities.items()
    }
    cleaning = {
        k: {"rule": v["rule"], **{c: int(r[f"cleaning:{k}:{c}"]) for c in v["masks"]}}
        for k, v in layers.cleaning.items()
    }
    chunks = dask_chunks(layers.t0)
    t_start, t_compute = timings
    timings_s = {
        "open_plan_compute": round(t_compute - t_start, 3),
        "compute_windows": round(done.timings_s["compute_windows"], 3),
        "cog_finish": round(done.timings_s["cog_finish"], 3),
    }
    manifest = {
        "soilmap_gsocseq_comparison": 1,
        "parameters": {
            "folder": str(args["folder"]),
            "regions": str(args["regions_path"]),
            "id_field": args["id_field"],
            "name_field": args["name_field"],
            "regions_crs": args["regions_crs"],
            "rate": args["rate"],
            "period_years": args["period_years"],
            "emissions_field": args["emissions_field"],
            "co2e_per_c": CO2_PER_C,
            "compress": args["compress"],
        },
        "inputs": describe_inputs([*layers.input_paths(), Path(args["regions_path"])]),
        "gsocseq": layers.describe(),
        "regions": {**report.__dict__, "count_on_grid": len(regions)},
        "cleaning": {"source": "FAO-SID/GSOCseq-scripts 9_MapsCorrection.R", **cleaning},
        "identities": _identity_report(computed),
        "compared_cells": {
            "rule": "T0 and every scenario's ASR (and RSR) have data",
            "t0_cells_left_out": int(r["left_out"]),
        },
        "totals": totals.astype(object).where(totals.notna(), None).to_dict("records"),
        "outputs": {
            **{f"{stem}.tif": _layer_meta(out.layer) for stem, out in rasters.items()},
            TABLE: {"columns_units": units},
        },
        "software": software_versions(),
        "compute": {
            "where": compute.description,
            "chunk_shape": [c[0] for c in chunks],
            "chunk_count": [len(c) for c in chunks],
        },
        "timings_s": timings_s,
    }
    timings_s["total"] = round(time.perf_counter() - t_start, 3)
    return manifest
