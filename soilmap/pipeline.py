"""A whole run: open lazily, build one dask graph, compute it once, write atomically.

:func:`plan` does everything up to (not including) the computation and returns the
lazy layers, so a notebook can look at each step; :func:`run` computes every raster
output and the zonal sums in a single ``dask.compute`` call (each input block is
read once), then writes styles, tables and ``run.json``, and moves all files into
the output folder together.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask
import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from rasterio.errors import RasterioError

from soilmap.areas import cell_area_ha
from soilmap.classes import ALL_LAND, ClassTable, load_class_table
from soilmap.cluster import Compute, chunk_cells_for_memory, compute_context, parse_memory
from soilmap.config import LandcoverConfig, RunConfig
from soilmap.errors import InputError, OutputSpaceError
from soilmap.grid import Grid
from soilmap.io.raster import ScratchRaster, create_scratch
from soilmap.io.staging import OutputStage
from soilmap.io.vector import (
    RegionsReport,
    read_regions,
    write_csv,
    write_gpkg,
    write_parquet,
)
from soilmap.landuse import (
    NODATA_CODE,
    dominant_group,
    uniform_fractions,
)
from soilmap.manifest import describe_inputs, software_versions, write_json
from soilmap.masks import apply_exclusion, raster_mask_fraction, vector_mask_fraction
from soilmap.regrid import class_fractions_and_index
from soilmap.scenario import Projection, project
from soilmap.scenario_inputs import rate_raster, saturation_stock
from soilmap.socinputs import SocInputs, open_soc
from soilmap.styles import continuous_style, paletted_style, style_path_for, write_qml
from soilmap.tables import zonal_table, zonal_units
from soilmap.zonal import (
    ZonalSums,
    region_areas_ha,
    regions_on_grid,
    zonal_sums,
)

__all__ = ["Plan", "RunResult", "open_stock", "plan", "run"]

log = logging.getLogger(__name__)

FLOAT_NODATA = -9999.0


@dataclass
class Plan:
    """The lazy state of a run, before anything is computed.

    Attributes
    ----------
    config : RunConfig
    grid : Grid
        Reference (SOC) grid.
    stock : xarray.DataArray
        Initial SOC stock, t C ha-1.
    fractions : xarray.DataArray
        Land-use group fractions, dims ``("group", "y", "x")``.
    area_ha : xarray.DataArray
        True cell areas, ha.
    layers : dict of str to xarray.DataArray
        Every raster output by file stem (``soc_stock``, ``sequestration_rate`` ...).
    regions : geopandas.GeoDataFrame
        Regions in the grid's CRS.
    group_index : xarray.DataArray or None
        Each cell's group when the fractions are 0/1 (land cover on the SOC grid,
        no masks): the dominant group, scalar-rate cell maps and the zonal sums
        then use it instead of a pass per group.
    """

    config: RunConfig
    grid: Grid
    stock: xr.DataArray
    fractions: xr.DataArray
    area_ha: xr.DataArray
    layers: dict[str, xr.DataArray]
    projections: dict[str, Projection]
    regions: gpd.GeoDataFrame
    regions_report: RegionsReport
    table: ClassTable | None
    group_codes: dict[str, int]
    assumptions: list[str] = field(default_factory=list)
    soc: SocInputs | None = None
    projection_stock: dict[str, str] = field(default_factory=dict)
    group_index: xr.DataArray | None = None

    def zonal(self, window: tuple[int, int, int, int] | None = None) -> Any:
        """Lazy zonal sums (a Delayed computing to :class:`~soilmap.zonal.ZonalSums`).

        Layers: the initial stock, and for each scenario its per-group layers
        (``"<scenario>|sequestration"``, ``"<scenario>|gain_<year>"`` ...).  With a
        ``window`` ``(row0, row1, col0, col1)`` only the cells of that window count.
        """
        layers = {"soc_stock": self.stock}
        if self.soc is not None and self.soc.lower is not None:
            layers.update(soc_stock_lower=self.soc.lower, soc_stock_upper=self.soc.upper)
        derived: dict[str, tuple[str, np.ndarray]] = {}
        for name, proj in self.projections.items():
            for k, v in proj.by_group.items():
                if k in proj.stock_multiples:
                    # coefficient_g × stock: its totals are the stock's, scaled per group.
                    derived[f"{name}|{k}"] = (self.projection_stock[name], proj.stock_multiples[k])
                else:
                    layers[f"{name}|{k}"] = v
        fractions, area, grid, index = self.fractions, self.area_ha, self.grid, self.group_index
        if window is not None:
            r0, r1, c0, c1 = window
            sel = {"y": slice(r0, r1), "x": slice(c0, c1)}
            layers = {k: v.isel(sel) for k, v in layers.items()}
            fractions, area = fractions.isel(sel), area.isel(sel)
            index = index.isel(sel) if index is not None else None
            t = grid.transform
            grid = Grid(
                grid.crs_wkt,
                Affine(t.a, t.b, t.c + c0 * t.a, t.d, t.e, t.f + r0 * t.e),
                (r1 - r0, c1 - c0),
            )
        # Minima and maxima only where they mean something per cell: the stock.
        sums = zonal_sums(
            fractions, area, layers, self.regions, grid, minmax=("soc_stock",), group_index=index
        )
        return dask.delayed(ZonalSums.with_multiples, pure=True)(sums, derived) if derived else sums


@dataclass
class RunResult:
    """What :func:`run` wrote."""

    out_dir: Path
    outputs: list[Path]
    zonal: gpd.GeoDataFrame
    manifest: dict[str, Any]


def open_stock(config: RunConfig) -> SocInputs:
    """Open (or compute from layer properties) the initial SOC stock, lazily.

    Units come from the config, the product preset or the file (never guessed) and
    are checked for plausibility on a small sample; declared cleaning rules are
    applied, with lazily counted removals.  See :func:`soilmap.socinputs.open_soc`.
    """
    return open_soc(config.soc, chunks=config.chunks)


def _on_grid_of(da: xr.DataArray, stock: xr.DataArray) -> xr.DataArray:
    """``da`` with the stock's own coordinates (its grid was checked to match).

    Coordinates computed from a transform in two ways differ by float noise
    (~1e-15 degree); xarray's default inner join would then silently crop results.
    """
    return da.assign_coords(y=stock["y"].values, x=stock["x"].values)


def _apply_masks(
    fractions: xr.DataArray,
    lc: LandcoverConfig,
    grid: Grid,
    chunks: tuple[int, int],
    assumptions: list[str],
) -> xr.DataArray:
    """Exclude the area under the vector and raster masks, as cell shares."""
    shares = []
    if lc.exclude:
        polygons = pd.concat(
            [gpd.read_file(q).to_crs(grid.crs_wkt) for q in lc.exclude], ignore_index=True
        )
        # One union of every file's polygons: overlaps between files count once.
        shares.append(
            vector_mask_fraction(gpd.GeoDataFrame(polygons, crs=grid.crs_wkt), grid, chunks=chunks)
        )
    shares += [raster_mask_fraction(q, grid, chunks=chunks) for q in lc.exclude_rasters]
    if not shares:
        return fractions
    kept = shares[0] * 0 + 1
    for share in shares:
        # Independent masks on the same cell: the kept share multiplies.
        kept = kept * (1 - share)
    names = [str(q) for q in (*lc.exclude, *lc.exclude_rasters)]
    assumptions.append(
        "excluded the area under " + ", ".join(names) + " (shares of cells; raster masks are "
        "combined with vector masks as independent shares)"
    )
    return apply_exclusion(fractions, 1 - kept)


def plan(config: RunConfig) -> Plan:
    """Open every input and build every output lazily; compute nothing.

    Raises
    ------
    soilmap.errors.SoilmapError
        For any unusable input (missing, no CRS, no overlap, unknown scheme ...).
    """
    # Layers on one grid must align exactly: a coordinate mismatch must raise,
    # never silently crop the outputs (xarray's default join is "inner").
    with xr.set_options(arithmetic_join="exact"):
        return _plan(config)


def _plan(config: RunConfig) -> Plan:
    config.check_inputs_exist()
    soc = open_stock(config)
    stock = soc.stock
    grid = Grid.from_dataarray(stock, what="SOC")
    chunks = (stock.chunks[0][0], stock.chunks[1][0])
    assumptions: list[str] = list(soc.assumptions)
    table: ClassTable | None = None
    index: xr.DataArray | None = None
    if config.landcover is not None:
        lc = config.landcover
        table = load_class_table(lc.scheme)
        # Any grid: area-weighted group fractions on the SOC grid, chunk for chunk.
        fractions, index = class_fractions_and_index(
            lc.path, table, grid, chunks=chunks, unknown=lc.unknown, method=lc.method
        )
        masked = _apply_masks(fractions, lc, grid, chunks, assumptions)
        # Masks leave shares of cells: the fractions are then no longer 0/1.
        index = _on_grid_of(index, stock) if index is not None and masked is fractions else None
        fractions = _on_grid_of(masked, stock)
        codes = {g: table.group_code(g) for g in fractions["group"].values}
    else:
        fractions = uniform_fractions(stock)
        codes = {ALL_LAND: 1}
        assumptions.append(
            "no land cover given: every cell with SOC data is eligible "
            "(suitable for SOC maps already restricted to farmland, e.g. GSOCseq)"
        )
    regions, report = read_regions(
        config.regions.path,
        id_field=config.regions.id_field,
        name_field=config.regions.name_field,
        layer=config.regions.layer,
        crs=config.regions.crs,
        invalid=config.regions.invalid,
        duplicate_ids=config.regions.duplicate_ids,
    )
    regions = regions_on_grid(regions, grid, what=f"{str(config.regions.path)!r}")
    area = _on_grid_of(cell_area_ha(grid, chunks=chunks), stock)
    area = area.chunk({"y": stock.chunks[0], "x": stock.chunks[1]})

    layers: dict[str, xr.DataArray] = {"soc_stock": stock}
    if table is not None:
        layers["landuse_fractions"] = fractions
    bounds = {"lower": soc.lower, "upper": soc.upper} if soc.lower is not None else {}
    layers.update({f"soc_stock_{b}": lay for b, lay in bounds.items()})
    if table is not None:
        layers["landuse"] = dominant_group(fractions, codes, group_index=index)
    projections: dict[str, Projection] = {}
    projection_stock: dict[str, str] = {}
    several = len(config.scenarios) > 1
    for sc in config.scenarios:
        rate = rate_raster(sc, chunks, grid) if sc.rate_raster is not None else None
        cap = saturation_stock(config, sc, grid, chunks) if sc.saturation is not None else None
        rate = _on_grid_of(rate, stock) if rate is not None else None
        cap = _on_grid_of(cap, stock) if cap is not None else None
        prefix = f"{sc.name}/" if several else ""
        if cap is not None:
            layers[f"{prefix}saturation_stock"] = cap
        # The bounds go through the same projection as the stock itself.
        for suffix, s0 in (("", stock), *((f"_{b}", lay) for b, lay in bounds.items())):
            proj = project(
                s0, fractions, sc, rate_raster=rate, saturation_stock=cap, group_index=index
            )
            projections[f"{sc.name}{suffix}"] = proj
            projection_stock[f"{sc.name}{suffix}"] = f"soc_stock{suffix}"
            layers.update(
                {
                    f"{prefix}{k}{suffix}": v
                    for k, v in proj.cell.items()
                    if not (suffix and k == "years_to_saturation")
                }
            )
    return Plan(
        config=config,
        grid=grid,
        stock=stock,
        fractions=fractions,
        area_ha=area,
        layers=layers,
        projections=projections,
        regions=regions,
        regions_report=report,
        table=table,
        group_codes=codes,
        assumptions=assumptions,
        soc=soc,
        projection_stock=projection_stock,
        group_index=index,
    )


def output_names(p: Plan) -> list[str]:
    """Every file name the run will write into the output folder."""
    names = []
    for stem in p.layers:
        names += [f"{stem}.tif", f"{stem}.qml"]
    tables = ["zonal_stats.gpkg", "zonal_stats.csv", "zonal_stats.csvt", "zonal_stats.parquet"]
    return [*names, *tables, "run.json"]


def _layer_tags(config: RunConfig, stem: str) -> dict[str, Any]:
    """GeoTIFF tags: the scenario a layer belongs to and its parameters."""
    tags: dict[str, Any] = {"software": "soilmap"}
    if "/" in stem:
        name = stem.split("/", 1)[0]
        sc = next(s for s in config.scenarios if s.name == name)
    elif stem in ("soc_stock", "landuse") or len(config.scenarios) > 1:
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


def _windows(chunks: tuple[tuple[int, ...], ...], per_window: int) -> list[tuple[int, ...]]:
    """Chunk-aligned windows ``(row0, row1, col0, col1)`` of about ``per_window`` chunks."""
    ys = np.cumsum((0, *chunks[0]))
    xs = np.cumsum((0, *chunks[1]))
    nx = len(chunks[1])
    per_row = max(1, min(per_window, nx))
    rows_per = max(1, per_window // nx) if per_row == nx else 1
    out = []
    for i in range(0, len(chunks[0]), rows_per):
        i1 = min(i + rows_per, len(chunks[0]))
        for j in range(0, nx, per_row):
            j1 = min(j + per_row, nx)
            out.append((int(ys[i]), int(ys[i1]), int(xs[j]), int(xs[j1])))
    return out


def _compute_windows(
    p: Plan, targets: dict[str, ScratchRaster], compute: Compute, stage: OutputStage, show: bool
) -> tuple:
    """Compute every output, the zonal sums and the counts window by window.

    A window is a few chunks (twice the threads): everything that depends on those
    chunks (raster blocks, zonal partial sums, style ranges, cleaning counts) is
    computed together and released before the next window, so memory is bounded
    by the window, not by the raster, and every input block is still read once.
    Two windows are in flight at a time, so the cores stay busy while one window's
    last chunk finishes and the next window's graph is built.
    """
    threads = os.cpu_count() or 1
    windows = _windows(p.stock.chunks, per_window=2 * threads)
    masks = p.soc.count_masks if p.soc is not None else {}
    styled = [s for s in p.layers if s not in ("landuse", "landuse_fractions")]

    def one(window: tuple[int, int, int, int]) -> tuple:
        r0, r1, c0, c1 = window
        sel = {"y": slice(r0, r1), "x": slice(c0, c1)}
        stores = [
            t.store(
                p.layers[s].isel(sel),
                r0,
                c0,
                lock=compute.lock(f"soilmap-write-{stage.dir.name}-{s}"),
            )
            for s, t in targets.items()
        ]
        ranges = {
            s: (dsa.nanmin(p.layers[s].isel(sel).data), dsa.nanmax(p.layers[s].isel(sel).data))
            for s in styled
        }
        window_counts = {k: m.isel(sel).sum().data for k, m in masks.items()}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN", RuntimeWarning)
            _, r_v, z_v, c_v = compute.compute(
                stores, ranges, p.zonal(window), window_counts, progress=False
            )
        return r_v, z_v, c_v

    sums = None
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    counts: dict[str, int] = dict.fromkeys(masks, 0)
    # dask's threaded scheduler gives a pool of cores + 4 threads to a compute called
    # from a thread other than the main one: name the count, or 2 windows oversubscribe.
    with (
        dask.config.set(num_workers=threads),
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="soilmap-window") as pool,
    ):
        pending = [pool.submit(one, w) for w in windows[:2]]
        for n in range(1, len(windows) + 1):
            r_v, z_v, c_v = pending.pop(0).result()
            if n + 1 < len(windows):
                pending.append(pool.submit(one, windows[n + 1]))
            sums = z_v if sums is None else sums.combine(z_v)
            for s, (a, b) in r_v.items():
                lo[s] = float(np.fmin(lo.get(s, np.nan), a))
                hi[s] = float(np.fmax(hi.get(s, np.nan), b))
            for k, v in c_v.items():
                counts[k] += int(v)
            if show:
                print(f"\rsoilmap: {n}/{len(windows)} windows", end="", file=sys.stderr, flush=True)
    if show:
        print(file=sys.stderr)
    return sums, {s: (lo[s], hi[s]) for s in styled}, counts


def _finish_all(targets: dict[str, ScratchRaster]) -> dict[str, Path]:
    """Turn every scratch file into its COG, two at a time, largest first.

    GDAL's COG driver keeps about 1.3 of 2 cores busy on one file (reading and the
    overviews are sequential); a second file in parallel fills the gap.
    """
    order = sorted(targets, key=lambda s: -targets[s].bands * np.dtype(targets[s].dtype).itemsize)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="soilmap-cog") as pool:
        done = {s: pool.submit(targets[s].finish) for s in order}
        return {s: done[s].result() for s in targets}


#: Cells per chunk when neither chunks nor a memory limit are given: with per-group
#: layers a chunk holds ~100 B per cell in flight, and a window holds 2 chunks/thread.
PIPELINE_CHUNK_CELLS = 1024 * 1024


def _space_advice(targets: dict[str, ScratchRaster]) -> str:
    bands = sum(t.bands for t in targets.values())
    h, w = next(iter(targets.values())).shape
    return (
        f"The run writes {len(targets)} rasters ({bands} bands of {h:,} x {w:,} cells) as "
        "uncompressed scratch files (4 bytes per cell and float band) beside the outputs "
        "before compressing them to COGs. Free space on that disk, or choose an --out "
        "folder on a disk with more room."
    )


def _disk_full(exc: Exception, where: Path) -> bool:
    """Whether a GDAL error is a write that ran out of disk."""
    text = str(exc).lower()
    if "no space left" in text or "disk full" in text:
        return True
    # GDAL does not always say why a write failed: an almost full disk says it.
    return "write" in text and shutil.disk_usage(where).free < 64 * 2**20


def check_disk_space(where: Path, targets: dict[str, ScratchRaster]) -> None:
    """Refuse to start a run whose scratch files cannot fit on the disk.

    What the run certainly needs at its peak: every scratch file written in full,
    plus the overviews of the two largest (two COG copies run at a time). The COGs
    themselves need more, so this never refuses a run that could succeed.

    Raises
    ------
    soilmap.errors.OutputSpaceError
        If the disk holding ``where`` has less free space than that.
    """
    if not targets:
        return
    overviews = sorted((t.overview_bytes for t in targets.values()), reverse=True)[:2]
    need = sum(t.scratch_bytes for t in targets.values()) + sum(overviews)
    free = shutil.disk_usage(where).free
    if free < need:
        raise OutputSpaceError(
            f"{where.parent}: the run needs at least {need / 1e9:.1f} GB of free disk, only "
            f"{free / 1e9:.1f} GB are free. {_space_advice(targets)}"
        )


def _chunk_budget(config: RunConfig) -> RunConfig:
    """Cells per chunk: given chunks, a memory ceiling, or the pipeline default."""
    if config.chunks is not None:
        return config
    if not config.memory_limit:
        return replace(config, chunks=PIPELINE_CHUNK_CELLS)
    n_groups = 12  # a typical class table; per-group layers dominate the working set
    layers = 8 + 4 * n_groups * len(config.scenarios)
    threads = os.cpu_count() or 1
    budget = parse_memory(config.memory_limit)
    if config.workers:
        budget //= config.workers
        threads = max(1, threads // config.workers)
    # A window keeps two chunks per thread in flight.
    cells = chunk_cells_for_memory(budget, layers=layers, threads=2 * threads)
    return replace(config, chunks=cells)


def run(
    config: RunConfig, *, progress: bool | None = None, compute: Compute | None = None
) -> RunResult:
    """Run the whole pipeline and write every output into ``config.output.dir``.

    Where the graph runs follows ``config.scheduler`` / ``config.workers`` (local
    threads by default) unless a ready :class:`~soilmap.cluster.Compute` is given.
    """
    # Every input block is read once: GDAL's default cache (5 % of RAM) would only
    # raise the peak memory. Effective if GDAL has not cached anything yet.
    os.environ.setdefault("GDAL_CACHEMAX", "256")
    if compute is None:
        with compute_context(
            config.scheduler, config.workers, memory_limit=config.memory_limit
        ) as ctx:
            return _run(config, progress=progress, compute=ctx)
    return _run(config, progress=progress, compute=compute)


def _run(config: RunConfig, *, progress: bool | None, compute: Compute) -> RunResult:
    """Run the whole pipeline and write every output into ``config.output.dir``.

    Parameters
    ----------
    config : RunConfig
        The run description.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    RunResult
        Paths written, the zonal table and the manifest.
    """
    t0 = time.perf_counter()
    config = _chunk_budget(config)
    p = plan(config)
    t_plan = time.perf_counter()
    stage = OutputStage(config.output.dir, output_names(p), overwrite=config.output.overwrite)
    with stage:
        targets = {}
        for stem, layer in p.layers.items():
            is_landuse = stem == "landuse"
            target = stage.path(f"{stem}.tif")
            target.parent.mkdir(parents=True, exist_ok=True)
            targets[stem] = create_scratch(
                layer,
                target,
                nodata=NODATA_CODE if is_landuse else FLOAT_NODATA,
                dtype="uint8" if is_landuse else "float32",
                compress=config.output.compress,
                resampling="mode" if is_landuse else "average",
                tags=_layer_tags(config, stem),
            )
        check_disk_space(stage.dir, targets)
        show = sys.stderr.isatty() if progress is None else progress
        try:
            sums, ranges_v, counts_v = _compute_windows(p, targets, compute, stage, show)
            t_windows = time.perf_counter()
            written = _finish_all(targets)
        except RasterioError as exc:
            if _disk_full(exc, stage.dir):
                raise OutputSpaceError(
                    f"writing the outputs in {config.output.dir} failed: the disk is full "
                    f"({exc}). {_space_advice(targets)}"
                ) from exc
            # A block that GDAL cannot decode shows up only when it is read.
            raise InputError(
                f"reading an input failed while computing the outputs: {exc}. The file "
                "is probably truncated or corrupted: re-download or re-export it. Inputs: "
                f"{', '.join(str(q) for q in config.input_paths())}."
            ) from exc
        t_compute = time.perf_counter()

        for stem, (vmin, vmax) in ranges_v.items():
            units = p.layers[stem].attrs["units"]
            ramp = _RAMPS.get(stem.rsplit("/", 1)[-1], "Greens")
            lo = 0.0 if np.isfinite(vmin) and vmin >= 0 else float(vmin)
            write_qml(
                style_path_for(written[stem]),
                continuous_style(lo, float(vmax), ramp=ramp, label_unit=units),
            )
        if "landuse_fractions" in written:
            write_qml(
                style_path_for(written["landuse_fractions"]),
                continuous_style(0.0, 1.0, ramp="YlGn", label_unit="share of cell"),
            )
        if "landuse" in written and p.table is not None:
            entries = [(p.group_codes[g], p.table.group_color(g), g) for g in p.table.group_names()]
            write_qml(style_path_for(written["landuse"]), paletted_style(entries))

        table = zonal_table(config, p.regions, sums, region_areas_ha(p.regions))
        units = zonal_units(config.scenarios)
        meta = {
            "units": "; ".join(f"{k}={v}" for k, v in units.items()),
            "scenarios": ", ".join(sc.name for sc in config.scenarios),
            "software": "soilmap",
        }
        write_gpkg(
            table,
            stage.path("zonal_stats.gpkg"),
            layer="zonal_stats",
            metadata=meta,
            units=units,
            style_column="co2e_t_per_yr",
        )
        write_csv(table, stage.path("zonal_stats.csv"))
        write_parquet(table, stage.path("zonal_stats.parquet"), metadata=meta, units=units)
        t_write = time.perf_counter()

        manifest = {
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
                }
            ),
            "regions": {**p.regions_report.__dict__, "count_on_grid": len(p.regions)},
            "assumptions": p.assumptions,
            "soc_inputs": p.soc.report(counts_v) if p.soc is not None else None,
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
                "chunk_shape": [c[0] for c in p.stock.chunks],
                "chunk_count": [len(c) for c in p.stock.chunks],
            },
            "timings_s": {
                "plan": round(t_plan - t0, 3),
                "compute_and_write_rasters": round(t_compute - t_plan, 3),
                "compute_windows": round(t_windows - t_plan, 3),
                "cog_finish": round(t_compute - t_windows, 3),
                "tables_and_styles": round(t_write - t_compute, 3),
            },
        }
        manifest["timings_s"]["total"] = round(time.perf_counter() - t0, 3)
        write_json(manifest, stage.path("run.json"))
        outputs = stage.commit()
    log.info(
        "wrote %d files to %s in %.1f s", len(outputs), config.output.dir, time.perf_counter() - t0
    )
    return RunResult(
        out_dir=Path(config.output.dir), outputs=outputs, zonal=table, manifest=manifest
    )
