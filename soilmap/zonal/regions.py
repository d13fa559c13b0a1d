"""Regions on the reference grid: reprojected, clipped to the grid, with their geodesic areas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer

from soilmap.errors import NoOverlapError
from soilmap.grid import Grid

__all__ = [
    "region_areas_ha",
    "region_areas_on_grid",
    "regions_on_grid",
]


def regions_on_grid(
    regions: gpd.GeoDataFrame, grid: Grid, *, what: str, densify: bool = True
) -> gpd.GeoDataFrame:
    """Reproject region polygons to the raster CRS (never the raster to the regions).

    Regions partly or wholly outside the raster are kept (they are reported with the
    share the raster covers, or with area 0).

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        Region polygons in any CRS.
    grid : Grid
        The raster grid.
    what : str
        Name of the regions for error messages.
    densify : bool
        When the CRSs differ, first add vertices so that no edge is longer than half
        a raster cell: an edge is a straight line in the regions' CRS, and would
        otherwise become a chord in the raster's.

    Raises
    ------
    soilmap.errors.NoOverlapError
        If no region overlaps the raster.
    """
    target = grid.crs
    source = regions.crs
    if densify and source is not None and not CRS.from_user_input(source).equals(target):
        step = _cell_size_in(grid, source) / 2.0
        if np.isfinite(step) and step > 0:
            regions = regions.set_geometry(
                shapely.segmentize(regions.geometry.values, step), crs=source
            )
    on_grid = regions.to_crs(grid.crs_wkt)
    box = shapely.box(*grid.bounds)
    hits = on_grid.intersects(box)
    if not hits.any():
        rb = regions.to_crs(4326).total_bounds
        gb = gpd.GeoSeries([box], crs=grid.crs_wkt).to_crs(4326).total_bounds
        raise NoOverlapError(
            f"no region of {what} overlaps the raster: regions span lon {rb[0]:.3f}…{rb[2]:.3f}, "
            f"lat {rb[1]:.3f}…{rb[3]:.3f}; the raster spans lon {gb[0]:.3f}…{gb[2]:.3f}, "
            f"lat {gb[1]:.3f}…{gb[3]:.3f}. Check that both files cover the same area and that "
            "the regions' CRS is right (--regions-crs for files without one)."
        )
    return on_grid


def _cell_size_in(grid: Grid, crs) -> float:
    """Smallest side of the grid's central cell, in units of ``crs``."""
    t = grid.transform
    r, c = grid.height // 2, grid.width // 2
    xs = t.c + t.a * np.array([c, c + 1, c])
    ys = t.f + t.e * np.array([r, r, r + 1])
    to = Transformer.from_crs(grid.crs, CRS.from_user_input(crs), always_xy=True)
    x, y = to.transform(xs, ys, errcheck=False)
    return float(min(np.hypot(x[1] - x[0], y[1] - y[0]), np.hypot(x[2] - x[0], y[2] - y[0])))


def region_areas_ha(regions: gpd.GeoDataFrame) -> np.ndarray:
    """Geodesic area (ha) of each region polygon on the WGS84 ellipsoid (0 if empty)."""
    geod = Geod(ellps="WGS84")
    lonlat = regions.to_crs(4326).geometry
    return np.array(
        [
            abs(geod.geometry_area_perimeter(g)[0]) / 1e4
            if g is not None and not g.is_empty
            else 0.0
            for g in lonlat
        ]
    )


def region_areas_on_grid(
    regions: gpd.GeoDataFrame, grid: Grid, extent_ha: np.ndarray | None
) -> np.ndarray:
    """Area (ha) of each region on the same surface as the grid's cell areas.

    The part of a region inside the raster's extent is ``extent_ha`` (Σ true cell
    area × exact covered share of the cell, the very terms every zonal total is made
    of); the part outside is the geodesic area of the polygon minus the raster box,
    densified to half a cell first so that its edges are those the raster sees
    (straight lines in the grid's CRS).  A geodesic area of the raw polygon treats
    each vertex-to-vertex edge as a geodesic instead: for polygons with long edges it
    differs from the covered area by up to a few ‰ and gave covered shares above 1.
    With this area, ``extent_ha / area`` and every share of it are at most 1.

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        Regions in the grid's CRS (see :func:`regions_on_grid`).
    grid : Grid
        The raster grid.
    extent_ha : numpy.ndarray, optional
        Hectares of each region inside the raster's extent (from the zonal sums);
        without it, the geodesic area of each region (:func:`region_areas_ha`).
    """
    if extent_ha is None:
        return region_areas_ha(regions)
    box = shapely.box(*grid.bounds)
    outside = shapely.difference(regions.geometry.to_numpy(), box)
    step = min(abs(grid.transform.a), abs(grid.transform.e)) / 2.0
    outside = shapely.segmentize(outside, step)
    out_area = region_areas_ha(gpd.GeoDataFrame(geometry=outside, crs=regions.crs))
    return np.asarray(extent_ha, dtype="float64") + out_area
