"""A whole run: plan, execute window by window, write every output atomically.

:func:`run` plans the run (:func:`soilmap.plan`), computes every raster, the zonal
sums and the cleaning counts in one pass (:func:`soilmap.pipeline.execute.execute`),
then writes the styles, the zonal table and ``run.json`` through the shared output
stage (:mod:`soilmap.outputs.write`) and moves all files into place together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd

from soilmap.config import RunConfig
from soilmap.grid import dask_chunks
from soilmap.io.staging import OutputLock, OutputStage, output_lock
from soilmap.io.switch import switch_in
from soilmap.keys import LayerKey
from soilmap.landuse.fractions import NODATA_CODE
from soilmap.options import apply_gdal_cache
from soilmap.outputs.manifest import as_json, describe_inputs, software_versions
from soilmap.outputs.write import (
    Continuous,
    Paletted,
    RasterOutput,
    Style,
    disk_full_as_space_error,
    write_manifest,
    write_styles,
    write_tables,
)
from soilmap.outputs.write import output_names as write_names
from soilmap.pipeline.checks import check_reductions, value_checks
from soilmap.pipeline.cluster import Compute, compute_on
from soilmap.pipeline.execute import Executed, chunk_budget, execute
from soilmap.pipeline.plan import Plan, plan
from soilmap.pipeline.resume import clear_stale, fingerprint, interrupt_policy, open_stage
from soilmap.plot.preload import preload_plotting
from soilmap.progress import Progress, reporter, resolve
from soilmap.report import REPORT, write_report
from soilmap.zonal.independent import aggregation_note
from soilmap.zonal.regions import region_areas_on_grid
from soilmap.zonal.table import zonal_table, zonal_units

log = logging.getLogger("soilmap.pipeline")

__all__ = [
    "RunResult",
    "output_names",
    "run",
]


@dataclass
class RunResult:
    """What :func:`run` wrote."""

    out_dir: Path
    outputs: list[Path]
    zonal: gpd.GeoDataFrame
    manifest: dict[str, Any]


def output_names(p: Plan) -> list[str]:
    """Every file name the run will write into the output folder."""
    return [*write_names(list(p.layers), [TABLE]), REPORT]


def _layer_tags(config: RunConfig, key: LayerKey) -> dict[str, Any]:
    """GeoTIFF tags: the scenario a layer belongs to and its parameters.

    In a single-scenario run every layer but the stock and the land use carries the
    scenario's parameters (as soilmap has always tagged them).
    """
    tags: dict[str, Any] = {"software": "soilmap"}
    if key.scenario is not None:
        sc = next(s for s in config.scenarios if s.name == key.scenario)
    elif key in (LayerKey("soc_stock"), LayerKey("landuse")) or len(config.scenarios) > 1:
        return tags
    else:
        sc = config.scenario
    d = sc.to_dict()
    tags.update(
        {
            "scenario": sc.name,
            "growth": sc.growth,
            "start_year": sc.start_year,
            "rate": d["rate"],
            "rate_raster": d["rate_raster"] or "",
            "saturation": d["saturation"]["method"] if d["saturation"] else "none",
        }
    )
    return tags


_RAMPS = {
    "soc_stock": "YlOrBr",
    "sequestration_rate": "YlGn",
    "co2e_rate": "BuGn",
    "saturation_stock": "YlOrBr",
    "years_to_saturation": "viridis",
}

#: The zonal table's stem and GeoPackage layer.
TABLE = "zonal_stats"


def _raster_outputs(p: Plan) -> dict[str, RasterOutput]:
    """How each layer of the plan is written and styled."""
    out = {}
    for stem, layer in p.layers.items():
        key = p.keys[stem]
        tags = _layer_tags(p.config, key)
        style: Style
        if key == LayerKey("landuse"):
            table = p.table
            if table is None:
                raise ValueError("a landuse layer needs the class table")
            entries = tuple(
                (p.group_codes[g], table.group_color(g), g) for g in table.group_names()
            )
            out[stem] = RasterOutput(
                layer,
                Paletted(entries),
                nodata=NODATA_CODE,
                dtype="uint8",
                resampling="mode",
                tags=tags,
            )
            continue
        if key == LayerKey("landuse_fractions"):
            # Open on the first eligible group's band, not on "excluded".
            groups = [str(g) for g in layer.coords[layer.dims[0]].values]
            eligible = {g for sc in p.config.scenarios for g in sc.eligible}
            band = next((i for i, g in enumerate(groups, start=1) if g in eligible), 1)
            style = Continuous("YlGn", label_unit="share of cell", vmin=0.0, vmax=1.0, band=band)
        else:
            style = Continuous(_RAMPS.get(key.stem(nested=False), "Greens"))
            style = replace(style, label_unit=_depth_unit(layer, p.stock.attrs))
        out[stem] = RasterOutput(layer, style, tags=tags)
    return out


def _depth_unit(layer: Any, stock_attrs: dict[str, Any]) -> str | None:
    """Legend unit of a carbon layer with the stock's depth (``t C ha-1 (0-30 cm)``)."""
    unit, depth = str(layer.attrs.get("units", "")), stock_attrs.get("depth_range_cm")
    carbon = unit.startswith(("t C ", "t CO2e ")) and "ha-1" in unit
    return f"{unit} ({depth} cm)" if depth and carbon else None


def run(
    config: RunConfig,
    *,
    progress: bool | Progress | None = None,
    compute: Compute | None = None,
    resume: bool = False,
) -> RunResult:
    """Run the whole pipeline and write every output into ``config.output.dir``.

    Where the graph runs follows ``config.scheduler`` / ``config.workers`` (local
    threads by default) unless a ready :class:`~soilmap.pipeline.cluster.Compute` is
    given.

    Parameters
    ----------
    config : RunConfig
        The run description.
    progress : bool or callable, optional
        Show a progress bar (default: when stderr is a terminal), or a callback that
        receives each :class:`~soilmap.progress.ProgressEvent` (front ends: QGIS,
        ``--progress json``).
    compute : Compute, optional
        Where the graph runs (default: from the config).
    resume : bool
        Continue an interrupted run into the same folder from its finished windows
        (``--resume``, see :mod:`soilmap.pipeline.resume`).

    Returns
    -------
    RunResult
        Paths written, the zonal table and the manifest.
    """
    apply_gdal_cache()
    # The folder is checked writable and held before any input is opened.
    with (
        output_lock(config.output.dir) as lock,
        compute_on(
            compute, config.scheduler, config.workers, memory_limit=config.memory_limit
        ) as ctx,
        # Any full disk (COGs, GeoPackage, CSV, Parquet, run.json) is an OutputSpaceError;
        # the staging folder is gone by the time it is raised.
        disk_full_as_space_error(Path(config.output.dir), "COGs, tables and run.json"),
    ):
        return _run(config, progress=resolve(progress), compute=ctx, lock=lock, resume=resume)


def _run(
    config: RunConfig,
    *,
    progress: Progress | None,
    compute: Compute,
    lock: OutputLock,
    resume: bool,
) -> RunResult:
    t0 = time.perf_counter()
    previous = clear_stale(Path(config.output.dir), resume=resume)
    n_groups = 12  # a typical class table; per-group layers dominate the working set
    chunks = chunk_budget(
        config.chunks,
        memory_limit=config.memory_limit,
        workers=config.workers,
        layers=8 + 4 * n_groups * len(config.scenarios),
    )
    config = replace(config, chunks=chunks)
    report = reporter(progress)
    report("open", 0, 1, "inputs")
    p = plan(config)
    report("open", 1, 1, "inputs")
    t_plan = time.perf_counter()
    rasters = _raster_outputs(p)
    stage, journal = open_stage(
        Path(config.output.dir),
        output_names(p),
        overwrite=config.output.overwrite,
        fp=fingerprint(config, dask_chunks(p.stock)),
        previous=previous,
    )
    preload_plotting()  # the report's libraries, while the windows compute
    with stage, interrupt_policy(stage, journal, resume=resume):
        masks = p.soc.count_masks if p.soc is not None else {}
        rest: list[_Rest] = []
        done = execute(
            rasters,
            stage=stage,
            compute=compute,
            chunks=dask_chunks(p.stock),
            compress=config.output.compress,
            zonal=p.zonal,
            reductions={k: (m, "sum") for k, m in masks.items()},
            stats=check_reductions(p),
            inputs=config.input_paths(),
            progress=progress,
            journal=journal,
            while_finishing=lambda ex, wait: rest.append(
                _write_rest(p, compute, rasters, stage, ex, wait)
            ),
        )
        table, manifest, spent = rest[0]
        report("tables", 1, 1, "zonal tables")
        report("report", 0, 1, REPORT)
        report("report", 1, 1, REPORT)
        manifest["timings_s"] = {
            "plan": round(t_plan - t0, 3),
            "compute_and_write_rasters": round(sum(done.timings_s.values()), 3),
            "compute_windows": round(done.timings_s["compute_windows"], 3),
            "cog_finish": round(done.timings_s["cog_finish"], 3),
            **{k: round(v, 3) for k, v in spent.items()},
            "total": round(time.perf_counter() - t0, 3),
        }
        write_manifest(stage, manifest)
        outputs = switch_in(stage, lock, fallback_names=output_names(p))
    report("done", 1, 1, str(config.output.dir))
    log.info(
        "wrote %d files to %s in %.1f s", len(outputs), config.output.dir, time.perf_counter() - t0
    )
    return RunResult(
        out_dir=Path(config.output.dir), outputs=outputs, zonal=table, manifest=manifest
    )


#: What a run writes while its COGs are copied: the zonal table, run.json's content
#: (without the timings) and the seconds the tables and the report took (the
#: report's own, and apart its wait for the COGs its maps draw).
_Rest = tuple[gpd.GeoDataFrame, dict[str, Any], dict[str, float]]


def _write_rest(
    p: Plan,
    compute: Compute,
    rasters: dict[str, RasterOutput],
    stage: OutputStage,
    done: Executed,
    wait: Callable[[str], Path],
) -> _Rest:
    """Styles, zonal tables and the report, written while GDAL copies the COGs.

    The value checks raise here, before anything is moved into the output folder.
    The report's maps wait for the COG they draw (``wait``); its charts need none.
    Their progress is told once the COGs are written (:data:`soilmap.progress.STAGES`
    keeps its order).
    """
    t0 = time.perf_counter()
    config = p.config
    write_styles(done.written, rasters, done.ranges, done.stretches)
    if done.zonal is None:
        raise ValueError("the run computed no zonal sums")
    areas = region_areas_on_grid(p.regions, p.grid, done.zonal.extent_ha)
    table = zonal_table(
        config.scenarios, p.regions, done.zonal, areas, aggregation=config.uncertainty_aggregation
    )
    checks = value_checks(p, done.reduced, table)  # raises: nothing moved into --out
    units = zonal_units(config.scenarios, p.stock.attrs.get("depth_range_cm"))
    meta = {
        "units": "; ".join(f"{k}={v}" for k, v in units.items()),
        "scenarios": ", ".join(sc.name for sc in config.scenarios),
        "software": "soilmap",
    }
    write_tables(stage, table, TABLE, units=units, metadata=meta, with_regions=True)
    manifest = _manifest(p, compute, done.reduced, units)
    manifest["value_checks"] = checks
    t_tables = time.perf_counter()
    stems = {path: stem for stem, path in done.written.items()}
    waited = [0.0]

    def ready(path: Path) -> bool:
        t = time.perf_counter()
        try:
            return wait(stems[path]).exists() if path in stems else path.exists()
        finally:
            waited[0] += time.perf_counter() - t

    write_report(stage.dir, path_for=stage.path, manifest=as_json(manifest), ready=ready)
    spent = {
        "tables_and_styles": t_tables - t0,
        "report": time.perf_counter() - t_tables - waited[0],
        "report_waiting_for_cogs": waited[0],
    }
    return table, manifest, spent


def _manifest(
    p: Plan, compute: Compute, counts: dict[str, Any], units: dict[str, str]
) -> dict[str, Any]:
    """``run.json`` of a run (timings are added by the caller)."""
    config = p.config
    chunks = dask_chunks(p.stock)
    return {
        "soilmap_run": 1,
        "config_file": str(config.source) if config.source else None,
        "parameters": config.to_dict(),
        "inputs": describe_inputs(config.input_paths()),
        "grid": {
            "crs": p.grid.crs.to_string(),
            "shape": list(p.grid.shape),
            "transform": list(p.grid.transform)[:6],
            "description": p.grid.describe(),
        },
        "landcover": (
            {
                "eligible_all": True,
                "note": "no land cover given: every cell with SOC data counts as eligible land",
            }
            if p.table is None
            else {
                "eligible_all": False,
                "class_table": p.table.name,
                "source": p.table.source,
                "group_codes": p.group_codes,
                "eligible_groups": {sc.name: list(sc.eligible) for sc in config.scenarios},
                # classes whose group departs from their IPCC (2006) land category, and why
                "ipcc_exceptions": {str(c): r for c, r in p.table.ipcc_exceptions},
            }
        ),
        "regions": {**p.regions_report.__dict__, "count_on_grid": len(p.regions)},
        "extent": p.extent,
        "assumptions": p.assumptions,
        "uncertainty_aggregation": aggregation_note(config.uncertainty_aggregation, config.soc.z),
        "soc_inputs": p.soc.report(counts) if p.soc is not None else None,
        "outputs": {
            **{
                f"{s}.tif": {
                    "units": lay.attrs.get("units"),
                    "long_name": lay.attrs.get("long_name"),
                    "history": lay.attrs.get("history", "").splitlines(),
                }
                for s, lay in p.layers.items()
            },
            "zonal_stats": {"columns_units": units},
        },
        "software": software_versions(),
        "compute": {
            "where": compute.description,
            "chunk_shape": [c[0] for c in chunks],
            "chunk_count": [len(c) for c in chunks],
        },
    }
