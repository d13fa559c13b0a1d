"""Area-weighted zonal sums per region × land-use group, in one pass over the chunks.

Each cell contributes ``coverage × cell area × group fraction`` hectares to a
(region, group) pair, where ``coverage`` is the exact share of the cell inside the
region polygon (exactextract's coverage fractions) and the cell area is its true
ground area.  Every chunk computes its own partial sums inside the same dask graph
as the raster outputs, so the inputs are read once; partial sums are added in a
tree.  Totals are Σ value × area × fraction, never mean × pixel count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dask
import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from pyproj import Geod

from soilmap.errors import NoOverlapError
from soilmap.grid import Grid

__all__ = ["ZonalSums", "region_areas_ha", "regions_on_grid", "zonal_sums"]

#: Sums computed per (region, group): hectares with data, and Σ value × ha per layer.
AREA = "area_ha"


@dataclass(frozen=True)
class ZonalSums:
    """Result of :func:`zonal_sums` once computed.

    Attributes
    ----------
    values : numpy.ndarray
        ``(n_regions, n_groups, 1 + n_layers)``: hectares with data, then Σ layer × ha.
    groups : tuple of str
    layers : tuple of str
    """

    values: np.ndarray
    groups: tuple[str, ...]
    layers: tuple[str, ...]

    def frame(self, regions: pd.DataFrame) -> pd.DataFrame:
        """Long table: one row per region × group, columns ``area_ha`` and ``<layer>_sum``."""
        n_r, n_g, _ = self.values.shape
        rows = pd.DataFrame(
            {
                "region_index": np.repeat(np.arange(n_r), n_g),
                "landuse": np.tile(np.array(self.groups, dtype=object), n_r),
            }
        )
        flat = self.values.reshape(n_r * n_g, -1)
        rows[AREA] = flat[:, 0]
        for k, name in enumerate(self.layers, start=1):
            rows[f"{name}_sum"] = flat[:, k]
        rows["region_id"] = regions["region_id"].to_numpy()[rows["region_index"]]
        return rows


def regions_on_grid(regions: gpd.GeoDataFrame, grid: Grid, *, what: str) -> gpd.GeoDataFrame:
    """Reproject region polygons to the raster CRS (never the raster to the regions).

    Raises
    ------
    soilmap.errors.NoOverlapError
        If no region overlaps the raster.
    """
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


def region_areas_ha(regions: gpd.GeoDataFrame) -> np.ndarray:
    """Geodesic area (ha) of each region polygon on the WGS84 ellipsoid."""
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


def _chunk_sums(
    fractions: np.ndarray,
    area: np.ndarray,
    *layers_and_meta,
) -> np.ndarray:
    *layers, meta = layers_and_meta
    bounds, region_idx, wkbs, n_regions, crs_wkt = meta
    n_groups = fractions.shape[0]
    out = np.zeros((n_regions, n_groups, 1 + len(layers)))
    if not region_idx:
        return out
    h, w = area.shape
    valid = np.isfinite(layers[0]) if layers else np.ones((h, w), bool)
    for lay in layers[1:]:
        valid &= np.isfinite(lay)
    src = NumPyRasterSource(np.zeros((h, w), dtype="uint8"), *bounds, srs_wkt=crs_wkt)
    geoms = gpd.GeoDataFrame(
        {"r": np.asarray(region_idx)}, geometry=shapely.from_wkb(wkbs), crs=crs_wkt
    )
    cov = exact_extract(
        src,
        geoms,
        ["cell_id", "coverage"],
        output="pandas",
        include_cols=["r"],
        strategy="feature-sequential",
    )
    ids = [np.asarray(c, dtype="int64") for c in cov["cell_id"]]
    if not any(len(i) for i in ids):
        return out
    cell = np.concatenate(ids)
    weight = np.concatenate([np.asarray(c, dtype="float64") for c in cov["coverage"]])
    reg = np.repeat(np.asarray(region_idx), [len(i) for i in ids])
    keep = valid.ravel()[cell]
    cell, weight, reg = cell[keep], weight[keep], reg[keep]
    weight = weight * area.ravel()[cell]
    values = [np.ones(len(cell))] + [lay.ravel()[cell].astype("float64") for lay in layers]
    for g in range(n_groups):
        wg = weight * fractions[g].ravel()[cell]
        for k, v in enumerate(values):
            out[:, g, k] = np.bincount(reg, weights=wg * v, minlength=n_regions)
    return out


def _add(*parts: np.ndarray) -> np.ndarray:
    return np.sum(parts, axis=0)


def _tree_sum(items: list, fan_in: int = 8):
    while len(items) > 1:
        items = [
            dask.delayed(_add, pure=True)(*items[i : i + fan_in])
            for i in range(0, len(items), fan_in)
        ]
    return items[0]


def _blocks(arr: dsa.Array) -> np.ndarray:
    # optimize_graph=False keeps the original keys, so these tasks share the
    # input reads with every other output computed in the same dask.compute call.
    return arr.to_delayed(optimize_graph=False)


def zonal_sums(
    fractions: xr.DataArray,
    area_ha: xr.DataArray,
    layers: dict[str, xr.DataArray],
    regions: gpd.GeoDataFrame,
    grid: Grid,
) -> dask.delayed:
    """Lazy per-(region, group) sums of hectares and of ``layer × hectares``.

    Parameters
    ----------
    fractions : xarray.DataArray
        Land-use group fractions, dims ``("group", "y", "x")``.
    area_ha : xarray.DataArray
        True cell areas (ha), dims ``("y", "x")``.
    layers : dict of str to xarray.DataArray
        Per-hectare layers to total (e.g. the SOC stock, t C ha-1).  Cells where any
        of them is NaN count nowhere (not in the area either).
    regions : geopandas.GeoDataFrame
        Region polygons **in the grid's CRS** (see :func:`regions_on_grid`).
    grid : Grid
        The reference grid of every layer.

    Returns
    -------
    dask.delayed.Delayed
        Computes to a :class:`ZonalSums`.
    """
    base = next(iter(layers.values())) if layers else area_ha
    ychunks, xchunks = base.chunks if base.chunks else ((grid.height,), (grid.width,))

    def dask_of(da: xr.DataArray, lead: tuple = ()) -> dsa.Array:
        data = da.data if isinstance(da.data, dsa.Array) else dsa.from_array(da.data)
        return data.rechunk((*lead, ychunks, xchunks))

    frac_blocks = _blocks(
        dask_of(fractions.transpose("group", "y", "x"), ((fractions.sizes["group"],),))
    )
    area_blocks = _blocks(dask_of(area_ha))
    layer_blocks = [_blocks(dask_of(lay.transpose("y", "x"))) for lay in layers.values()]

    geoms = regions.geometry.values
    tree = shapely.STRtree(geoms)
    y_edges = np.cumsum((0, *ychunks))
    x_edges = np.cumsum((0, *xchunks))
    parts = []
    for i in range(len(ychunks)):
        for j in range(len(xchunks)):
            bounds = grid.window_bounds(
                int(y_edges[i]), int(y_edges[i + 1]), int(x_edges[j]), int(x_edges[j + 1])
            )
            hit = sorted(tree.query(shapely.box(*bounds), predicate="intersects").tolist())
            # Only the part of each polygon inside the chunk matters for its cells:
            # clipping keeps the graph small when large polygons span many chunks.
            clipped = shapely.clip_by_rect(geoms[hit], *bounds) if hit else []
            meta = (bounds, hit, shapely.to_wkb(clipped) if hit else [], len(regions), grid.crs_wkt)
            parts.append(
                dask.delayed(_chunk_sums, pure=True)(
                    frac_blocks[0, i, j],
                    area_blocks[i, j],
                    *[lb[i, j] for lb in layer_blocks],
                    meta,
                )
            )
    groups = tuple(str(g) for g in fractions["group"].values)
    return dask.delayed(ZonalSums)(_tree_sum(parts), groups, tuple(layers))


def summarise_groups(
    frame: pd.DataFrame, value_columns: Sequence[str], label: str = "all"
) -> pd.DataFrame:
    """Add one row per region summing all groups, labelled ``landuse = label``."""
    totals = frame.groupby(["region_index", "region_id"], as_index=False, sort=False)[
        list(value_columns)
    ].sum()
    totals["landuse"] = label
    return (
        pd.concat([frame, totals], ignore_index=True)
        .sort_values(
            ["region_index", "landuse"],
            key=lambda s: s if s.name != "landuse" else s.eq(label),
            kind="stable",
        )
        .reset_index(drop=True)
    )
