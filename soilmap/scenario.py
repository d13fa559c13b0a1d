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

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr

from soilmap.classes import ALL_LAND, DEFAULT_ELIGIBLE
from soilmap.errors import ConfigError
from soilmap.landuse import check_index_matches, index_lookup
from soilmap.meta import require_units, with_units
from soilmap.units import CANONICAL

__all__ = [
    "CO2_PER_C",
    "SATURATION_MODELS",
    "Projection",
    "Saturation",
    "Scenario",
    "project",
    "saturation_concentration",
]

#: Mass of CO2 per mass of carbon (44/12).
CO2_PER_C = 44.0 / 12.0

#: Linear carbon-saturation models ``Csat (g C kg-1) = intercept + slope × fine (%)``,
#: with the particle-size fraction each was fitted on.
SATURATION_MODELS: dict[str, dict[str, object]] = {
    "hassink1997": {
        "intercept": 4.09,
        "slope": 0.37,
        "fraction": "lt20um",
        "reference": "Hassink J. (1997) Plant and Soil 191: 77-87 — C in the < 20 µm "
        "fraction (clay + fine silt) of grassland and arable soils",
    },
    "six2002": {
        "intercept": 2.11,
        "slope": 0.32,
        "fraction": "clay+silt",
        "reference": "Six J. et al. (2002) Plant and Soil 241: 155-176, Table 3 "
        "(non-cultivated soils, silt + clay < 53 µm), as transcribed; check "
        "the coefficients against the paper for your soils",
    },
}

FineFraction = Literal["lt20um", "clay+silt"]

#: Accepted units of a rate raster, with their factor to a fraction per year.
RATE_UNITS: dict[str, float] = {
    "yr-1": 1.0,
    "1/yr": 1.0,
    "a-1": 1.0,
    "% yr-1": 0.01,
    "%/yr": 0.01,
    "permille yr-1": 0.001,
    "‰ yr-1": 0.001,
    "‰/yr": 0.001,
}
Growth = Literal["linear", "compound"]


@dataclass(frozen=True)
class Scenario:
    """One growth scenario.

    Attributes
    ----------
    name : str
        Short identifier (used in file tags and table rows).
    rate : float or mapping of str to float
        Relative annual growth of the SOC stock (0.004 = 4 ‰ yr-1), for all eligible
        groups or per group; groups missing from a mapping get 0.
    start_year : int
        Year of the initial stock.
    horizons : tuple of int
        Years for which the gain is reported (each after ``start_year``).
    growth : {"linear", "compound"}
        Growth on the initial stock, or on the current stock.
    eligible : tuple of str
        Land-use groups the rate applies to; other groups gain nothing.
    co2e_factor : float
        t CO2e per t C (44/12).
    rate_raster : Path, optional
        Raster of relative annual rates applied to every eligible group instead of
        ``rate`` (e.g. higher rates on carbon-poor soils).
    rate_raster_units : str, optional
        Units of the rate raster (one of :data:`RATE_UNITS`; e.g. ``"‰ yr-1"`` for
        values like 4); needed unless the file states them.
    saturation : Saturation, optional
        Cap on the projected stock.
    """

    name: str = "4p1000"
    rate: float | Mapping[str, float] = 0.004
    start_year: int = 2020
    horizons: tuple[int, ...] = (2030, 2050)
    growth: Growth = "linear"
    eligible: tuple[str, ...] = DEFAULT_ELIGIBLE
    co2e_factor: float = CO2_PER_C
    rate_raster: Path | None = None
    rate_raster_units: str | None = None
    saturation: Saturation | None = None
    _rates: tuple[tuple[str, float], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"scenario name {self.name!r}: use letters, digits, '-' or '_'.")
        if self.growth not in ("linear", "compound"):
            raise ConfigError(f"growth must be 'linear' or 'compound', got {self.growth!r}.")
        rates = (
            dict(self.rate)
            if isinstance(self.rate, Mapping)
            else dict.fromkeys(self.eligible, float(self.rate))
        )
        for group, r in rates.items():
            if not (isinstance(r, int | float) and np.isfinite(r) and 0 <= r < 1):
                raise ConfigError(
                    f"rate for {group!r} must be a fraction per year in [0, 1) (0.004 = 4 per "
                    f"1000), got {r!r}."
                )
        horizons = tuple(int(h) for h in self.horizons)
        if not horizons:
            raise ConfigError("give at least one horizon year (e.g. --horizon 2030).")
        bad = [h for h in horizons if h <= self.start_year]
        if bad:
            raise ConfigError(
                f"horizon years {bad} are not after the start year {self.start_year}."
            )
        object.__setattr__(self, "horizons", tuple(sorted(set(horizons))))
        object.__setattr__(self, "eligible", tuple(self.eligible))
        object.__setattr__(self, "_rates", tuple(sorted(rates.items())))
        if self.rate_raster_units is not None and self.rate_raster_units not in RATE_UNITS:
            raise ConfigError(
                f"rate_raster_units {self.rate_raster_units!r} unknown; use one of "
                f"{', '.join(RATE_UNITS)}."
            )

    def rate_for(self, group: str) -> float:
        """Annual relative rate for ``group`` (0 where the group is not eligible).

        The group :data:`~soilmap.classes.ALL_LAND` (no land cover given) is always
        eligible and takes the scenario's single rate.
        """
        if group == ALL_LAND:
            if isinstance(self.rate, Mapping):
                raise ConfigError(
                    f"scenario {self.name!r} gives rates per land-use group, but no land cover "
                    "was given. Add a land-cover raster (--landcover) or give a single --rate."
                )
            return float(self.rate)
        if group not in self.eligible:
            return 0.0
        return dict(self._rates).get(group, 0.0)

    def gain_factor(self, group: str, year: int) -> float:
        """Gain by ``year`` as a multiple of the initial stock for ``group``."""
        r, n = self.rate_for(group), year - self.start_year
        return r * n if self.growth == "linear" else (1 + r) ** n - 1

    def to_dict(self) -> dict:
        """Plain-data form for ``run.json`` and config files."""
        d = {f: getattr(self, f) for f in ("name", "start_year", "growth", "co2e_factor")}
        d["rate"] = dict(self.rate) if isinstance(self.rate, Mapping) else self.rate
        d["horizons"] = list(self.horizons)
        d["eligible"] = list(self.eligible)
        d["rate_raster"] = str(self.rate_raster) if self.rate_raster else None
        d["rate_raster_units"] = self.rate_raster_units
        d["saturation"] = self.saturation.to_dict() if self.saturation else None
        return d


@dataclass(frozen=True)
class Saturation:
    """A carbon-saturation cap on the projected stock.

    Attributes
    ----------
    method : {"hassink1997", "six2002", "linear", "raster"}
        A published linear model of saturation C concentration from the fine
        fraction, a user ``linear`` model (``intercept``, ``slope``), or a raster of
        saturation stocks (``stock``).
    intercept, slope : float, optional
        Coefficients of ``linear`` (g C kg-1 and g C kg-1 per % of fine particles).
    fine_fraction : tuple of Path
        Rasters of the fine-particle share (%) per SOC layer, or one for all layers.
    fine_fraction_definition : {"lt20um", "clay+silt"}
        What the fine-fraction rasters hold: particles < 20 µm (clay + fine silt) or
        clay + silt.  Must match the model's own definition.
    fine_fraction_units : str
        Units of the fine-fraction rasters (``%``, ``g kg-1`` ...).
    stock : Path, optional
        Saturation stock raster for ``method="raster"``.
    stock_units : str
        Units of that raster.
    """

    method: Literal["hassink1997", "six2002", "linear", "raster"] = "hassink1997"
    intercept: float | None = None
    slope: float | None = None
    fine_fraction: tuple[Path, ...] = ()
    fine_fraction_definition: FineFraction = "lt20um"
    fine_fraction_units: str = "%"
    stock: Path | None = None
    stock_units: str = "t C ha-1"

    def __post_init__(self) -> None:
        if self.method == "raster":
            if self.stock is None:
                raise ConfigError("saturation method 'raster' needs stock = PATH (t C ha-1).")
            return
        if self.method == "linear":
            if self.intercept is None or self.slope is None:
                raise ConfigError("saturation method 'linear' needs intercept and slope.")
        elif self.method in SATURATION_MODELS:
            model = SATURATION_MODELS[self.method]
            if self.fine_fraction_definition != model["fraction"]:
                raise ConfigError(
                    f"saturation model {self.method!r} was fitted on the {model['fraction']!r} "
                    f"fraction, but the fine-fraction rasters are declared "
                    f"{self.fine_fraction_definition!r}. Give rasters of the {model['fraction']} "
                    "fraction (fine_fraction_definition to match), or use method = 'linear' "
                    "with coefficients fitted on your fraction."
                )
        else:
            raise ConfigError(
                f"unknown saturation method {self.method!r}; use one of "
                f"{', '.join([*SATURATION_MODELS, 'linear', 'raster'])}."
            )
        if not self.fine_fraction:
            raise ConfigError(f"saturation method {self.method!r} needs fine_fraction rasters.")

    @property
    def coefficients(self) -> tuple[float, float]:
        """``(intercept, slope)`` of the linear model (g C kg-1, g C kg-1 per %)."""
        if self.method in SATURATION_MODELS:
            m = SATURATION_MODELS[self.method]
            return float(m["intercept"]), float(m["slope"])  # type: ignore[arg-type]
        return float(self.intercept), float(self.slope)  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        d = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        d["fine_fraction"] = [str(p) for p in self.fine_fraction]
        if self.method != "raster":
            d["intercept"], d["slope"] = self.coefficients
            if self.method in SATURATION_MODELS:
                d["reference"] = SATURATION_MODELS[self.method]["reference"]
        return d


def saturation_concentration(fine_pct: xr.DataArray, saturation: Saturation) -> xr.DataArray:
    """Saturation C concentration (g C kg-1) from the fine-particle share (%), lazily."""
    require_units(fine_pct, "%", what="fine fraction")
    a, b = saturation.coefficients
    out = (a + b * fine_pct).astype("float32")
    return with_units(
        out,
        CANONICAL["concentration"],
        long_name="saturation C concentration",
        step=f"Csat = {a:g} + {b:g} x fine fraction % ({saturation.method})",
        history_from=fine_pct,
    )


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
        the SOC grid, see :func:`soilmap.landuse.group_index_from_classes`): cell
        maps of scalar-rate scenarios then take each cell's coefficient by lookup
        instead of a sum over the groups (same values).

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
        headroom = (saturation_stock - s0).clip(min=0)

    def capped(gain: xr.DataArray) -> xr.DataArray:
        return gain if headroom is None else np.minimum(gain, headroom)

    # Rates that are one number per group (no rate raster) and no cap: every
    # per-group layer is coefficient_g × s0, so a cell's value is s0 × Σ_g f_g coef_g.
    scalar = rate_raster is None and headroom is None
    multiples: dict[str, np.ndarray] = {}
    # The coefficients in float64 from the scenario's own numbers (the per-group
    # layers round the rates to float32 first).
    groups = [str(g) for g in fractions["group"].values]
    r64 = np.array([scenario.rate_for(g) for g in groups] if scalar else [], "float64")

    def cell(by_group: xr.DataArray) -> xr.DataArray:
        return (fractions * by_group).sum("group").where(np.isfinite(s0))

    def stock_times(coef: np.ndarray) -> xr.DataArray:
        if group_index is not None:
            # One group per cell: Σ_g f_g coef_g is that group's coefficient.
            per_cell = index_lookup(group_index, coef.astype("float32"), missing=0.0)
        else:
            c = xr.DataArray(
                coef.astype("float32"), dims="group", coords={"group": fractions["group"]}
            )
            per_cell = (fractions * c).sum("group")
        return (per_cell * s0).where(np.isfinite(s0))

    name, hist = scenario.name, stock
    by_group: dict[str, xr.DataArray] = {}
    out: dict[str, xr.DataArray] = {}
    seq_g = capped(rates * s0).astype("float32")
    by_group["sequestration"] = seq_g
    if scalar:
        multiples["sequestration"] = r64
        seq_cell = stock_times(r64)
    else:
        seq_cell = cell(seq_g)
    cap_note = " (capped at saturation)" if headroom is not None else ""
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
        factor = rates * n if scenario.growth == "linear" else np.expm1(n * np.log1p(rates))
        gain_g = capped(factor * s0).astype("float32")
        by_group[f"gain_{year}"] = gain_g
        if not scalar:
            gain_cell = cell(gain_g)
        elif scenario.growth == "linear":
            multiples[f"gain_{year}"] = r64 * n
            gain_cell = seq_cell * np.float32(n)  # one weighted sum serves every horizon
        else:
            multiples[f"gain_{year}"] = np.expm1(n * np.log1p(r64))
            gain_cell = stock_times(multiples[f"gain_{year}"])
        out[f"gain_{year}"] = with_units(
            gain_cell.astype("float32"),
            CANONICAL["stock"],
            long_name=f"SOC gain {scenario.start_year}-{year} ({name}, {scenario.growth})",
            step=f"project({name}): gain by {year} ({scenario.growth}){cap_note}",
            history_from=hist,
        )
    if headroom is not None:
        assert saturation_stock is not None
        by_group["at_saturation"] = (xr.ones_like(rates * s0) * (s0 >= saturation_stock)).where(
            np.isfinite(s0)
        )
        assert missing_cap is not None
        by_group["no_saturation_data"] = xr.ones_like(rates * stock) * missing_cap
        eligible_share = (fractions * (rates > 0)).sum("group")
        r_eff = (fractions * rates).sum("group") / eligible_share.where(eligible_share > 0)
        # A zero stock or a zero rate never reaches saturation: NaN, not a division warning.
        growing = np.isfinite(s0) & (s0 > 0) & (r_eff > 0)
        s_pos, r_pos = s0.where(growing), r_eff.where(growing)
        if scenario.growth == "linear":
            years = headroom / (r_pos * s_pos)
        else:
            years = np.log((saturation_stock / s_pos).clip(min=1.0)) / np.log1p(r_pos)
        years = xr.where(headroom <= 0, 0.0, years).where(np.isfinite(s0))
        years = years.where(growing | (headroom <= 0))
        out["years_to_saturation"] = with_units(
            years.astype("float32"),
            "yr",
            long_name=f"years to saturation ({name})",
            step=f"project({name}): years until the stock reaches saturation "
            f"({scenario.growth}, mean rate of the eligible land)",
            history_from=hist,
        )
    crs = stock.rio.crs
    for key, layer in out.items():
        # xr.where and reductions over "group" can drop the spatial_ref coordinate.
        if crs is not None and layer.rio.crs is None:
            out[key] = layer.rio.write_crs(crs)
    return Projection(cell=out, by_group=by_group, stock_multiples=multiples)
