"""Plan a run: open every input once, at its stage's door, and build every layer lazily.

:func:`plan` does everything up to (not including) the computation and returns the
lazy layers, so a notebook can look at each step; :func:`soilmap.run` then computes
every raster output and the zonal sums window by window (each input block read
once) and writes everything atomically.

The doors: the SOC input is opened by :func:`soilmap.soc.open.open_soc`, the land
cover and its masks by :func:`soilmap.landuse.value.landuse_on_grid`, the regions
(with their emissions field) by :func:`soilmap.io.vector.read_regions`, the
scenario rasters by :mod:`soilmap.scenario.inputs`.  Every config value is checked
here, before anything is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import xarray as xr

from soilmap.areas import cell_area_ha
from soilmap.config import RunConfig
from soilmap.config.sections import soc_paths
from soilmap.grid import Grid, check_same_grid, dask_chunks
from soilmap.io.raster import read_layout
from soilmap.io.vector import RegionsReport, read_regions
from soilmap.keys import Bound, LayerKey
from soilmap.landuse.table import ClassTable
from soilmap.landuse.value import LandUse, all_land, landuse_on_grid
from soilmap.pipeline.extent import (
    crop,
    crop_landuse,
    crop_soc,
    run_window,
    whole_extent_regions,
)
from soilmap.scenario.bounds import project_bounds
from soilmap.scenario.inputs import fine_carbon_share, rate_raster, saturation_stock
from soilmap.scenario.project import Projection, project
from soilmap.soc.open import open_soc
from soilmap.soc.spec import SocInputs
from soilmap.zonal.independent import deviation_layers
from soilmap.zonal.regions import regions_on_grid
from soilmap.zonal.sums import ZonalSums, window_sums, zonal_sums

__all__ = ["Plan", "open_stock", "plan"]

_BOUNDS: tuple[Bound, ...] = ("lower", "upper")


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
    landuse : LandUse
        Land-use group fractions (and the group index when they are 0/1).
    area_ha : xarray.DataArray
        True cell areas, ha.
    layers : dict of str to xarray.DataArray
        Every raster output by file stem (``soc_stock``, ``sequestration_rate`` ...).
    keys : dict of str to LayerKey
        What each of :attr:`layers` is (quantity, scenario, bound).
    projections : dict of str to Projection
        The projection of each scenario's central stock, by scenario name.
    bound_projections : dict of (str, str) to Projection
        The projections of the stock bounds, by (scenario name, bound).
    regions : geopandas.GeoDataFrame
        Regions in the grid's CRS.
    """

    config: RunConfig
    grid: Grid
    stock: xr.DataArray
    landuse: LandUse
    area_ha: xr.DataArray
    layers: dict[str, xr.DataArray]
    keys: dict[str, LayerKey]
    projections: dict[str, Projection]
    regions: gpd.GeoDataFrame
    regions_report: RegionsReport
    assumptions: list[str] = field(default_factory=list)
    soc: SocInputs | None = None
    bound_projections: dict[tuple[str, Bound], Projection] = field(default_factory=dict)
    #: The run's window on the SOC grid (mode, rows, columns, bounds), for run.json.
    extent: dict[str, Any] = field(default_factory=dict)

    @property
    def fractions(self) -> xr.DataArray:
        """Land-use group fractions, dims ``("group", "y", "x")``."""
        return self.landuse.fractions

    @property
    def group_index(self) -> xr.DataArray | None:
        """Each cell's group when the fractions are 0/1 (land cover on the SOC grid,
        no masks): the dominant group, scalar-rate cell maps and the zonal sums then
        use it instead of a pass per group."""
        return self.landuse.index

    @property
    def table(self) -> ClassTable | None:
        """The land-cover class table (None without land cover)."""
        return self.landuse.table

    @property
    def group_codes(self) -> dict[str, int]:
        """Code of each group in ``landuse.tif``."""
        return self.landuse.codes

    def _stocks(self) -> dict[Bound | None, xr.DataArray]:
        out: dict[Bound | None, xr.DataArray] = {None: self.stock}
        if self.soc is not None:
            for bound, layer in _stock_bounds(self.soc).items():
                out[bound] = layer
        return out

    def _all_projections(self) -> dict[tuple[str, Bound | None], Projection]:
        out: dict[tuple[str, Bound | None], Projection] = {
            (name, None): p for name, p in self.projections.items()
        }
        # As pairs: a dict of the narrower key type (Bound, not Bound | None) is refused.
        out.update(self.bound_projections.items())
        return out

    def zonal(self, window: tuple[int, int, int, int] | None = None) -> Any:
        """Lazy zonal sums (a Delayed computing to :class:`~soilmap.zonal.sums.ZonalSums`).

        Layers are keyed by :class:`~soilmap.keys.LayerKey`: the initial stock
        (``LayerKey("soc_stock")`` and its bounds), and for each scenario its per-group
        layers (``LayerKey("sequestration", "p4")``, ``LayerKey("gain_2030", "p4",
        "lower")`` ...).  With a ``window`` ``(row0, row1, col0, col1)`` only the cells
        of that window count.
        """
        layers: dict[LayerKey, xr.DataArray] = {
            LayerKey("soc_stock", bound=b): s for b, s in self._stocks().items()
        }
        derived: dict[LayerKey, tuple[LayerKey, np.ndarray]] = {}
        for (name, bound), proj in self._all_projections().items():
            for k, v in proj.by_group.items():
                key = LayerKey(k, name, bound)
                if k in proj.stock_multiples:
                    # coefficient_g × stock: its totals are the stock's, scaled per group.
                    derived[key] = (LayerKey("soc_stock", bound=bound), proj.stock_multiples[k])
                else:
                    layers[key] = v
        squares: dict[LayerKey, str] = {}
        if self.config.uncertainty_aggregation == "independent" and len(self._stocks()) > 1:
            # Squared cell deviations: regional bounds of independent cells.
            extra, squares, more = deviation_layers(
                self._stocks(),
                self._all_projections(),
                fractional=self.group_index is None,
                n_groups=self.fractions.sizes["group"],
            )
            layers.update(extra)
            derived.update(more)
        # Minima and maxima only where they mean something per cell: the stock.
        minmax = (LayerKey("soc_stock"),)
        args = (self.fractions, self.area_ha, layers, self.regions, self.grid)
        index = self.group_index
        if window is None:
            sums = zonal_sums(*args, minmax=minmax, group_index=index, squares=squares)
        else:
            sums = window_sums(window, *args, minmax=minmax, group_index=index, squares=squares)
        return dask.delayed(ZonalSums.with_multiples, pure=True)(sums, derived) if derived else sums


def open_stock(config: RunConfig) -> SocInputs:
    """Open (or compute from layer properties) the initial SOC stock, lazily.

    Units come from the config, the product preset or the file (never guessed) and
    are checked for plausibility on a small sample; declared cleaning rules are
    applied, with lazily counted removals.  See :func:`soilmap.soc.open.open_soc`.
    """
    return open_soc(config.soc, chunks=config.chunks)


def _stock_bounds(soc: SocInputs) -> dict[Bound, xr.DataArray]:
    """The stock's lower and upper bounds by name; empty without uncertainty."""
    if soc.lower is None or soc.upper is None:
        return {}
    return {"lower": soc.lower, "upper": soc.upper}


def _on_grid_of(da: xr.DataArray, stock: xr.DataArray) -> xr.DataArray:
    """``da`` with the stock's own coordinates (its grid was checked to match).

    Coordinates computed from a transform in two ways differ by float noise
    (~1e-15 degree); xarray's default inner join would then silently crop results.
    """
    return da.assign_coords(y=stock["y"].values, x=stock["x"].values)


def plan(config: RunConfig) -> Plan:
    """Open every input and build every output lazily; compute nothing.

    Raises
    ------
    soilmap.errors.SoilmapError
        For any unusable input or config value (missing, no CRS, no overlap, unknown
        scheme or field ...), before anything is computed.
    """
    # Layers on one grid must align exactly: a coordinate mismatch must raise,
    # never silently crop the outputs (xarray's default join is "inner").
    with xr.set_options(arithmetic_join="exact"):
        return _plan(config)


def _open_landuse(config: RunConfig, stock: xr.DataArray, grid: Grid) -> LandUse:
    stock_chunks = dask_chunks(stock)
    chunks = (stock_chunks[0][0], stock_chunks[1][0])
    lc = config.landcover
    if lc is None:
        return all_land(stock)
    # Any grid: area-weighted group fractions on the SOC grid, chunk for chunk.
    landuse = landuse_on_grid(
        lc.path,
        lc.scheme,
        grid,
        chunks=chunks,
        unknown=lc.unknown,
        method=lc.method,
        exclude=lc.exclude,
        exclude_rasters=lc.exclude_rasters,
        declared_groups=lc.groups,
    )
    return landuse.on_coords_of(stock)


def _open_regions(
    config: RunConfig, grid: Grid
) -> tuple[gpd.GeoDataFrame | None, RegionsReport | None]:
    """The regions on the SOC grid's CRS, or (None, None) for a run without regions."""
    rc = config.regions
    if rc is None:
        return None, None
    regions, report = read_regions(
        rc.path,
        id_field=rc.id_field,
        name_field=rc.name_field,
        layer=rc.layer,
        crs=rc.crs,
        invalid=rc.invalid,
        duplicate_ids=rc.duplicate_ids,
        emissions_field=rc.emissions_field,
        missing_ids=rc.missing_ids,
    )
    return regions_on_grid(regions, grid, what=f"{str(rc.path)!r}"), report


def _plan(config: RunConfig) -> Plan:
    config.check_inputs_exist()
    # The window first (from the SOC header and the regions), so that even the unit
    # check's sample reads only cells of the run's extent.
    whole_grid = read_layout(soc_paths(config.soc)[0], what="SOC").grid
    regions, report = _open_regions(config, whole_grid)
    win, extent = run_window(whole_grid, config.extent, regions)
    spec = replace(config.soc, sample_window=(win.row0, win.row1, win.col0, win.col1))
    whole_soc = open_soc(spec, chunks=config.chunks)
    whole = whole_soc.stock
    check_same_grid(
        whole_grid, Grid.from_dataarray(whole, what="SOC"), what="SOC", reference_name="SOC"
    )
    stock_chunks = dask_chunks(whole)
    chunks = (stock_chunks[0][0], stock_chunks[1][0])
    # Every layer is planned on the whole SOC grid, then cut to the run's window:
    # only the chunks that meet the window are read, computed and written.
    whole_landuse = _open_landuse(config, whole, whole_grid)
    assumptions: list[str] = [*whole_soc.assumptions, *whole_landuse.assumptions]
    grid = whole_grid.window(win.row0, win.row1, win.col0, win.col1)
    soc = crop_soc(whole_soc, win)
    stock = soc.stock
    landuse = crop_landuse(whole_landuse, win)
    if regions is None or report is None:
        regions, report = whole_extent_regions(grid)
        assumptions.append(
            "no regions given: the zonal table has one region, 'all', the run's whole extent"
        )
    area = _on_grid_of(cell_area_ha(whole_grid, chunks=chunks), whole)
    area = crop(area.chunk({"y": stock_chunks[0], "x": stock_chunks[1]}), win)

    nested = len(config.scenarios) > 1
    layers: dict[LayerKey, xr.DataArray] = {LayerKey("soc_stock"): stock}
    if landuse.table is not None:
        layers[LayerKey("landuse_fractions")] = landuse.fractions
    bounds = _stock_bounds(soc)
    layers.update({LayerKey("soc_stock", bound=b): lay for b, lay in bounds.items()})
    if landuse.table is not None:
        layers[LayerKey("landuse")] = landuse.dominant()
    projections: dict[str, Projection] = {}
    bound_projections: dict[tuple[str, Bound], Projection] = {}
    for sc in config.scenarios:
        rate = rate_raster(sc, chunks, whole_grid) if sc.rate_raster is not None else None
        cap = (
            saturation_stock(whole_soc, sc, whole_grid, chunks)
            if sc.saturation is not None
            else None
        )
        rate = crop(_on_grid_of(rate, whole), win) if rate is not None else None
        cap = crop(_on_grid_of(cap, whole), win) if cap is not None else None
        if cap is not None:
            layers[LayerKey("saturation_stock", sc.name)] = cap
        share = fine_carbon_share(sc, landuse.fractions, whole_grid, chunks)
        if share is not None and "y" in share.dims:
            share = crop(_on_grid_of(share, whole), win)
        proj = project(
            stock,
            landuse.fractions,
            sc,
            rate_raster=rate,
            saturation_stock=cap,
            group_index=landuse.index,
            fine_share=share,
        )
        projections[sc.name] = proj
        layers.update({LayerKey(k, sc.name): v for k, v in proj.cell.items()})
        if bounds:
            # Exact minima and maxima over the stock interval (interval arithmetic).
            for bound, bproj in project_bounds(
                stock,
                bounds["lower"],
                bounds["upper"],
                landuse.fractions,
                sc,
                rate_raster=rate,
                saturation_stock=cap,
                group_index=landuse.index,
                fine_share=share,
            ).items():
                bound_projections[(sc.name, bound)] = bproj
                layers.update({LayerKey(k, sc.name, bound): v for k, v in bproj.cell.items()})
    return Plan(
        config=config,
        grid=grid,
        stock=stock,
        landuse=landuse,
        area_ha=area,
        layers={k.stem(nested=nested): v for k, v in layers.items()},
        keys={k.stem(nested=nested): k for k in layers},
        projections=projections,
        regions=regions,
        regions_report=report,
        assumptions=assumptions,
        soc=soc,
        bound_projections=bound_projections,
        extent=extent,
    )
