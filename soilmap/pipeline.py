"""A whole run: open lazily, build one dask graph, compute it once, write atomically.

:func:`plan` does everything up to (not including) the computation and returns the
lazy layers, so a notebook can look at each step; :func:`run` computes every raster
output and the zonal sums in a single ``dask.compute`` call (each input block is
read once), then writes styles, tables and ``run.json``, and moves all files into
the output folder together.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from rasterio.errors import RasterioError

from soilmap.areas import cell_area_ha
from soilmap.classes import ALL_LAND, ClassTable, load_class_table
from soilmap.config import RunConfig
from soilmap.errors import InputError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.raster import open_categorical, open_raster, stage_geotiff
from soilmap.io.staging import OutputStage
from soilmap.io.vector import RegionsReport, read_regions, write_csv, write_gpkg
from soilmap.landuse import (
    NODATA_CODE,
    dominant_group,
    fractions_from_classes,
    uniform_fractions,
)
from soilmap.manifest import describe_inputs, software_versions, write_json
from soilmap.scenario import project
from soilmap.stock import stock_from_layers
from soilmap.styles import continuous_style, paletted_style, style_path_for, write_qml
from soilmap.units import CANONICAL, convert, parse_unit
from soilmap.zonal import ZonalSums, region_areas_ha, regions_on_grid, zonal_sums

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
    regions: gpd.GeoDataFrame
    regions_report: RegionsReport
    table: ClassTable | None
    group_codes: dict[str, int]
    assumptions: list[str] = field(default_factory=list)

    def zonal(self) -> Any:
        """Lazy zonal sums (a Delayed computing to :class:`~soilmap.zonal.ZonalSums`)."""
        return zonal_sums(
            self.fractions, self.area_ha, {"soc_stock": self.stock}, self.regions, self.grid
        )


@dataclass
class RunResult:
    """What :func:`run` wrote."""

    out_dir: Path
    outputs: list[Path]
    zonal: gpd.GeoDataFrame
    manifest: dict[str, Any]


def open_stock(config: RunConfig) -> xr.DataArray:
    """Open or compute the initial SOC stock (t C ha-1) described by ``config.soc``, lazily."""
    soc = config.soc
    chunks = config.chunks
    if soc.stock is not None:
        da = open_raster(
            soc.stock,
            units=soc.units,
            chunks=chunks,
            nodata=soc.nodata,
            what="SOC stock",
            long_name="SOC stock",
        )
        parse_unit(da.attrs["units"], quantity="stock", what=f"SOC stock {str(soc.stock)!r}")
        out = convert(da, CANONICAL["stock"], what=f"SOC stock {str(soc.stock)!r}")
        out.name = "soc_stock"
        return out

    def layer(paths, units, what):
        arrays = [open_raster(p, units=units, chunks=chunks, what=what) for p in paths]
        ref = Grid.from_dataarray(arrays[0])
        for p, a in zip(paths[1:], arrays[1:], strict=True):
            check_same_grid(
                ref,
                Grid.from_dataarray(a),
                what=f"{what} {str(p)!r}",
                reference_name=f"{str(paths[0])!r}",
            )
        return arrays

    content = layer(soc.content, soc.content_units, "SOC content layer")
    bd = layer(soc.bulk_density, soc.bulk_density_units, "bulk density layer")
    cf = (
        layer(soc.coarse_fragments, soc.coarse_fragments_units or "vol %", "coarse fragments layer")
        if soc.coarse_fragments
        else None
    )
    ref = Grid.from_dataarray(content[0])
    for arr, name in ((bd[0], "bulk density"), *(((cf[0], "coarse fragments"),) if cf else ())):
        check_same_grid(
            ref, Grid.from_dataarray(arr), what=name, reference_name="the SOC content layers"
        )
    return stock_from_layers(
        content,
        bd,
        soc.depths_cm,
        kind=soc.kind,
        coarse_fragments=cf,
        top=soc.top_cm,
        bottom=soc.bottom_cm,
    )


def plan(config: RunConfig) -> Plan:
    """Open every input and build every output lazily; compute nothing.

    Raises
    ------
    soilmap.errors.SoilmapError
        For any unusable input (missing, no CRS, no overlap, unknown scheme ...).
    """
    config.check_inputs_exist()
    stock = open_stock(config)
    grid = Grid.from_dataarray(stock, what="SOC")
    assumptions: list[str] = []
    if stock.attrs.get("assumptions"):
        assumptions.append(stock.attrs["assumptions"])
    table: ClassTable | None = None
    if config.landcover is not None:
        table = load_class_table(config.landcover.scheme)
        ychunks, xchunks = stock.chunks
        classes = open_categorical(config.landcover.path, chunks=(ychunks[0], xchunks[0]))
        fractions = fractions_from_classes(
            classes, table, reference=grid, unknown=config.landcover.unknown
        )
        codes = {g: table.group_code(g) for g in table.group_names()}
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
    area = cell_area_ha(grid, chunks=(stock.chunks[0][0], stock.chunks[1][0]))
    area = area.chunk({"y": stock.chunks[0], "x": stock.chunks[1]})

    layers: dict[str, xr.DataArray] = {"soc_stock": stock}
    if table is not None:
        layers["landuse"] = dominant_group(fractions, codes)
    layers.update(project(stock, fractions, config.scenario))
    return Plan(
        config=config,
        grid=grid,
        stock=stock,
        fractions=fractions,
        area_ha=area,
        layers=layers,
        regions=regions,
        regions_report=report,
        table=table,
        group_codes=codes,
        assumptions=assumptions,
    )


def output_names(p: Plan) -> list[str]:
    """Every file name the run will write into the output folder."""
    names = []
    for stem in p.layers:
        names += [f"{stem}.tif", f"{stem}.qml"]
    return [*names, "zonal_stats.gpkg", "zonal_stats.csv", "zonal_stats.csvt", "run.json"]


def zonal_table(p: Plan, sums: ZonalSums, region_area: np.ndarray) -> gpd.GeoDataFrame:
    """The zonal statistics table: one row per region × land-use group, plus ``all`` rows."""
    sc = p.config.scenario
    frame = sums.frame(p.regions)
    frame = frame.rename(columns={"soc_stock_sum": "soc_stock_t"})
    rate = frame["landuse"].map(sc.rate_for).astype(float)
    frame["sequestration_t_per_yr"] = rate * frame["soc_stock_t"]
    frame["co2e_t_per_yr"] = frame["sequestration_t_per_yr"] * sc.co2e_factor
    gain_cols = []
    for year in sc.horizons:
        col = f"gain_{year}_t"
        frame[col] = (
            frame["landuse"].map(lambda g, y=year: sc.gain_factor(g, y)) * frame["soc_stock_t"]
        )
        gain_cols.append(col)
    sum_cols = ["area_ha", "soc_stock_t", "sequestration_t_per_yr", "co2e_t_per_yr", *gain_cols]
    if len(sums.groups) > 1:
        from soilmap.zonal import summarise_groups

        frame = summarise_groups(frame, sum_cols)
    frame["eligible"] = frame["landuse"].isin(sc.eligible) | (frame["landuse"] == ALL_LAND)
    frame["rate_per_yr"] = frame["landuse"].map(sc.rate_for).where(frame["landuse"] != "all")
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["soc_mean_t_per_ha"] = frame["soc_stock_t"] / frame["area_ha"]
    ri = frame["region_index"].to_numpy()
    frame["region_area_ha"] = region_area[ri]
    covered = frame[frame["landuse"] == ("all" if len(sums.groups) > 1 else sums.groups[0])]
    covered_ha = np.zeros(len(region_area))
    covered_ha[covered["region_index"].to_numpy()] = covered["area_ha"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["covered_share"] = np.where(
            region_area[ri] > 0, covered_ha[ri] / region_area[ri], np.nan
        )
    frame["region_name"] = p.regions["region_name"].to_numpy()[ri]
    frame["scenario"] = sc.name
    cols = [
        "region_id",
        "region_name",
        "landuse",
        *sum_cols,
        "eligible",
        "rate_per_yr",
        "soc_mean_t_per_ha",
        "region_area_ha",
        "covered_share",
        "scenario",
    ]
    geoms = p.regions.geometry.to_numpy()[ri]
    return gpd.GeoDataFrame(
        frame[cols].reset_index(drop=True), geometry=list(geoms), crs=p.regions.crs
    )


#: Units of the zonal table's numeric columns (written into run.json and the GPKG).
def zonal_units(horizons: tuple[int, ...]) -> dict[str, str]:
    units = {
        "area_ha": "ha",
        "soc_stock_t": "t C",
        "sequestration_t_per_yr": "t C yr-1",
        "co2e_t_per_yr": "t CO2e yr-1",
        "rate_per_yr": "yr-1",
        "soc_mean_t_per_ha": "t C ha-1",
        "region_area_ha": "ha",
        "covered_share": "1",
    }
    units.update({f"gain_{y}_t": "t C" for y in horizons})
    return units


_RAMPS = {"soc_stock": "YlOrBr", "sequestration_rate": "YlGn", "co2e_rate": "BuGn"}


def _progress(enabled: bool):
    if enabled:
        from dask.diagnostics import ProgressBar

        return ProgressBar(minimum=1.0, out=sys.stderr)
    import contextlib

    return contextlib.nullcontext()


def _bundle(*results: Any) -> tuple:
    return results


def compute_together(*collections: Any) -> tuple:
    """Compute dask collections in one graph and return results in argument order.

    dask 2026.8 returns ``dask.compute(delayed, array, ...)`` results grouped by
    collection type rather than in argument order; one Delayed that takes every
    collection as an argument keeps the order (and still shares every input read).
    """
    (results,) = dask.compute(dask.delayed(_bundle, pure=True)(*collections))
    return results


def run(config: RunConfig, *, progress: bool | None = None) -> RunResult:
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
    p = plan(config)
    t_plan = time.perf_counter()
    stage = OutputStage(config.output.dir, output_names(p), overwrite=config.output.overwrite)
    with stage:
        scenario = config.scenario
        tags = {
            "scenario": scenario.name,
            "growth": scenario.growth,
            "start_year": scenario.start_year,
            "software": "soilmap",
        }
        writes, ranges = {}, {}
        for stem, layer in p.layers.items():
            is_landuse = stem == "landuse"
            writes[stem] = stage_geotiff(
                layer,
                stage.path(f"{stem}.tif"),
                nodata=NODATA_CODE if is_landuse else FLOAT_NODATA,
                dtype="uint8" if is_landuse else "float32",
                compress=config.output.compress,
                resampling="mode" if is_landuse else "average",
                tags={**tags, "rate": scenario.to_dict()["rate"]},
            )
            if not is_landuse:
                data = (
                    layer.data if isinstance(layer.data, dsa.Array) else dsa.from_array(layer.data)
                )
                ranges[stem] = (dsa.nanmin(data), dsa.nanmax(data))
        zonal = p.zonal()
        with _progress(sys.stderr.isatty() if progress is None else progress):
            try:
                written, ranges_v, sums = compute_together(writes, ranges, zonal)
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
            ramp = _RAMPS.get(stem, "Greens")
            lo = 0.0 if np.isfinite(vmin) and vmin >= 0 else float(vmin)
            write_qml(
                style_path_for(written[stem]),
                continuous_style(lo, float(vmax), ramp=ramp, label_unit=units),
            )
        if "landuse" in written and p.table is not None:
            entries = [(p.group_codes[g], p.table.group_color(g), g) for g in p.table.group_names()]
            write_qml(style_path_for(written["landuse"]), paletted_style(entries))

        table = zonal_table(p, sums, region_areas_ha(p.regions))
        units = zonal_units(scenario.horizons)
        meta = {
            "units": "; ".join(f"{k}={v}" for k, v in units.items()),
            "scenario": scenario.name,
            "software": "soilmap",
        }
        write_gpkg(table, stage.path("zonal_stats.gpkg"), layer="zonal_stats", metadata=meta)
        write_csv(table, stage.path("zonal_stats.csv"))
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
                    "eligible_groups": list(scenario.eligible),
                }
            ),
            "regions": {**p.regions_report.__dict__, "count_on_grid": len(p.regions)},
            "assumptions": p.assumptions,
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
