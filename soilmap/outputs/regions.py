"""The ``regions`` layer of the zonal GeoPackage: one polygon per region, wide columns.

The long ``zonal_stats`` table (one row per region × land-use group × scenario) is the
contract for analysis, but a map needs one feature per region.  :func:`regions_layer`
pivots it: totals of the eligible land, the whole region's stock, an intensive
quantity to map (:data:`INTENSIVE`, potential per hectare of region) and one column
per summed quantity × group (× scenario), e.g. ``sequestration_t_per_yr__cropland``.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["INTENSIVE", "INTENSIVE_UNIT", "intensive_unit", "regions_layer", "regions_units"]

#: The column the ``regions`` layer is drawn by: potential per hectare of region.
INTENSIVE = "sequestration_t_per_ha_yr"
#: Its unit.
INTENSIVE_UNIT = "t C ha-1 yr-1"
_ALL = "all"
#: Columns of the long table that are sums over cells (they add up over groups).
_SUMMED_PREFIXES = ("area_ha", "soc_stock_t", "sequestration_t_per_yr", "co2e_t_per_yr", "gain_")


def _summed(columns: pd.Index) -> list[str]:
    return [
        c
        for c in columns
        if c.startswith(_SUMMED_PREFIXES) and not c.endswith(("_min", "_max", "_per_ha"))
    ]


def regions_layer(table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per region from the long zonal table.

    Parameters
    ----------
    table : geopandas.GeoDataFrame
        The ``zonal_stats`` table: columns ``region_id``, ``region_name``,
        ``landuse`` (with an ``all`` row per region), ``eligible``, ``scenario``,
        ``region_area_ha``, ``covered_share`` and the summed columns.

    Returns
    -------
    geopandas.GeoDataFrame
        ``region_id``, ``region_name``, ``region_area_ha``, ``covered_share``,
        ``area_ha`` and ``soc_stock_t`` (whole region, all land), then per scenario
        (suffix ``__<scenario>`` when there are several): ``eligible_area_ha``,
        ``eligible_soc_stock_t``, the summed columns over the eligible groups,
        :data:`INTENSIVE` (t C yr⁻¹ over the region's geodesic area, ha) and
        ``<column>__<group>`` for every summed column and group.

    Examples
    --------
    >>> import shapely
    >>> t = gpd.GeoDataFrame(
    ...     {
    ...         "region_id": ["A"] * 3,
    ...         "region_name": ["Alpha"] * 3,
    ...         "landuse": ["cropland", "excluded", "all"],
    ...         "eligible": [True, False, False],
    ...         "scenario": ["p4"] * 3,
    ...         "area_ha": [60.0, 40.0, 100.0],
    ...         "soc_stock_t": [3000.0, 1000.0, 4000.0],
    ...         "sequestration_t_per_yr": [12.0, 0.0, 12.0],
    ...         "region_area_ha": [200.0] * 3,
    ...         "covered_share": [0.5] * 3,
    ...     },
    ...     geometry=[shapely.box(0, 0, 1, 1)] * 3,
    ... )
    >>> r = regions_layer(t)
    >>> r[["eligible_area_ha", "sequestration_t_per_yr", "sequestration_t_per_ha_yr"]].iloc[
    ...     0
    ... ].tolist()
    [60.0, 12.0, 0.06]
    >>> float(r["area_ha__excluded"].iloc[0])
    40.0
    """
    scenarios = list(dict.fromkeys(table["scenario"]))
    summed = _summed(table.columns)
    first = table[(table["landuse"] == _ALL) & (table["scenario"] == scenarios[0])]
    out = pd.DataFrame(
        {
            "region_id": first["region_id"].to_numpy(),
            "region_name": first["region_name"].to_numpy(),
            "region_area_ha": first["region_area_ha"].to_numpy(dtype=float),
            "covered_share": first["covered_share"].to_numpy(dtype=float),
            "area_ha": first["area_ha"].to_numpy(dtype=float),
            "soc_stock_t": first["soc_stock_t"].to_numpy(dtype=float),
        }
    )
    ids = out["region_id"]
    for sc in scenarios:
        tag = f"__{sc}" if len(scenarios) > 1 else ""
        rows = table[table["scenario"] == sc]
        groups = rows[rows["landuse"] != _ALL]
        eligible = groups[groups["eligible"].astype(bool)].groupby("region_id", sort=False)
        # Area and stock of the eligible land only (the region's are the columns above).
        cols = {
            f"eligible_{c}{tag}" if c.startswith(("area_ha", "soc_stock_t")) else f"{c}{tag}": (
                eligible[c].sum()
            )
            for c in summed
        }
        frame = pd.DataFrame(cols).reindex(ids).fillna(0.0).reset_index(drop=True)
        seq = frame[f"sequestration_t_per_yr{tag}"].to_numpy(dtype=float)
        area = out["region_area_ha"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[f"{INTENSIVE}{tag}"] = np.where(area > 0, seq / area, np.nan)
        wide = groups.pivot(index="region_id", columns="landuse", values=summed)
        wide = wide.reindex(ids).reset_index(drop=True)
        wide.columns = [f"{c}__{g}{tag}" for c, g in wide.columns]
        out = pd.concat([out, frame, wide], axis=1)
    geoms = first.geometry.to_numpy()
    return gpd.GeoDataFrame(out, geometry=list(geoms), crs=table.crs)


def intensive_unit(units: Mapping[str, str]) -> str:
    """:data:`INTENSIVE_UNIT`, with the depth the table's units state (``(0-30 cm)``)."""
    seq = str(units.get("sequestration_t_per_yr", ""))
    return (
        INTENSIVE_UNIT + seq.removeprefix("t C yr-1")
        if seq.startswith("t C yr-1")
        else (INTENSIVE_UNIT)
    )


def regions_units(layer: gpd.GeoDataFrame, units: Mapping[str, str]) -> dict[str, str]:
    """The unit of every column of ``layer``, from the long table's ``units``."""
    out = {}
    intensive = intensive_unit(units)
    for col in layer.columns:
        base = col.split("__")[0]
        base = base.removeprefix("eligible_")
        if base == INTENSIVE:
            out[col] = intensive
        elif base in units:
            out[col] = units[base]
    return out
