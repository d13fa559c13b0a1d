"""The scenario values: rates per land-use group, horizons, growth mode and the saturation cap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr

from soilmap.errors import ConfigError
from soilmap.landuse.table import ALL_LAND, DEFAULT_ELIGIBLE
from soilmap.meta import require_units, with_units
from soilmap.units import CANONICAL

__all__ = [
    "CO2_PER_C",
    "RATE_UNITS",
    "SATURATION_MODELS",
    "FineFraction",
    "Growth",
    "Saturation",
    "Scenario",
    "check_rate_slip",
    "parse_rate",
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

#: Largest |rate| accepted (yr-1): above, the value is almost surely a unit slip
#: (0.4 meant as 0.4 % or 4 ‰ per year).
MAX_RATE = 0.05

# Units a rate may be written with, and their factor to yr-1.
_RATE_SUFFIXES = (
    ("permille", 0.001),
    ("per mille", 0.001),
    ("‰", 0.001),
    ("%", 0.01),
    ("percent", 0.01),
)


def parse_rate(value: object, *, what: str = "rate", limit: float = MAX_RATE) -> float:
    """A relative annual rate (yr-1) from a number or a string with its unit.

    ``0.004``, ``"0.004"``, ``"4‰"``, ``"4 permille"``, ``"0.4%"`` all give 0.004;
    ``"/yr"``, ``" yr-1"`` after the unit are allowed.  Negative rates (losses) are
    allowed.

    >>> parse_rate("4‰"), parse_rate("0.4 %"), parse_rate("4 permille yr-1"), parse_rate(-0.002)
    (0.004, 0.004, 0.004, -0.002)

    Parameters
    ----------
    value : float or str
    what : str
        The key or flag, for messages.
    limit : float
        Largest rate accepted: :data:`MAX_RATE` for what a user types (the config file
        and the flags); :class:`Scenario` built in Python accepts gains up to 1.  Losses
        faster than :data:`MAX_RATE` are always refused.

    Raises
    ------
    soilmap.errors.ConfigError
        Not a number, or |rate| > ``limit`` (with the per-mille and percent readings of
        the value in the message).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(
            f"{what} must be a number per year (0.004) or a string with its unit ('4‰', "
            f"'0.4%', '4 permille'), got {value!r} ({type(value).__name__})."
        )
    factor, text = 1.0, value
    if isinstance(value, str):
        text = value.strip()
        for end in ("/yr", " yr-1", "yr-1", " per year", "/year"):
            if text.endswith(end):
                text = text[: -len(end)].strip()
        for suffix, f in _RATE_SUFFIXES:
            if text.endswith(suffix):
                text, factor = text[: -len(suffix)].strip(), f
                break
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(
            f"{what}: {value!r} is not a rate; write 0.004, '4‰', '0.4%' or '4 permille'."
        ) from None
    rate = round(number * factor, 15)
    # A loss faster than MAX_RATE is a slip whatever the limit on gains.
    if not np.isfinite(rate) or rate > limit or rate >= 1 or rate < -MAX_RATE:
        raise ConfigError(
            f"{what} = {value!r} is {rate:g} per year, i.e. {rate * 100:g} % a year: above "
            f"{limit:g} ({limit * 100:g} %/yr), or a loss beyond {MAX_RATE:g}, it is almost "
            "surely a unit slip. If you "
            f"meant {number:g} per mille, write {number / 1000:g} or '{number:g}‰'; if you "
            f"meant {number:g} percent, write {number / 100:g} or '{number:g}%'."
        )
    return rate


def check_rate_slip(rate: object, *, what: str) -> None:
    """Refuse a rate a user typed (config file, flag) that looks like a unit slip.

    Raises
    ------
    soilmap.errors.ConfigError
        |rate| > :data:`MAX_RATE`, for the single rate or any per-group rate.
    """
    rates = rate.items() if isinstance(rate, Mapping) else [(None, rate)]
    for group, r in rates:
        parse_rate(r, what=what if group is None else f"{what} for {group!r}")


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

    Examples
    --------
    The plain 4 per 1000 rule, and a cropland-only scenario; a t C ha-1 stock of 50
    gains 50 × 0.004 × 10 = 2 t C ha-1 by 2030 under linear growth:

    >>> sc = Scenario(rate=0.004, start_year=2020, horizons=(2030, 2050))
    >>> sc.rate_for("cropland"), sc.rate_for("settlement")
    (0.004, 0.0)
    >>> round(50 * sc.gain_factor("cropland", 2030), 12)
    2.0
    >>> Scenario(rate={"cropland": 0.006}, eligible=("cropland",)).rate_for("forest")
    0.0
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
        if isinstance(self.rate, Mapping):
            parsed: float | dict[str, float] = {
                str(g): parse_rate(r, what=f"scenario {self.name!r}: rate for {g!r}", limit=1.0)
                for g, r in self.rate.items()
            }
        else:
            parsed = parse_rate(self.rate, what=f"scenario {self.name!r}: rate", limit=1.0)
        object.__setattr__(self, "rate", parsed)
        rates = dict(parsed) if isinstance(parsed, dict) else dict.fromkeys(self.eligible, parsed)
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

        The group :data:`~soilmap.landuse.table.ALL_LAND` (no land cover given) is always
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
        losses = sorted(g for g, r in self._rates if r < 0)
        if losses or (not isinstance(self.rate, Mapping) and float(self.rate) < 0):
            d["rate_note"] = "negative rate: a loss of SOC, not a gain" + (
                f" ({', '.join(losses)})" if losses else ""
            )
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
