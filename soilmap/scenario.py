"""The 4 per 1000 growth model: a frozen Scenario value and its projection.

Under ``linear`` growth (the literature's convention) the stock grows each year by
``rate × initial stock``; under ``compound`` growth by ``rate × current stock``.
Gains are reported per hectare of cell, weighted by the share of the cell in each
land-use group, so a cell that is 60 % cropland gains 60 % of a cropland hectare's
gain per hectare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import xarray as xr

from soilmap.classes import ALL_LAND, DEFAULT_ELIGIBLE
from soilmap.errors import ConfigError
from soilmap.meta import require_units, with_units
from soilmap.units import CANONICAL

__all__ = ["CO2_PER_C", "Scenario", "project"]

#: Mass of CO2 per mass of carbon (44/12).
CO2_PER_C = 44.0 / 12.0


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
    """

    name: str = "4p1000"
    rate: float | Mapping[str, float] = 0.004
    start_year: int = 2020
    horizons: tuple[int, ...] = (2030, 2050)
    growth: Growth = "linear"
    eligible: tuple[str, ...] = DEFAULT_ELIGIBLE
    co2e_factor: float = CO2_PER_C
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
        d = asdict(self)
        d.pop("_rates")
        d["rate"] = dict(self.rate) if isinstance(self.rate, Mapping) else self.rate
        d["horizons"] = list(self.horizons)
        d["eligible"] = list(self.eligible)
        return d


def _per_group(values: Sequence[float], fractions: xr.DataArray) -> xr.DataArray:
    vec = xr.DataArray(
        np.asarray(values, dtype="float32"), dims="group", coords={"group": fractions["group"]}
    )
    return (fractions * vec).sum("group")


def project(
    stock: xr.DataArray, fractions: xr.DataArray, scenario: Scenario
) -> dict[str, xr.DataArray]:
    """Project the scenario on every cell, lazily.

    Parameters
    ----------
    stock : xarray.DataArray
        Initial SOC stock, ``t C ha-1``, dims ``("y", "x")``.
    fractions : xarray.DataArray
        Share of each cell in each land-use group, dims ``("group", "y", "x")``, 0–1.
    scenario : Scenario
        Rates, horizons and growth mode.

    Returns
    -------
    dict of str to xarray.DataArray
        ``sequestration_rate`` (t C ha-1 yr-1; first-year rate, constant under linear
        growth), ``co2e_rate`` (t CO2e ha-1 yr-1) and ``gain_<year>`` (t C ha-1) per
        horizon; all per hectare of cell, NaN where the stock or land use is missing.
    """
    require_units(stock, CANONICAL["stock"], what="initial SOC stock")
    groups = [str(g) for g in fractions["group"].values]
    covered = fractions.sum("group")
    s0 = stock.where(covered > 0)
    rate = _per_group([scenario.rate_for(g) for g in groups], fractions)
    seq = with_units(
        (s0 * rate).astype("float32"),
        CANONICAL["stock_rate"],
        long_name=f"annual SOC sequestration ({scenario.name})",
        step=f"project({scenario.name}): rate x initial stock",
        history_from=stock,
    )
    out = {"sequestration_rate": seq}
    out["co2e_rate"] = with_units(
        (seq * scenario.co2e_factor).astype("float32"),
        CANONICAL["co2e_rate"],
        long_name=f"annual CO2e removal ({scenario.name})",
        step=f"x {scenario.co2e_factor:.6g} t CO2e per t C",
        history_from=seq,
    )
    for year in scenario.horizons:
        factor = _per_group([scenario.gain_factor(g, year) for g in groups], fractions)
        out[f"gain_{year}"] = with_units(
            (s0 * factor).astype("float32"),
            CANONICAL["stock"],
            long_name=f"SOC gain {scenario.start_year}-{year} ({scenario.name}, {scenario.growth})",
            step=f"project({scenario.name}): gain by {year} ({scenario.growth})",
            history_from=stock,
        )
    return out
