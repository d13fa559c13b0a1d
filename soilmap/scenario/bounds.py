"""Uncertainty bounds of a projection by interval arithmetic.

The lower and upper value of every derived quantity are its exact minimum and
maximum over the input intervals: the initial stock in ``[lower, upper]`` and, under
a cap, the saturation stock in its own interval (a point when it has no bounds).

Without a cap every quantity grows with the stock, so the bounds are the projections
of the bound stocks.  Under a cap the gain of a group with factor ``a`` (``rate`` for
the annual rate, ``rate × years`` or ``(1 + rate)^years − 1`` for a gain) is

    g(s) = min(a s, max(C − k s, 0))

(``C`` the saturation stock, ``k`` the fine-fraction carbon share): it rises with
``s`` up to ``s* = C / (a + k)``, where ``a s = C − k s``, and falls after it, so a
lower stock may gain more.  Its maximum over ``[sL, sU]`` is ``a C / (a + k)`` when
``s*`` is inside, otherwise the larger end; its minimum is the smaller end.  ``g``
grows with ``C``: the lower bound takes the lower saturation stock, the upper bound
the upper one.  A cell's value ``Σ_g f_g g_g(s)`` is piecewise linear in ``s`` with
breakpoints ``s*_g`` and ``C / k_g``: its exact extremes are among those
breakpoints and the ends of the interval (with one group per cell, the group's own
bounds).  Years to saturation fall with the stock and rise with the capacity.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import xarray as xr

from soilmap.keys import Bound
from soilmap.meta import with_units
from soilmap.scenario.model import Scenario
from soilmap.scenario.project import Projection, _group_rates, project
from soilmap.units import CANONICAL

__all__ = ["bound_stocks", "project_bounds"]

_BOUNDS: tuple[Bound, ...] = ("lower", "upper")


def bound_stocks(
    stock: xr.DataArray, lower: xr.DataArray, upper: xr.DataArray
) -> tuple[xr.DataArray, xr.DataArray]:
    """The stock interval, widened where needed so that it holds the central stock.

    Given bound layers may cross the central value in a few cells (a lower-quantile
    map above the mean map): the interval is then taken from the central value on.
    """
    lo = lower.where(~(lower > stock), stock)
    hi = upper.where(~(upper < stock), stock)
    lo.attrs, hi.attrs = dict(lower.attrs), dict(upper.attrs)
    return lo, hi


def _capped(a: xr.DataArray, s: xr.DataArray, cap: xr.DataArray, k: xr.DataArray | float):
    """``min(a s, max(C − k s, 0))``: the capped gain at stock ``s``."""
    return cast(xr.DataArray, np.minimum(a * s, (cap - k * s).clip(min=0)))


def _candidates(
    a: xr.DataArray,
    lo: xr.DataArray,
    hi: xr.DataArray,
    cap: xr.DataArray,
    k: xr.DataArray | float,
) -> list[xr.DataArray]:
    """Stocks in ``[lo, hi]`` where a cell's capped sum may have its extremes."""
    out = [lo, hi]
    k_da = xr.zeros_like(a) + k
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = (cap / (a + k_da)).where((a + k_da) > 0)
        floor = (cap / k_da).where(k_da > 0)
    for bp in (peak, floor):
        for g in bp["group"].values:
            c = bp.sel(group=g, drop=True)
            out.append(c.where(np.isfinite(c), lo).clip(lo, hi))
    return out


def _quantity_bounds(
    a: xr.DataArray,
    lo: xr.DataArray,
    hi: xr.DataArray,
    caps: tuple[xr.DataArray, xr.DataArray],
    k: xr.DataArray | float,
    fractions: xr.DataArray,
    exact_cells: bool,
) -> dict[Bound, tuple[xr.DataArray, xr.DataArray]]:
    """Per-group and per-cell (lower, upper) of one capped quantity with factor ``a``.

    Parameters
    ----------
    a : xarray.DataArray
        Factor per group (``group`` and possibly ``y, x``), >= 0.
    lo, hi : xarray.DataArray
        Stock interval (t C ha-1), NaN where the cell is not projected.
    caps : (xarray.DataArray, xarray.DataArray)
        Saturation stock for the lower and for the upper bound.
    k : xarray.DataArray or float
        Fine-fraction carbon share (per group, or per cell).
    fractions : xarray.DataArray
        Group fractions.
    exact_cells : bool
        Search the breakpoints for the cell extremes (fractions not 0/1); otherwise
        a cell's bound is the fraction-weighted sum of its group bounds (exact when
        each cell is one group).
    """
    c_lo, c_hi = caps
    g_min = cast(xr.DataArray, np.minimum(_capped(a, lo, c_lo, k), _capped(a, hi, c_lo, k)))
    g_max = cast(xr.DataArray, np.maximum(_capped(a, lo, c_hi, k), _capped(a, hi, c_hi, k)))
    with np.errstate(divide="ignore", invalid="ignore"):
        k_da = xr.zeros_like(a) + k
        peak_s = c_hi / (a + k_da)
        inside = ((a + k_da) > 0) & (peak_s >= lo) & (peak_s <= hi)
        g_max = xr.where(inside, np.maximum(g_max, a * peak_s), g_max)
    valid = np.isfinite(lo) & np.isfinite(hi)
    g_min, g_max = g_min.where(valid), g_max.where(valid)
    if exact_cells:
        cell_lo = _cell_extreme(a, lo, hi, c_lo, k, fractions, "min")
        cell_hi = _cell_extreme(a, lo, hi, c_hi, k, fractions, "max")
    else:
        cell_lo = (fractions * g_min).sum("group")
        cell_hi = (fractions * g_max).sum("group")
    return {
        "lower": (g_min, cell_lo.where(valid)),
        "upper": (g_max, cell_hi.where(valid)),
    }


def _cell_extreme(
    a: xr.DataArray,
    lo: xr.DataArray,
    hi: xr.DataArray,
    cap: xr.DataArray,
    k: xr.DataArray | float,
    fractions: xr.DataArray,
    how: str,
) -> xr.DataArray:
    """Exact min or max over ``[lo, hi]`` of ``Σ_g f_g g_g(s)`` (piecewise linear in s)."""
    values = [
        (fractions * _capped(a, c, cap, k)).sum("group") for c in _candidates(a, lo, hi, cap, k)
    ]
    stacked = xr.concat(values, dim="candidate")
    return stacked.min("candidate") if how == "min" else stacked.max("candidate")


def project_bounds(
    stock: xr.DataArray,
    lower: xr.DataArray,
    upper: xr.DataArray,
    fractions: xr.DataArray,
    scenario: Scenario,
    *,
    rate_raster: xr.DataArray | None = None,
    saturation_stock: xr.DataArray | None = None,
    saturation_bounds: tuple[xr.DataArray, xr.DataArray] | None = None,
    group_index: xr.DataArray | None = None,
    fine_share: xr.DataArray | None = None,
) -> dict[Bound, Projection]:
    """The lower and upper projections of a scenario, by interval arithmetic.

    Parameters
    ----------
    stock, lower, upper : xarray.DataArray
        Central initial stock and its bounds (t C ha-1).
    fractions, scenario, rate_raster, saturation_stock, group_index, fine_share
        As for :func:`~soilmap.scenario.project.project`.
    saturation_bounds : (xarray.DataArray, xarray.DataArray), optional
        Lower and upper saturation stock (t C ha-1); default: the saturation stock.

    Returns
    -------
    dict of {"lower", "upper"} to Projection
        Cell maps and per-group layers, each the exact minimum / maximum over the
        intervals.
    """
    lo, hi = bound_stocks(stock, lower, upper)
    kw = {"rate_raster": rate_raster, "group_index": group_index}
    if saturation_stock is None:
        # Every quantity grows with the stock: the bounds' own projections.
        return {
            "lower": project(lo, fractions, scenario, **kw),
            "upper": project(hi, fractions, scenario, **kw),
        }
    c_lo, c_hi = saturation_bounds or (saturation_stock, saturation_stock)
    # years to saturation fall with the stock and rise with the capacity
    years = {
        "lower": project(
            hi, fractions, scenario, saturation_stock=c_lo, fine_share=fine_share, **kw
        ).cell["years_to_saturation"],
        "upper": project(
            lo, fractions, scenario, saturation_stock=c_hi, fine_share=fine_share, **kw
        ).cell["years_to_saturation"],
    }
    central = project(
        stock, fractions, scenario, saturation_stock=saturation_stock, fine_share=fine_share, **kw
    )
    # The cells the central projection covers (land use, cap data) bound the intervals.
    mask = np.isfinite(central.cell["sequestration_rate"])
    lo, hi = lo.where(mask), hi.where(mask)
    rates = _group_rates(scenario, fractions, rate_raster)
    k: xr.DataArray | float = 1.0 if fine_share is None else fine_share
    exact_cells = group_index is None
    name = scenario.name
    cells: dict[Bound, dict[str, xr.DataArray]] = {"lower": {}, "upper": {}}
    groups: dict[Bound, dict[str, xr.DataArray]] = {"lower": {}, "upper": {}}
    factors = {"sequestration": rates}
    for year in scenario.horizons:
        n = year - scenario.start_year
        lin = scenario.growth == "linear"
        factors[f"gain_{year}"] = rates * n if lin else np.expm1(n * np.log1p(rates))
    for q, a in factors.items():
        b = _quantity_bounds(a, lo, hi, (c_lo, c_hi), k, fractions, exact_cells)
        for bound, (g, cell) in b.items():
            groups[bound][q] = g.astype("float32")
            stem = "sequestration_rate" if q == "sequestration" else q
            unit = CANONICAL["stock_rate"] if q == "sequestration" else CANONICAL["stock"]
            cells[bound][stem] = with_units(
                cell.astype("float32"),
                unit,
                long_name=f"{stem} {bound} bound ({name})",
                step=f"project_bounds({name}): {bound} bound by interval arithmetic over "
                "the stock (and capacity) intervals, capped",
                history_from=stock,
            )
    out: dict[Bound, Projection] = {}
    crs = stock.rio.crs
    for bound in _BOUNDS:
        c = cells[bound]
        c["co2e_rate"] = with_units(
            (c["sequestration_rate"] * scenario.co2e_factor).astype("float32"),
            CANONICAL["co2e_rate"],
            long_name=f"annual CO2e removal {bound} bound ({name})",
            step=f"x {scenario.co2e_factor:.6g} t CO2e per t C",
            history_from=c["sequestration_rate"],
        )
        c["years_to_saturation"] = years[bound]
        order = ["sequestration_rate", "co2e_rate", *(f"gain_{y}" for y in scenario.horizons)]
        maps = {key: c[key] for key in [*order, "years_to_saturation"]}
        if crs is not None:
            maps = {
                key: (v if v.rio.crs is not None else v.rio.write_crs(crs))
                for key, v in maps.items()
            }
        out[bound] = Projection(cell=maps, by_group=groups[bound])
    return out
