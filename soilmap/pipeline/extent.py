"""The cells a run covers: the regions' box, an explicit window, or the whole raster.

A national run on a global map (Bhutan on the WHRC 10 km grid, a country on
SoilGrids 250 m) works on the bounding box of its regions, snapped outward to whole
SOC cells: every layer is planned lazily on the SOC grid and then cut to that window
with :func:`crop`, so only the chunks (whole internal blocks) that meet the window
are read, computed and written.  Totals do not change: a region's cells are all
inside the box.

>>> from affine import Affine
>>> g = Grid("EPSG:4326", Affine(0.5, 0, 0, 0, -0.5, 10), (20, 20))
>>> snap_window(g, (1.2, 3.0, 2.9, 4.1))
RunWindow(row0=11, row1=14, col0=2, col1=6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import shapely
import xarray as xr
from rasterio.warp import transform_bounds

from soilmap.config.sections import ExtentConfig
from soilmap.errors import ConfigError, NoOverlapError
from soilmap.grid import Grid
from soilmap.io.vector import RegionsReport
from soilmap.landuse.value import LandUse
from soilmap.soc.spec import SocInputs

__all__ = [
    "RunWindow",
    "crop",
    "crop_landuse",
    "crop_soc",
    "run_window",
    "snap_window",
    "whole_extent_regions",
]

# Bounds this close (in cells) to a cell edge are on it: a box made of whole cells
# must not gain a row of cells from float noise.
_EDGE_TOL = 1e-6


@dataclass(frozen=True)
class RunWindow:
    """Rows ``row0:row1`` and columns ``col0:col1`` of the SOC grid (end exclusive)."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.row1 - self.row0, self.col1 - self.col0


def snap_window(grid: Grid, bounds: tuple[float, float, float, float]) -> RunWindow:
    """The cells of ``grid`` that ``bounds`` (W, S, E, N in its CRS) touches, clipped to it.

    Snapped outward to whole cells; an empty result (bounds outside the raster) has
    zero rows or columns.
    """
    inv = ~grid.transform
    w, s, e, n = bounds
    corners = [inv @ (x, y) for x in (w, e) for y in (s, n)]
    us = [c[0] for c in corners]
    vs = [c[1] for c in corners]
    c0 = math.floor(min(us) + _EDGE_TOL)
    c1 = math.ceil(max(us) - _EDGE_TOL)
    r0 = math.floor(min(vs) + _EDGE_TOL)
    r1 = math.ceil(max(vs) - _EDGE_TOL)
    height, width = grid.shape
    c0, c1 = max(0, c0), min(width, c1)
    r0, r1 = max(0, r0), min(height, r1)
    return RunWindow(r0, max(r0, r1), c0, max(c0, c1))


def run_window(
    grid: Grid, extent: ExtentConfig, regions: gpd.GeoDataFrame | None
) -> tuple[RunWindow, dict[str, Any]]:
    """The run's window on the SOC grid and its description for ``run.json``.

    Parameters
    ----------
    grid : Grid
        The whole SOC grid.
    extent : ExtentConfig
        ``regions`` (default), ``raster`` or ``bbox``.
    regions : geopandas.GeoDataFrame, optional
        Regions in the grid's CRS; without them the default covers the whole raster.

    Raises
    ------
    soilmap.errors.NoOverlapError
        The bbox (or the regions' box) holds no cell of the raster.
    soilmap.errors.ConfigError
        The bbox CRS is not a CRS.
    """
    whole = RunWindow(0, grid.height, 0, grid.width)
    mode = extent.mode
    if mode == "raster" or (mode == "regions" and regions is None):
        win, how = whole, "the whole SOC raster"
    elif mode == "regions":
        assert regions is not None
        geoms = regions.geometry[~regions.geometry.is_empty & regions.geometry.notna()]
        box = tuple(float(v) for v in geoms.total_bounds)
        win = snap_window(grid, box)  # type: ignore[arg-type]
        how = "the regions' bounding box, snapped outward to whole SOC cells"
    else:
        assert extent.bbox is not None
        box = extent.bbox
        if extent.crs is not None:
            try:
                box = transform_bounds(extent.crs, grid.crs, *box, densify_pts=101)
            except Exception as exc:  # rasterio raises CRSError or ValueError
                raise ConfigError(
                    f"--bbox-crs {extent.crs!r} is not a usable CRS ({exc})."
                ) from exc
        win = snap_window(grid, box)
        how = f"the bbox {list(extent.bbox)}" + (f" ({extent.crs})" if extent.crs else "")
        how += ", snapped outward to whole SOC cells"
    if win.shape[0] == 0 or win.shape[1] == 0:
        raise NoOverlapError(
            f"the run's extent ({how}) holds no cell of the SOC raster "
            f"({grid.describe()}, bounds {[round(b, 6) for b in grid.bounds]}). Check the "
            "bbox (W S E N, in the SOC CRS unless --bbox-crs is given) or the regions."
        )
    sub = grid.window(win.row0, win.row1, win.col0, win.col1)
    info = {
        "mode": mode if not (mode == "regions" and regions is None) else "raster",
        "how": how,
        "window": {"row0": win.row0, "row1": win.row1, "col0": win.col0, "col1": win.col1},
        "shape": list(win.shape),
        "bounds": list(sub.bounds),
        "crs": grid.crs.to_string(),
        "share_of_raster": (win.shape[0] * win.shape[1]) / float(grid.height * grid.width),
    }
    return win, info


def crop(da: xr.DataArray, win: RunWindow) -> xr.DataArray:
    """``da`` cut to the window, lazily (only the chunks meeting it stay in the graph)."""
    return da.isel(y=slice(win.row0, win.row1), x=slice(win.col0, win.col1))


def crop_soc(soc: SocInputs, win: RunWindow) -> SocInputs:
    """The SOC input cut to the window: layers, and the cleaning counts over its cells."""
    masks = {k: crop(m, win) for k, m in soc.count_masks.items()}
    counts = dict(soc.counts)
    counts.update({k: m.sum().data for k, m in masks.items()})
    # The range checks count only the window's cells (their flat indices stay the
    # whole grid's, so locations are still right).
    checks = [
        replace(
            rc,
            data=crop(rc.data, win) if rc.data is not None else None,
            origin=(rc.origin[0] + win.row0, rc.origin[1] + win.col0),
        )
        for rc in soc.range_checks
    ]
    return replace(
        soc,
        range_checks=checks,
        stock=crop(soc.stock, win),
        lower=crop(soc.lower, win) if soc.lower is not None else None,
        upper=crop(soc.upper, win) if soc.upper is not None else None,
        counts=counts,
        count_masks=masks,
    )


def crop_landuse(landuse: LandUse, win: RunWindow) -> LandUse:
    """The land use cut to the window."""
    index = crop(landuse.index, win) if landuse.index is not None else None
    return replace(landuse, fractions=crop(landuse.fractions, win), index=index)


def whole_extent_regions(grid: Grid) -> tuple[gpd.GeoDataFrame, RegionsReport]:
    """One region ``"all"``: the run's whole extent, for a run without regions.

    The box's edges get a vertex at every cell edge, so its geodesic area is the
    area of its cells (an edge between two vertices of a lon/lat box would otherwise
    be a geodesic, not a parallel).
    """
    left, bottom, right, top = grid.bounds
    box = shapely.box(left, bottom, right, top)
    step = float(min(abs(grid.transform.a), abs(grid.transform.e)))
    box = shapely.segmentize(box, step)
    frame = gpd.GeoDataFrame(
        {"region_id": ["all"], "region_name": ["all"]},
        geometry=gpd.GeoSeries([box], crs=grid.crs_wkt),
        crs=grid.crs_wkt,
    )
    epsg = grid.crs.to_epsg()
    report = RegionsReport(
        path="none: the whole extent of the run is one region, 'all'",
        layer=None,
        count=1,
        source_crs=f"EPSG:{epsg}" if epsg else grid.crs.to_wkt(),
        crs_assumed=False,
        repaired=(),
        empty=(),
    )
    return frame, report
