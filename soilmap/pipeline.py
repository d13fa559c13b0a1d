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
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from rasterio.errors import RasterioError

from soilmap.areas import cell_area_ha
from soilmap.classes import ALL_LAND, ClassTable, load_class_table
from soilmap.cluster import Compute, chunk_cells_for_memory, compute_context, parse_memory
from soilmap.config import LandcoverConfig, RunConfig
from soilmap.errors import ConfigError, InputError, UnitsError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.raster import open_raster, stage_geotiff
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
from soilmap.meta import with_units
from soilmap.regrid import class_fractions
from soilmap.scenario import RATE_UNITS, Projection, Scenario, project, saturation_concentration
from soilmap.socinputs import SocInputs, open_soc
from soilmap.stock import stock_from_layers
from soilmap.styles import continuous_style, paletted_style, style_path_for, write_qml
from soilmap.units import CANONICAL, convert
from soilmap.zonal import (
    ZonalSums,
    region_areas_ha,
    regions_on_grid,
    summarise_groups,
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

    def zonal(self) -> Any:
        """Lazy zonal sums (a Delayed computing to :class:`~soilmap.zonal.ZonalSums`).

        Layers: the initial stock, and for each scenario its per-group layers
        (``"<scenario>|sequestration"``, ``"<scenario>|gain_<year>"`` ...).
        """
        layers = {"soc_stock": self.stock}
        if self.soc is not None and self.soc.lower is not None:
            layers.update(soc_stock_lower=self.soc.lower, soc_stock_upper=self.soc.upper)
        for name, proj in self.projections.items():
            layers.update({f"{name}|{k}": v for k, v in proj.by_group.items()})
        # Minima and maxima only where they mean something per cell: the stock.
        return zonal_sums(
            self.fractions, self.area_ha, layers, self.regions, self.grid, minmax=("soc_stock",)
        )


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


def _rate_raster(sc: Scenario, chunks: tuple[int, int], grid: Grid) -> xr.DataArray:
    assert sc.rate_raster is not None
    da = open_raster(
        sc.rate_raster,
        units=sc.rate_raster_units,
        chunks=chunks,
        what=f"rate raster of scenario {sc.name!r}",
    )
    unit = da.attrs["units"]
    if unit not in RATE_UNITS:
        raise UnitsError(
            f"rate raster {str(sc.rate_raster)!r} is in {unit!r}; relative annual rates must be "
            f"in one of {', '.join(RATE_UNITS)} (declare rate_raster_units in the scenario)."
        )
    check_same_grid(
        grid,
        Grid.from_dataarray(da),
        what=f"rate raster {str(sc.rate_raster)!r}",
        reference_name="the SOC grid",
    )
    out = (da * RATE_UNITS[unit]).astype("float32")
    return with_units(out, "yr-1", step=f"rate raster {unit!r} -> 'yr-1'", history_from=da)


def saturation_stock(
    config: RunConfig, sc: Scenario, grid: Grid, chunks: tuple[int, int]
) -> xr.DataArray:
    """Carbon-saturation stock (t C ha-1) of a scenario's cap, lazily.

    A saturation raster is read as given; a fine-fraction model gives a saturation
    concentration per layer, integrated over the SOC depth range with the SOC
    input's own bulk density (and coarse fragments), exactly as the stock is.
    """
    sat = sc.saturation
    assert sat is not None
    what = f"saturation of scenario {sc.name!r}"
    if sat.method == "raster":
        assert sat.stock is not None
        da = open_raster(sat.stock, units=sat.stock_units, chunks=chunks, what=what)
        check_same_grid(
            grid,
            Grid.from_dataarray(da),
            what=f"{what} {str(sat.stock)!r}",
            reference_name="the SOC grid",
        )
        return convert(da, CANONICAL["stock"], what=what)
    soc = config.soc
    if not soc.content:
        raise ConfigError(
            f"{what}: a fine-fraction model needs the SOC as layer properties (bulk density "
            "per layer) to turn saturation concentrations into stocks. Give [soc.layers], or a "
            "saturation stock raster (method = 'raster')."
        )
    n = len(soc.content)
    paths = sat.fine_fraction if len(sat.fine_fraction) > 1 else sat.fine_fraction * n
    if len(paths) != n:
        raise ConfigError(f"{what}: give one fine-fraction raster, or one per SOC layer ({n}).")
    fine = [
        convert(
            open_raster(
                q, units=sat.fine_fraction_units, chunks=chunks, what=f"{what} fine fraction"
            ),
            "%",
            what=f"fine fraction {q}",
        )
        for q in paths
    ]
    for q, f in zip(paths, fine, strict=True):
        check_same_grid(
            grid,
            Grid.from_dataarray(f),
            what=f"fine fraction {str(q)!r}",
            reference_name="the SOC grid",
        )
    csat = [saturation_concentration(f, sat) for f in fine]
    bd = [
        open_raster(q, units=soc.bulk_density_units, chunks=chunks, what="bulk density")
        for q in soc.bulk_density
    ]
    cf = (
        [
            open_raster(
                q,
                units=soc.coarse_fragments_units or "vol %",
                chunks=chunks,
                what="coarse fragments",
            )
            for q in soc.coarse_fragments
        ]
        if soc.coarse_fragments
        else None
    )
    out = stock_from_layers(
        csat,
        bd,
        soc.depths_cm,
        kind=soc.kind,
        coarse_fragments=cf,
        top=soc.top_cm,
        bottom=soc.bottom_cm,
    )
    out.attrs["long_name"] = f"SOC saturation stock {soc.top_cm:g}-{soc.bottom_cm:g} cm"
    out.name = "saturation_stock"
    return out


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
    config.check_inputs_exist()
    soc = open_stock(config)
    stock = soc.stock
    grid = Grid.from_dataarray(stock, what="SOC")
    chunks = (stock.chunks[0][0], stock.chunks[1][0])
    assumptions: list[str] = list(soc.assumptions)
    table: ClassTable | None = None
    if config.landcover is not None:
        lc = config.landcover
        table = load_class_table(lc.scheme)
        # Any grid: area-weighted group fractions on the SOC grid, chunk for chunk.
        fractions = class_fractions(
            lc.path, table, grid, chunks=chunks, unknown=lc.unknown, method=lc.method
        )
        fractions = _apply_masks(fractions, lc, grid, chunks, assumptions)
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
    )
    regions = regions_on_grid(regions, grid, what=f"{str(config.regions.path)!r}")
    area = cell_area_ha(grid, chunks=chunks)
    area = area.chunk({"y": stock.chunks[0], "x": stock.chunks[1]})

    layers: dict[str, xr.DataArray] = {"soc_stock": stock}
    if table is not None:
        layers["landuse_fractions"] = fractions
    bounds = {"lower": soc.lower, "upper": soc.upper} if soc.lower is not None else {}
    layers.update({f"soc_stock_{b}": lay for b, lay in bounds.items()})
    if table is not None:
        layers["landuse"] = dominant_group(fractions, codes)
    projections: dict[str, Projection] = {}
    several = len(config.scenarios) > 1
    for sc in config.scenarios:
        rate = _rate_raster(sc, chunks, grid) if sc.rate_raster is not None else None
        cap = saturation_stock(config, sc, grid, chunks) if sc.saturation is not None else None
        prefix = f"{sc.name}/" if several else ""
        if cap is not None:
            layers[f"{prefix}saturation_stock"] = cap
        # The bounds go through the same projection as the stock itself.
        for suffix, s0 in (("", stock), *((f"_{b}", lay) for b, lay in bounds.items())):
            proj = project(s0, fractions, sc, rate_raster=rate, saturation_stock=cap)
            projections[f"{sc.name}{suffix}"] = proj
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
    )


def output_names(p: Plan) -> list[str]:
    """Every file name the run will write into the output folder."""
    names = []
    for stem in p.layers:
        names += [f"{stem}.tif", f"{stem}.qml"]
    tables = ["zonal_stats.gpkg", "zonal_stats.csv", "zonal_stats.csvt", "zonal_stats.parquet"]
    return [*names, *tables, "run.json"]


def _emissions(config: RunConfig, regions: gpd.GeoDataFrame) -> np.ndarray | None:
    field_name = config.regions.emissions_field
    if not field_name:
        return None
    table = gpd.read_file(
        config.regions.path,
        layer=config.regions.layer,
        columns=[config.regions.id_field, field_name],
        read_geometry=False,
    )
    if field_name not in table.columns:
        raise InputError(
            f"regions file {str(config.regions.path)!r} has no field "
            f"{field_name!r} (emissions_field)."
        )
    values = pd.to_numeric(table[field_name], errors="coerce")
    by_id = dict(zip(table[config.regions.id_field].astype(str), values, strict=True))
    return np.array([by_id.get(r, np.nan) for r in regions["region_id"]], dtype="float64")


def zonal_table(p: Plan, sums: ZonalSums, region_area: np.ndarray) -> gpd.GeoDataFrame:
    """The zonal statistics table.

    One row per region × land-use group × scenario, plus an ``all`` row per region
    and scenario; totals are Σ value × true cell area × region coverage × group share.
    """
    base = sums.frame(p.regions).rename(columns={"soc_stock_sum": "soc_stock_t"})
    emissions = _emissions(p.config, p.regions)
    several_groups = len(sums.groups) > 1
    frames = []
    for sc in p.config.scenarios:
        frame = base[
            [
                "region_index",
                "region_id",
                "landuse",
                "area_ha",
                "soc_stock_t",
                "soc_stock_min",
                "soc_stock_max",
            ]
        ].copy()
        frame["sequestration_t_per_yr"] = base[f"{sc.name}|sequestration_sum"]
        frame["co2e_t_per_yr"] = frame["sequestration_t_per_yr"] * sc.co2e_factor
        gain_cols = [f"gain_{y}_t" for y in sc.horizons]
        for year, col in zip(sc.horizons, gain_cols, strict=True):
            frame[col] = base[f"{sc.name}|gain_{year}_sum"]
        sum_cols = ["area_ha", "soc_stock_t", "sequestration_t_per_yr", "co2e_t_per_yr", *gain_cols]
        for b in ("lower", "upper"):
            if f"soc_stock_{b}_sum" not in base.columns:
                continue
            # Bounds of every total, from the bound stocks through the same projection.
            frame[f"soc_stock_t_{b}"] = base[f"soc_stock_{b}_sum"]
            frame[f"sequestration_t_per_yr_{b}"] = base[f"{sc.name}_{b}|sequestration_sum"]
            frame[f"co2e_t_per_yr_{b}"] = frame[f"sequestration_t_per_yr_{b}"] * sc.co2e_factor
            for year in sc.horizons:
                frame[f"gain_{year}_t_{b}"] = base[f"{sc.name}_{b}|gain_{year}_sum"]
            sum_cols += [
                f"soc_stock_t_{b}",
                f"sequestration_t_per_yr_{b}",
                f"co2e_t_per_yr_{b}",
                *(f"gain_{y}_t_{b}" for y in sc.horizons),
            ]
        if sc.saturation is not None:
            frame["area_at_saturation_ha"] = base[f"{sc.name}|at_saturation_sum"]
            frame["area_without_saturation_data_ha"] = base[f"{sc.name}|no_saturation_data_sum"]
            sum_cols += ["area_at_saturation_ha", "area_without_saturation_data_ha"]
        if several_groups:
            frame = summarise_groups(
                frame, sum_cols, min_columns=["soc_stock_min"], max_columns=["soc_stock_max"]
            )
        frame["eligible"] = frame["landuse"].isin(sc.eligible) | (frame["landuse"] == ALL_LAND)
        if sc.rate_raster is None:
            frame["rate_per_yr"] = (
                frame["landuse"].map(sc.rate_for).where(frame["landuse"] != "all")
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["soc_mean_t_per_ha"] = frame["soc_stock_t"] / frame["area_ha"]
            if sc.saturation is not None:
                frame["saturated_share"] = frame["area_at_saturation_ha"] / frame["area_ha"]
        ri = frame["region_index"].to_numpy()
        frame["region_area_ha"] = region_area[ri]
        label = "all" if several_groups else sums.groups[0]
        covered = frame[frame["landuse"] == label]
        covered_ha = np.zeros(len(region_area))
        covered_ha[covered["region_index"].to_numpy()] = covered["area_ha"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["covered_share"] = np.where(
                region_area[ri] > 0, covered_ha[ri] / region_area[ri], np.nan
            )
            if emissions is not None:
                frame["emissions_t_co2e_per_yr"] = emissions[ri]
                frame["offset_share"] = frame["co2e_t_per_yr"] / emissions[ri]
        frame["region_name"] = p.regions["region_name"].to_numpy()[ri]
        frame["scenario"] = sc.name
        lead = ["region_id", "region_name", "landuse", *sum_cols]
        rest = [
            c
            for c in (
                "eligible",
                "rate_per_yr",
                "soc_mean_t_per_ha",
                "saturated_share",
                "region_area_ha",
                "covered_share",
                "emissions_t_co2e_per_yr",
                "offset_share",
                "scenario",
                "region_index",
            )
            if c in frame.columns
        ]
        frames.append(frame[lead + rest])
    table = pd.concat(frames, ignore_index=True)
    geoms = p.regions.geometry.to_numpy()[table["region_index"].to_numpy()]
    table = table.drop(columns="region_index")
    return gpd.GeoDataFrame(table, geometry=list(geoms), crs=p.regions.crs)


#: Units of the zonal table's numeric columns (written into run.json and the GPKG).
def zonal_units(scenarios: tuple[Scenario, ...]) -> dict[str, str]:
    units = {
        "area_ha": "ha",
        "soc_stock_t": "t C",
        "sequestration_t_per_yr": "t C yr-1",
        "co2e_t_per_yr": "t CO2e yr-1",
        "rate_per_yr": "yr-1",
        "soc_mean_t_per_ha": "t C ha-1",
        "soc_stock_min": "t C ha-1",
        "soc_stock_max": "t C ha-1",
        "region_area_ha": "ha",
        "covered_share": "1",
        "area_at_saturation_ha": "ha",
        "area_without_saturation_data_ha": "ha",
        "saturated_share": "1",
        "emissions_t_co2e_per_yr": "t CO2e yr-1",
        "offset_share": "1",
    }
    units.update({f"gain_{y}_t": "t C" for sc in scenarios for y in sc.horizons})
    for b in ("lower", "upper"):
        units.update(
            {
                f"{k}_{b}": v
                for k, v in list(units.items())
                if k.startswith(("soc_stock_t", "sequestration", "co2e", "gain_"))
                and not k.endswith(("_lower", "_upper"))
            }
        )
    return units


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


def _chunk_budget(config: RunConfig) -> RunConfig:
    """Turn a memory ceiling into a cell budget per chunk (unless chunks are given)."""
    if config.chunks is not None or not config.memory_limit:
        return config
    n_groups = 12  # a typical class table; per-group layers dominate the working set
    layers = 8 + 4 * n_groups * len(config.scenarios)
    threads = os.cpu_count() or 1
    budget = parse_memory(config.memory_limit)
    if config.workers:
        budget //= config.workers
        threads = max(1, threads // config.workers)
    cells = chunk_cells_for_memory(budget, layers=layers, threads=threads)
    return replace(config, chunks=cells)


def run(
    config: RunConfig, *, progress: bool | None = None, compute: Compute | None = None
) -> RunResult:
    """Run the whole pipeline and write every output into ``config.output.dir``.

    Where the graph runs follows ``config.scheduler`` / ``config.workers`` (local
    threads by default) unless a ready :class:`~soilmap.cluster.Compute` is given.
    """
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
        writes, ranges = {}, {}
        for stem, layer in p.layers.items():
            is_landuse = stem == "landuse"
            target = stage.path(f"{stem}.tif")
            target.parent.mkdir(parents=True, exist_ok=True)
            writes[stem] = stage_geotiff(
                layer,
                target,
                nodata=NODATA_CODE if is_landuse else FLOAT_NODATA,
                dtype="uint8" if is_landuse else "float32",
                compress=config.output.compress,
                resampling="mode" if is_landuse else "average",
                tags=_layer_tags(config, stem),
                lock=compute.lock(f"soilmap-write-{stage.dir.name}-{stem}"),
            )
            if stem == "landuse_fractions":
                continue  # shares: a fixed 0-1 ramp
            if not is_landuse:
                data = (
                    layer.data if isinstance(layer.data, dsa.Array) else dsa.from_array(layer.data)
                )
                ranges[stem] = (dsa.nanmin(data), dsa.nanmax(data))
        zonal = p.zonal()
        show = sys.stderr.isatty() if progress is None else progress
        try:
            counts = p.soc.counts if p.soc is not None else {}
            written, ranges_v, sums, counts_v = compute.compute(
                writes, ranges, zonal, counts, progress=show
            )
        except RasterioError as exc:
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

        table = zonal_table(p, sums, region_areas_ha(p.regions))
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


def total_by_group(result: RunResult) -> pd.DataFrame:
    """Totals over all regions per land-use group (for quick summaries)."""
    t = result.zonal
    return (
        t[t["landuse"] != "all"]
        .groupby("landuse")[["area_ha", "soc_stock_t", "sequestration_t_per_yr", "co2e_t_per_yr"]]
        .sum()
    )
