"""Regional uncertainty bounds for independent cells: cell deviations combined in quadrature.

``uncertainty_aggregation = "correlated"`` (the default) sums the cell bounds: the
errors of all cells are taken as perfectly correlated, the widest regional interval.
``"independent"`` takes every cell's error as independent of the others: a cell's
standard deviation below and above its central value is its interval's half-width
over ``z`` (``sd = (upper − lower) / (2 z)`` for a symmetric interval; below and
above are kept apart so that a capped, asymmetric interval stays on its own side),
and a region's bounds are ``total ∓ z √Σ (w_i sd_i)²`` = ``total ∓ √Σ (w_i d_i)²``,
with ``w_i`` the hectares a cell gives the region (coverage × area × group share)
and ``d_i`` the cell's distance from its central value to its bound.  A region of one
cell keeps the cell's own interval; errors within one cell (its land-use groups
share one stock) stay fully correlated.

This module builds the layers those sums of squares need (see
:func:`soilmap.zonal.sums.zonal_sums`, ``squares``) and turns the sums into bounds.

>>> import numpy as np
>>> total, d = 10.0, np.array([3.0, 4.0])  # two cells of 1 ha, 3 and 4 t below centre
>>> float(total - np.sqrt((d**2).sum()))  # independent (correlated: 10 - 7 = 3)
5.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from soilmap.errors import ConfigError
from soilmap.keys import Bound, LayerKey
from soilmap.scenario.project import Projection

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "aggregation_note",
    "apply_independent",
    "check_aggregation",
    "deviation_layers",
    "hidden_columns",
]

Aggregation = Literal["correlated", "independent"]
#: The accepted values of ``uncertainty_aggregation``.
AGGREGATIONS: tuple[str, ...] = ("correlated", "independent")

_CELL_MAP = {"sequestration": "sequestration_rate"}
_BOUNDS: tuple[Bound, ...] = ("lower", "upper")


def check_aggregation(value: object, *, z: float | None, has_bounds: bool) -> Aggregation:
    """The aggregation, checked: one of :data:`AGGREGATIONS`; "independent" needs ``z``.

    Raises
    ------
    soilmap.errors.ConfigError
        An unknown value, or "independent" bounds without the ``z`` they were given at.
    """
    if value not in AGGREGATIONS:
        raise ConfigError(
            f"uncertainty_aggregation = {value!r}: use 'correlated' (regional bounds are "
            "sums of cell bounds) or 'independent' (cell deviations combined in quadrature)."
        )
    if value == "independent" and has_bounds and not (z is not None and z > 0):
        raise ConfigError(
            "uncertainty_aggregation = 'independent' needs z in [soc]: the number of standard "
            "deviations the bounds lie from the central value (1.645 for a 90 % interval, "
            "1.96 for 95 %), so that sd = (upper - lower) / (2 z)."
        )
    return value  # type: ignore[return-value]


def aggregation_note(value: str, z: float | None) -> str:
    """What ``run.json`` says about the regional bounds."""
    if value == "independent":
        return (
            "independent: each cell's error independent of the others; cell sd below and "
            f"above = (central - lower) / z and (upper - central) / z with z = {z:g} "
            "(sd = (upper - lower) / (2 z) for a symmetric interval); regional bounds = "
            "total -/+ z sqrt(sum((hectares x sd)^2)); within a cell the groups share one error"
        )
    return "correlated: regional bounds are sums of cell bounds (perfectly correlated errors)"


def _key(kind: str, quantity: str, scenario: str | None, bound: Bound) -> LayerKey:
    return LayerKey(f"{kind}:{quantity}", scenario, bound)


def deviation_layers(
    stocks: Mapping[Bound | None, xr.DataArray],
    projections: Mapping[tuple[str, Bound | None], Projection],
    *,
    fractional: bool,
    n_groups: int,
) -> tuple[
    dict[LayerKey, xr.DataArray],
    dict[LayerKey, str],
    dict[LayerKey, tuple[LayerKey, np.ndarray]],
]:
    """The layers whose squared sums give independent regional bounds.

    Parameters
    ----------
    stocks : mapping
        The central stock (key None) and its ``"lower"``/``"upper"`` bounds (t C ha-1).
    projections : mapping of (scenario, bound) to Projection
        Every scenario's central (bound None) and bound projections.
    fractional : bool
        Land use as fractions (not one group per cell): the ``all`` rows then need the
        cell maps' own deviations (groups mixed in a cell share one error).
    n_groups : int
        Number of land-use groups.

    Returns
    -------
    layers : dict of LayerKey to xarray.DataArray
        Deviations ``d >= 0`` to sum as squares: ``var_group:<q>`` per group and
        ``var_cell:<q>`` per cell, for the stock and every per-group projection layer.
    squares : dict of LayerKey to {"group", "cell"}
        How each layer is squared (:func:`soilmap.zonal.sums.zonal_sums`).
    derived : dict of LayerKey to (LayerKey, numpy.ndarray)
        Squared sums that are a constant per group times another's (a stock multiple
        ``coef_g × stock`` has ``coef_g²`` times the stock's squared deviations).
    """
    layers: dict[LayerKey, xr.DataArray] = {}
    squares: dict[LayerKey, str] = {}
    derived: dict[LayerKey, tuple[LayerKey, np.ndarray]] = {}
    stock = stocks[None]
    for b in _BOUNDS:
        if b not in stocks:
            continue
        sign = 1.0 if b == "lower" else -1.0
        # the same widening as the bounds' projections: the interval holds the centre
        d_stock = (sign * (stock - stocks[b])).clip(min=0)
        g_stock = _key("var_group", "soc_stock", None, b)
        layers[g_stock] = d_stock
        squares[g_stock] = "group"
        c_stock = _key("var_cell", "soc_stock", None, b)
        if fractional:
            layers[c_stock], squares[c_stock] = d_stock, "cell"
        for (name, bound), central in projections.items():
            if bound is not None or (name, b) not in projections:
                continue
            bp = projections[(name, b)]
            for q, layer in central.by_group.items():
                if q not in bp.by_group or q in ("at_saturation", "no_saturation_data"):
                    continue
                g_key = _key("var_group", q, name, b)
                c_key = _key("var_cell", q, name, b)
                ones = np.ones(n_groups)
                if q in central.stock_multiples and q in bp.stock_multiples:
                    coef2 = np.asarray(central.stock_multiples[q], "float64") ** 2
                    derived[g_key] = (g_stock, coef2)
                elif fractional:
                    layers[g_key] = (sign * (layer - bp.by_group[q])).clip(min=0)
                    squares[g_key] = "group"
                cell = _CELL_MAP.get(q, q)
                d_cell = (sign * (central.cell[cell] - bp.cell[cell])).clip(min=0)
                if fractional:
                    layers[c_key], squares[c_key] = d_cell, "cell"
                elif g_key in derived:
                    derived[c_key] = derived[g_key]
                else:
                    # one group per cell: the cell's deviation is its group's
                    layers[g_key], squares[g_key] = d_cell, "group"
                    derived[c_key] = (g_key, ones)
        if not fractional:
            derived[c_stock] = (g_stock, np.ones(n_groups))
    return layers, squares, derived


def hidden_columns(
    frame: pd.DataFrame, sums_column: Callable[[LayerKey], np.ndarray], quantities
) -> list[str]:
    """Add the squared-deviation columns of each total; return those summed on ``all`` rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows per region × group (before the ``all`` rows), changed in place.
    sums_column : callable
        :meth:`~soilmap.zonal.result.ZonalSums.column`.
    quantities : iterable of (str, str, str or None)
        ``(column, quantity, scenario)``: ``("soc_stock_t", "soc_stock", None)`` ...
    """
    summed = []
    for column, quantity, scenario in quantities:
        for b in _BOUNDS:
            frame[f"__gv__{column}_{b}"] = sums_column(_key("var_group", quantity, scenario, b))
            frame[f"__cv__{column}_{b}"] = sums_column(_key("var_cell", quantity, scenario, b))
            summed.append(f"__cv__{column}_{b}")
    return summed


def apply_independent(frame: pd.DataFrame, columns, co2e_factor: float) -> pd.DataFrame:
    """Replace the bounds of ``columns`` by ``total ∓ √Σ d²`` and drop the hidden columns.

    Group rows take the per-group squared sums, ``all`` rows the per-cell ones (summed
    over the groups by :func:`~soilmap.zonal.statistics.summarise_groups`).
    """
    is_all = (frame["landuse"] == "all").to_numpy()
    for column in columns:
        for b, sign in (("lower", -1.0), ("upper", 1.0)):
            gv = frame[f"__gv__{column}_{b}"].to_numpy()
            cv = frame[f"__cv__{column}_{b}"].to_numpy()
            var = np.where(is_all, cv, gv)
            frame[f"{column}_{b}"] = frame[column].to_numpy() + sign * np.sqrt(
                np.clip(var, 0, None)
            )
    for b in _BOUNDS:
        if f"sequestration_t_per_yr_{b}" in frame:
            frame[f"co2e_t_per_yr_{b}"] = frame[f"sequestration_t_per_yr_{b}"] * co2e_factor
    return frame.drop(columns=[c for c in frame.columns if c.startswith(("__gv__", "__cv__"))])
