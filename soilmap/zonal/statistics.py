"""Zonal statistics of any raster: totals with true cell areas, means, minima and maxima."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from dask.delayed import Delayed

from soilmap.grid import Grid
from soilmap.zonal.regions import region_areas_on_grid, regions_on_grid
from soilmap.zonal.sums import AREA, ZonalSums, zonal_sums

__all__ = [
    "per_hectare_total_unit",
    "summarise_groups",
    "zonal_statistics",
]


def summarise_groups(
    frame: pd.DataFrame,
    value_columns: Sequence[str],
    label: str = "all",
    *,
    min_columns: Sequence[str] | None = None,
    max_columns: Sequence[str] | None = None,
    mean_columns: Mapping[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Add one row per region over all groups, labelled ``landuse = label``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows per region × group (from :meth:`ZonalSums.frame`).
    value_columns : sequence of str
        Columns to add up (areas, totals).
    label : str
        ``landuse`` value of the new rows.
    min_columns, max_columns : sequence of str, optional
        Columns combined as the min of the minima / max of the maxima (NaN skipped).
        Default: every column ending in ``_min`` / ``_max``.
    mean_columns : mapping of str to (str, str), optional
        ``{mean: (total, area)}`` recomputed as total / area on the new rows.
        Default: every ``<x>_mean`` whose ``<x>_sum`` is in ``value_columns``, over
        ``area_ha``.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with the new rows after each region's group rows; other columns
        are NaN on the new rows.
    """
    cols = list(frame.columns)
    if min_columns is None:
        min_columns = [c for c in cols if c.endswith("_min")]
    if max_columns is None:
        max_columns = [c for c in cols if c.endswith("_max")]
    if mean_columns is None:
        mean_columns = {
            c: (f"{c[:-5]}_sum", AREA)
            for c in cols
            if c.endswith("_mean") and f"{c[:-5]}_sum" in value_columns and AREA in value_columns
        }
    keys = ["region_index", "region_id"]
    grouped = frame.groupby(keys, as_index=False, sort=False)
    totals = grouped[list(value_columns)].sum()
    for how, columns in (("min", min_columns), ("max", max_columns)):
        if columns:
            extreme = grouped[list(columns)].agg(how)
            totals[list(columns)] = extreme[list(columns)].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for mean, (total, area) in mean_columns.items():
            totals[mean] = (totals[total] / totals[area]).where(totals[area] > 0)
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


_PER_HA = re.compile(r"(?:^|\s)(?:ha-1|ha\^-1|/ha|per ha)(?=\s|$)")


def per_hectare_total_unit(unit: str) -> str | None:
    """Unit of Σ value × hectares for a per-hectare unit (``"t C ha-1"`` → ``"t C"``).

    ``None`` if ``unit`` is not per hectare: such layers get means, not totals.
    """
    if not _PER_HA.search(unit):
        return None
    return " ".join(_PER_HA.sub(" ", unit).split()) or "1"


def zonal_statistics(
    layers: Mapping[str, xr.DataArray],
    regions: gpd.GeoDataFrame,
    *,
    fractions: xr.DataArray | None = None,
    what: str = "the regions",
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Zonal statistics of georeferenced layers (any grids), computed together.

    Each layer is summarised on its own grid and its own data mask; per-hectare layers
    (units ``... ha-1 ...``) get totals ``<name>_sum`` = Σ value × true cell area,
    every layer gets ``<name>_area_ha``, ``<name>_mean``, ``<name>_min``, ``<name>_max``.

    Parameters
    ----------
    layers : mapping of str to xarray.DataArray
        Layers with ``attrs["units"]`` and a CRS.
    regions : geopandas.GeoDataFrame
        ``region_id``, ``region_name``, polygons in any CRS (reprojected per grid).
    fractions : xarray.DataArray, optional
        Land-use group fractions ``("group", "y", "x")`` on the layers' grid; rows per
        region × group plus ``all`` rows.  Default: one ``all_land`` group.
    what : str
        Name of the regions for error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per region (× group), in the regions' CRS, with ``region_area_ha``
        (on the first layer's cell-area surface, see
        :func:`~soilmap.zonal.regions.region_areas_on_grid`), ``covered_share`` (share
        of the region with data in the first layer) and ``extent_share`` (share inside
        the first layer's raster extent), both at most 1.
    dict of str to str
        Unit of every numeric column.

    Raises
    ------
    soilmap.errors.NoOverlapError
        If no region overlaps a layer's raster.
    soilmap.errors.GridMismatchError
        If ``fractions`` is on another grid than a layer.
    """
    from soilmap.errors import InputError

    if not layers:
        raise InputError("zonal statistics need at least one raster layer.")
    (results,) = dask.compute(_lazy_sums(layers, regions, fractions, what))
    frame, units, extent = _merged_frame(layers, results, regions)
    first = next(iter(layers))
    first_grid = Grid.from_dataarray(layers[first], what=first)
    region_area = region_areas_on_grid(
        regions_on_grid(regions, first_grid, what=what), first_grid, extent
    )
    ri = frame["region_index"].to_numpy()
    frame["region_name"] = regions["region_name"].to_numpy()[ri]
    frame["region_area_ha"] = region_area[ri]
    # hectares with data in the first layer: its `all` row (or its single group's)
    label = "all" if (frame["landuse"] == "all").any() else frame["landuse"].iloc[0]
    rows = frame[frame["landuse"] == label]
    with_data = np.zeros(len(region_area))
    with_data[rows["region_index"].to_numpy()] = rows[f"{first}_area_ha"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = region_area[ri] > 0
        frame["covered_share"] = np.where(ok, with_data[ri] / region_area[ri], np.nan)
        frame["extent_share"] = np.where(ok, extent[ri] / region_area[ri], np.nan)
    units.update(region_area_ha="ha", covered_share="1", extent_share="1")
    # Totals only make sense for per-hectare layers: others keep mean/min/max.
    drop = [
        f"{n}_sum"
        for n, lay in layers.items()
        if not per_hectare_total_unit(str(lay.attrs.get("units", "")))
    ]
    frame = frame.drop(columns=drop)
    for col in drop:
        units.pop(col)
    stats = [
        c
        for c in frame.columns
        if c in units and c not in ("region_area_ha", "covered_share", "extent_share")
    ]
    shares = ["region_area_ha", "covered_share", "extent_share"]
    cols = ["region_id", "region_name", "landuse", *stats, *shares]
    table = gpd.GeoDataFrame(
        frame[cols].reset_index(drop=True),
        geometry=list(regions.geometry.to_numpy()[ri]),
        crs=regions.crs,
    )
    return table, units


def _lazy_sums(
    layers: Mapping[str, xr.DataArray],
    regions: gpd.GeoDataFrame,
    fractions: xr.DataArray | None,
    what: str,
) -> list[Delayed]:
    """Lazy :class:`~soilmap.zonal.sums.ZonalSums` of each layer, on its own grid.

    Parameters are those of :func:`zonal_statistics`.
    """
    from soilmap.areas import cell_area_ha
    from soilmap.grid import check_same_grid
    from soilmap.landuse.fractions import uniform_fractions

    lazy = []
    for name, lay in layers.items():
        grid = Grid.from_dataarray(lay, what=name)
        chunks = lay.chunks or ((grid.height,), (grid.width,))
        area = cell_area_ha(grid, chunks=(chunks[0][0], chunks[1][0]))
        area = area.chunk({"y": chunks[0], "x": chunks[1]})
        frac = uniform_fractions(lay) if fractions is None else fractions
        if fractions is not None:
            check_same_grid(
                grid, Grid.from_dataarray(fractions), what="the land use", reference_name=name
            )
        placed = regions_on_grid(regions, grid, what=what)
        lazy.append(zonal_sums(frac, area, {name: lay}, placed, grid))
    return lazy


def _merged_frame(
    layers: Mapping[str, xr.DataArray],
    results: Sequence[ZonalSums],
    regions: gpd.GeoDataFrame,
) -> tuple[pd.DataFrame, dict[str, str], np.ndarray]:
    """The layers' statistics side by side, with ``all`` rows when there are groups.

    Parameters
    ----------
    layers : mapping of str to xarray.DataArray
        The layers, as given to :func:`zonal_statistics`.
    results : sequence of ZonalSums
        The computed sums of each layer, in the order of ``layers``.
    regions : geopandas.GeoDataFrame
        The regions.

    Returns
    -------
    pandas.DataFrame
        Rows per region (× group) with every layer's columns.
    dict of str to str
        Unit of every statistics column.
    numpy.ndarray
        Hectares of each region inside the first layer's raster.
    """
    units: dict[str, str] = {}
    frame: pd.DataFrame | None = None
    extent: np.ndarray | None = None
    value_cols: list[str] = []
    means: dict[str, tuple[str, str]] = {}
    for (name, lay), res in zip(layers.items(), results, strict=True):
        unit = str(lay.attrs.get("units", ""))
        f = res.frame(regions).rename(columns={AREA: f"{name}_area_ha"})
        units.update(
            {f"{name}_area_ha": "ha", **{f"{name}_{s}": unit for s in ("mean", "min", "max")}}
        )
        total = per_hectare_total_unit(unit)
        units[f"{name}_sum"] = total or f"{unit} ha"
        value_cols += [f"{name}_area_ha", f"{name}_sum"]
        means[f"{name}_mean"] = (f"{name}_sum", f"{name}_area_ha")
        if frame is None:
            frame = f
            extent = res.extent_ha
        else:
            frame = frame.merge(f.drop(columns="region_id"), on=["region_index", "landuse"])
    if frame is None or extent is None:
        raise ValueError("zonal statistics need at least one layer with its covered extent.")
    if len(frame["landuse"].unique()) > 1:
        frame = summarise_groups(frame, value_cols, mean_columns=means)
    return frame, units, extent
