"""The 4 per 1000 growth model: frozen Scenario values and their projection.

Under ``linear`` growth (the literature's convention) the stock grows each year by
``rate × initial stock``; under ``compound`` growth by ``rate × current stock``.
An optional saturation cap stops the growth at a carbon-saturation stock.

Quantities are computed per hectare *of each land-use group* (dims ``group, y, x``)
and reported per hectare *of cell* as ``Σ_g fraction_g × value_g``: a cell that is
60 % cropland gains 60 % of a cropland hectare's gain.  Zonal totals use the
per-group layers, so caps and rate rasters are exact in the tables too.

Without a cap or a rate raster every per-group layer is a constant multiple of the
initial stock (``rate_g × s0``, ``rate_g × years × s0`` …): :attr:`Projection.stock_multiples`
then lists those constants, so zonal totals come from the stock's own totals and
cell maps from one weighted sum of the group fractions, instead of per-group layers
that would cost a pass over every group for every quantity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import xarray as xr

from soilmap.landuse.fractions import check_index_matches, index_lookup
from soilmap.landuse.table import ALL_LAND
from soilmap.meta import require_units, with_units
from soilmap.scenario.model import Scenario
from soilmap.units import CANONICAL

__all__ = [
    "Projection",
    "project",
]


@dataclass
class Projection:
    """The lazy result of :func:`project`.

    Attributes
    ----------
    cell : dict of str to xarray.DataArray
        Per hectare of cell, dims ``(y, x)``: ``sequestration_rate`` (t C ha-1 yr-1,
        first-year rate), ``co2e_rate`` (t CO2e ha-1 yr-1), ``gain_<year>`` (t C ha-1)
        and, with a cap, ``years_to_saturation`` (yr).
    by_group : dict of str to xarray.DataArray
        Per hectare of each group, dims ``(group, y, x)``: ``sequestration``,
        ``gain_<year>`` and, with a cap, ``at_saturation`` (1 where the initial stock
        is at or above saturation, else 0) and ``no_saturation_data`` (1 where a stock
        exists but the saturation stock does not) — what zonal totals are made of.
    stock_multiples : dict of str to numpy.ndarray
        For the ``by_group`` layers that are exactly ``coefficient[g] × initial stock``
        (no cap, no rate raster): the coefficients per group, in the order of the
        ``group`` dimension (``sequestration``: yr-1; ``gain_<year>``: dimensionless).
        Empty when the layers depend on the cell otherwise.
    """

    cell: dict[str, xr.DataArray]
    by_group: dict[str, xr.DataArray]
    stock_multiples: dict[str, np.ndarray] = field(default_factory=dict)


def _group_rates(
    scenario: Scenario, fractions: xr.DataArray, rate_raster: xr.DataArray | None
) -> xr.DataArray:
    groups = [str(g) for g in fractions["group"].values]
    if rate_raster is None:
        return xr.DataArray(
            np.array([scenario.rate_for(g) for g in groups], "float32"),
            dims="group",
            coords={"group": fractions["group"]},
        )
    require_units(rate_raster, "yr-1", what="rate raster")
    eligible = xr.DataArray(
        np.array(
            [1.0 if (g in scenario.eligible or g == ALL_LAND) else 0.0 for g in groups], "float32"
        ),
        dims="group",
        coords={"group": fractions["group"]},
    )
    return (eligible * rate_raster.clip(min=0)).astype("float32")


def project(
    stock: xr.DataArray,
    fractions: xr.DataArray,
    scenario: Scenario,
    *,
    rate_raster: xr.DataArray | None = None,
    saturation_stock: xr.DataArray | None = None,
    group_index: xr.DataArray | None = None,
    fine_share: xr.DataArray | None = None,
) -> Projection:
    """Project the scenario on every cell, lazily.

    Parameters
    ----------
    stock : xarray.DataArray
        Initial SOC stock, ``t C ha-1``, dims ``("y", "x")``.
    fractions : xarray.DataArray
        Share of each cell in each land-use group, dims ``("group", "y", "x")``, 0–1.
    scenario : Scenario
        Rates, horizons, growth mode.
    rate_raster : xarray.DataArray, optional
        Relative annual rate per cell (``yr-1``) for eligible groups.
    saturation_stock : xarray.DataArray, optional
        Saturation stock (``t C ha-1``); the projected stock never exceeds it.
    group_index : xarray.DataArray, optional
        When ``fractions`` are the 0/1 fractions of this group index (land cover on
        the SOC grid, see :func:`soilmap.landuse.fractions.group_index_from_classes`): cell
        maps of scalar-rate scenarios then take each cell's coefficient by lookup
        instead of a sum over the groups (same values).
    fine_share : xarray.DataArray, optional
        Share (0–1) of the stock held in the fine (< 20 µm) fraction, dims
        ``("group",)`` or ``("y", "x")``: the saturation deficit is
        ``saturation_stock − fine_share × stock`` and the projected stock never exceeds
        ``stock + deficit``.  Default 1 (the whole stock is compared with the cap).

    Returns
    -------
    Projection
        Cell maps and per-group layers; NaN where the stock, the land use or (with a
        cap) the saturation stock is missing.
    """
    require_units(stock, CANONICAL["stock"], what="initial SOC stock")
    if group_index is not None:
        check_index_matches(fractions, group_index)
        s0 = stock.where(group_index >= 0)
    else:
        s0 = stock.where(fractions.sum("group") > 0)
    rates = _group_rates(scenario, fractions, rate_raster)
    headroom = None
    missing_cap = None
    if saturation_stock is not None:
        require_units(saturation_stock, CANONICAL["stock"], what="saturation stock")
        # Cells with a stock but no saturation stock cannot be projected under a cap.
        missing_cap = (np.isfinite(s0) & ~np.isfinite(saturation_stock)).astype("float32")
        s0 = s0.where(np.isfinite(saturation_stock))
        # Only the fine-fraction carbon fills the minerals' capacity: particulate
        # organic matter is not capped (Hassink 1997).
        fine_c = s0 if fine_share is None else fine_share * s0
        headroom = (saturation_stock - fine_c).clip(min=0)
    growth = _Growth(
        scenario,
        fractions,
        s0,
        rates,
        headroom,
        group_index,
        # Rates that are one number per group (no rate raster) and no cap: every
        # per-group layer is coefficient_g × s0, so a cell's value is s0 × Σ_g f_g coef_g.
        scalar=rate_raster is None and headroom is None,
    )
    out, by_group, multiples = _growth_layers(growth, hist=stock)
    if headroom is not None:
        assert saturation_stock is not None
        by_group["at_saturation"] = (
            # No deficit left: the fine-fraction carbon is at or above the capacity.
            xr.ones_like(rates * s0) * (headroom <= 0)
        ).where(np.isfinite(s0))
        assert missing_cap is not None
        by_group["no_saturation_data"] = xr.ones_like(rates * stock) * missing_cap
        years = _years_to_saturation(growth, headroom)
        out["years_to_saturation"] = with_units(
            years.astype("float32"),
            "yr",
            long_name=f"years to saturation ({scenario.name})",
            step=f"project({scenario.name}): years until the stock reaches saturation "
            f"({scenario.growth}, mean rate of the eligible land)",
            history_from=stock,
        )
    crs = stock.rio.crs
    for key, layer in out.items():
        # xr.where and reductions over "group" can drop the spatial_ref coordinate.
        if crs is not None and layer.rio.crs is None:
            out[key] = layer.rio.write_crs(crs)
    return Projection(cell=out, by_group=by_group, stock_multiples=multiples)


@dataclass(frozen=True)
class _Growth:
    """What the projected layers of one scenario are made of.

    Attributes
    ----------
    scenario : Scenario
        Rates, horizons, growth mode.
    fractions : xarray.DataArray
        Share of each cell in each land-use group, dims ``("group", "y", "x")``.
    s0 : xarray.DataArray
        Initial stock (t C ha-1), NaN on the cells that cannot be projected.
    rates : xarray.DataArray
        Relative annual rate per group (and per cell, with a rate raster).
    headroom : xarray.DataArray or None
        Saturation stock minus ``s0``, at least 0, under a saturation cap.
    group_index : xarray.DataArray or None
        The group index ``fractions`` are the 0/1 fractions of, if any.
    scalar : bool
        Every per-group layer is a coefficient per group × ``s0`` (no rate raster,
        no cap).
    """

    scenario: Scenario
    fractions: xr.DataArray
    s0: xr.DataArray
    rates: xr.DataArray
    headroom: xr.DataArray | None
    group_index: xr.DataArray | None
    scalar: bool

    def capped(self, gain: xr.DataArray) -> xr.DataArray:
        """``gain`` limited to the headroom below saturation (under a cap)."""
        if self.headroom is None:
            return gain
        # DataArray.__array_ufunc__ returns a DataArray; numpy's stubs say ndarray.
        return cast(xr.DataArray, np.minimum(gain, self.headroom))

    def cell(self, by_group: xr.DataArray) -> xr.DataArray:
        """Per hectare of cell: ``Σ_g fraction_g × by_group_g``."""
        return (self.fractions * by_group).sum("group").where(np.isfinite(self.s0))

    def stock_times(self, coef: np.ndarray) -> xr.DataArray:
        """Per hectare of cell: ``s0 × Σ_g fraction_g × coef_g``."""
        if self.group_index is not None:
            # One group per cell: Σ_g f_g coef_g is that group's coefficient.
            per_cell = index_lookup(self.group_index, coef.astype("float32"), missing=0.0)
        else:
            c = xr.DataArray(
                coef.astype("float32"), dims="group", coords={"group": self.fractions["group"]}
            )
            per_cell = (self.fractions * c).sum("group")
        return (per_cell * self.s0).where(np.isfinite(self.s0))


def _growth_layers(
    g: _Growth, *, hist: xr.DataArray
) -> tuple[dict[str, xr.DataArray], dict[str, xr.DataArray], dict[str, np.ndarray]]:
    """Sequestration rate, CO2e rate and the gain by every horizon.

    Parameters
    ----------
    g : _Growth
        The scenario's inputs.
    hist : xarray.DataArray
        Layer whose history the cell maps continue (the initial stock).

    Returns
    -------
    tuple of dict
        The cell maps, the per-group layers and the stock multiples (see
        :class:`Projection`).
    """
    scenario, name, s0 = g.scenario, g.scenario.name, g.s0
    multiples: dict[str, np.ndarray] = {}
    # The coefficients in float64 from the scenario's own numbers (the per-group
    # layers round the rates to float32 first).
    groups = [str(x) for x in g.fractions["group"].values]
    r64 = np.array([scenario.rate_for(x) for x in groups] if g.scalar else [], "float64")
    by_group: dict[str, xr.DataArray] = {}
    out: dict[str, xr.DataArray] = {}
    seq_g = g.capped(g.rates * s0).astype("float32")
    by_group["sequestration"] = seq_g
    if g.scalar:
        multiples["sequestration"] = r64
        seq_cell = g.stock_times(r64)
    else:
        seq_cell = g.cell(seq_g)
    cap_note = " (capped at saturation)" if g.headroom is not None else ""
    out["sequestration_rate"] = with_units(
        seq_cell.astype("float32"),
        CANONICAL["stock_rate"],
        long_name=f"annual SOC sequestration ({name})",
        step=f"project({name}): first-year rate x initial stock{cap_note}",
        history_from=hist,
    )
    out["co2e_rate"] = with_units(
        (out["sequestration_rate"] * scenario.co2e_factor).astype("float32"),
        CANONICAL["co2e_rate"],
        long_name=f"annual CO2e removal ({name})",
        step=f"x {scenario.co2e_factor:.6g} t CO2e per t C",
        history_from=out["sequestration_rate"],
    )
    for year in scenario.horizons:
        n = year - scenario.start_year
        # expm1/log1p: (1 + r)^n - 1 in float32 would cancel to ~1e-5 relative error.
        factor = g.rates * n if scenario.growth == "linear" else np.expm1(n * np.log1p(g.rates))
        gain_g = g.capped(factor * s0).astype("float32")
        by_group[f"gain_{year}"] = gain_g
        if not g.scalar:
            gain_cell = g.cell(gain_g)
        elif scenario.growth == "linear":
            multiples[f"gain_{year}"] = r64 * n
            gain_cell = seq_cell * np.float32(n)  # one weighted sum serves every horizon
        else:
            multiples[f"gain_{year}"] = np.expm1(n * np.log1p(r64))
            gain_cell = g.stock_times(multiples[f"gain_{year}"])
        out[f"gain_{year}"] = with_units(
            gain_cell.astype("float32"),
            CANONICAL["stock"],
            long_name=f"SOC gain {scenario.start_year}-{year} ({name}, {scenario.growth})",
            step=f"project({name}): gain by {year} ({scenario.growth}){cap_note}",
            history_from=hist,
        )
    return out, by_group, multiples


def _years_to_saturation(g: _Growth, headroom: xr.DataArray) -> xr.DataArray:
    """Years until the stock gains its saturation deficit, at the mean rate and mean
    deficit of the eligible land.

    0 where the stock is already at saturation, NaN where it never grows.
    """
    s0, rates, fractions = g.s0, g.rates, g.fractions
    eligible = fractions * (rates > 0)
    eligible_share = eligible.sum("group")
    share = eligible_share.where(eligible_share > 0)
    r_eff = (fractions * rates).sum("group") / share
    if "group" in headroom.dims:
        # Per-group deficits (fine-fraction shares per group): their eligible mean.
        headroom = xr.where(eligible_share > 0, (eligible * headroom).sum("group") / share, 0.0)
    # A zero stock or a zero rate never reaches saturation: NaN, not a division warning.
    growing = np.isfinite(s0) & (s0 > 0) & (r_eff > 0)
    s_pos, r_pos = s0.where(growing), r_eff.where(growing)
    if g.scenario.growth == "linear":
        years = headroom / (r_pos * s_pos)
    else:
        # DataArray.__array_ufunc__ returns DataArrays; numpy's stubs say ndarray.
        # s0 (1 + r)^t = s0 + deficit
        years = cast(xr.DataArray, np.log1p(headroom.clip(min=0) / s_pos) / np.log1p(r_pos))
    years = xr.where(headroom <= 0, 0.0, years).where(np.isfinite(s0))
    return years.where(growing | (headroom <= 0))
