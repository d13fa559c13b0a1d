"""The scenario values: rates per land-use group, horizons, growth mode and the saturation cap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
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
    "DEFAULT_FINE_CARBON_SHARE",
    "FINE_CARBON_SHARE_SOURCE",
    "RATE_UNITS",
    "REMOVED_MODELS",
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
#: with the particle-size fraction each was fitted on.  ``six2002`` was removed: its
#: coefficients (2.11 + 0.32 × clay+silt %) came from a secondary transcription that
#: could not be traced to Six et al. (2002), whose regressions are stratified by clay
#: mineralogy and land use; give such a model as ``method = "linear"`` with its
#: ``intercept``, ``slope`` and ``citation``.
SATURATION_MODELS: dict[str, dict[str, object]] = {
    "hassink1997": {
        "intercept": 4.09,
        "slope": 0.37,
        "fraction": "lt20um",
        "reference": "Hassink J. (1997) Plant and Soil 191: 77-87 — C in the < 20 µm "
        "fraction (clay + fine silt) of grassland and arable soils",
    },
}

#: Why ``six2002`` is refused (the preset existed in earlier versions).
REMOVED_MODELS: dict[str, str] = {
    "six2002": "the 'six2002' preset was removed: its coefficients (2.11 + 0.32 x clay+silt "
    "%) could not be traced to Six et al. (2002) Plant and Soil 241: 155-176, whose "
    "regressions are stratified by clay mineralogy and land use. Use method = 'linear' with "
    "the intercept and slope of the regression that fits your soils and a citation string.",
}

#: Default share of the SOC stock held in the fine (< 20 µm, mineral-associated) fraction
#: per land-use group, for the saturation deficit ``Csat − share × SOC``: particulate
#: organic matter is not capped by the minerals' capacity (Hassink 1997).  Round
#: figures of the mineral-associated share of topsoil SOC reported by Cotrufo et al.
#: (2019) for European grasslands and forests (LUCAS, MAOM < 53 µm) and by Vos et al.
#: (2018) for German agricultural topsoils; the < 53 µm share is at least the < 20 µm
#: share, so these defaults can only make the deficit smaller (conservative).  Groups
#: not listed take ``"other"``.  Give your own measured shares when you have them.
DEFAULT_FINE_CARBON_SHARE: dict[str, float] = {
    "cropland": 0.75,
    "paddy": 0.75,
    "grassland": 0.65,
    "pasture": 0.65,
    "shrubland": 0.65,
    "forest": 0.5,
    "other": 0.65,
}

#: Where :data:`DEFAULT_FINE_CARBON_SHARE` comes from (README and ``run.json``).
FINE_CARBON_SHARE_SOURCE = (
    "rounded mineral-associated (< 53 um) shares of topsoil SOC read from: Cotrufo M.F., "
    "Ranalli M.G., Haddix M.L., Six J., Lugato E. (2019) Soil carbon storage informed by "
    "particulate and mineral-associated organic matter. Nature Geoscience 12: 989-994, "
    "doi:10.1038/s41561-019-0484-6 (LUCAS 2009 topsoils of European grasslands and forests, "
    "POM 53-2000 um and MAOM < 53 um); Vos C., Jaconi A., Jacobs A., Don A. (2018) Hot regions "
    "of labile and stable soil organic carbon in Germany - Spatial variability and driving "
    "factors. SOIL 4: 153-167, doi:10.5194/soil-4-153-2018 (> 2500 mineral agricultural "
    "topsoils). The per-group values are soilmap's round figures, not numbers from the papers' "
    "tables; the < 20 um share is at most the < 53 um share, so the deficit is conservative"
)


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
    start_year_source : str
        Where the start year comes from: ``"given"``, ``"default"`` (not given: a
        run takes the SOC product's map year when its preset knows it, see
        :meth:`with_map_year`), or the product it was taken from.

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
    start_year_source: str = "given"
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

    def with_map_year(self, year: int | None, product: str) -> Scenario:
        """This scenario starting at ``year`` (the SOC map's year) if its start year was
        not given; unchanged otherwise, or when ``year`` is None."""
        if self.start_year_source != "default" or year is None:
            return self
        source = f"the map year of the SOC product {product!r}"
        return replace(self, start_year=int(year), start_year_source=source)

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
        d["start_year_source"] = self.start_year_source
        d["horizons"] = list(self.horizons)
        d["eligible"] = list(self.eligible)
        d["rate_raster"] = str(self.rate_raster) if self.rate_raster else None
        d["rate_raster_units"] = self.rate_raster_units
        d["saturation"] = self.saturation.to_dict() if self.saturation else None
        return d


@dataclass(frozen=True)
class Saturation:
    """A carbon-saturation cap on the projected stock.

    The cap is on the carbon the fine fraction can hold: the saturation deficit is
    ``Csat − share × SOC`` (``share`` = the part of the SOC stock in the < 20 µm
    fraction), and the projected stock never exceeds ``SOC + deficit``.

    Attributes
    ----------
    method : {"hassink1997", "linear", "raster"}
        A published linear model of saturation C concentration from the fine
        fraction, a user ``linear`` model (``intercept``, ``slope``, ``citation``), or
        a raster of saturation stocks (``stock``).
    intercept, slope : float, optional
        Coefficients of ``linear`` (g C kg-1 and g C kg-1 per % of fine particles).
    citation : str, optional
        Where the ``linear`` coefficients come from (required for ``linear``).
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
    fine_fraction_carbon_share : float or mapping of str to float, optional
        Share (0–1) of the SOC stock held in the fine fraction, for every group or per
        land-use group (groups missing from a mapping take its ``"other"`` entry, or
        the default's).  Default for the fine-fraction models:
        :data:`DEFAULT_FINE_CARBON_SHARE`; for ``raster``: 1 (the raster is taken as a
        capacity for the whole SOC stock, and ``run.json`` says so).
    fine_fraction_carbon_share_raster : Path, optional
        A raster of that share (units ``1`` or ``%``) instead of the per-group values.
    fine_fraction_carbon_share_units : str, optional
        Units of the share raster, when the file does not state them.

    Examples
    --------
    >>> sat = Saturation(fine_fraction=("fine.tif",))
    >>> sat.share_for("cropland"), sat.share_for("forest"), sat.share_for("mine")
    (0.75, 0.5, 0.65)
    >>> Saturation(fine_fraction=("f.tif",), fine_fraction_carbon_share=0.6).share_for("forest")
    0.6
    """

    method: Literal["hassink1997", "linear", "raster"] = "hassink1997"
    intercept: float | None = None
    slope: float | None = None
    fine_fraction: tuple[Path, ...] = ()
    fine_fraction_definition: FineFraction = "lt20um"
    fine_fraction_units: str = "%"
    stock: Path | None = None
    stock_units: str = "t C ha-1"
    citation: str | None = None
    fine_fraction_carbon_share: float | Mapping[str, float] | None = None
    fine_fraction_carbon_share_raster: Path | None = None
    fine_fraction_carbon_share_units: str | None = None

    def __post_init__(self) -> None:
        self._check_share()
        if self.method in REMOVED_MODELS:
            raise ConfigError(REMOVED_MODELS[self.method])
        if self.method == "raster":
            if self.stock is None:
                raise ConfigError("saturation method 'raster' needs stock = PATH (t C ha-1).")
            return
        if self.method == "linear":
            if self.intercept is None or self.slope is None:
                raise ConfigError("saturation method 'linear' needs intercept and slope.")
            if not (isinstance(self.citation, str) and self.citation.strip()):
                raise ConfigError(
                    "saturation method 'linear' needs citation = \"...\": the publication "
                    "(or your own fit) the intercept and slope come from, recorded in run.json."
                )
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

    def _check_share(self) -> None:
        share = self.fine_fraction_carbon_share
        if share is not None and self.fine_fraction_carbon_share_raster is not None:
            raise ConfigError(
                "give fine_fraction_carbon_share (values) or fine_fraction_carbon_share_raster, "
                "not both."
            )
        values = dict(share) if isinstance(share, Mapping) else {"all groups": share}
        for group, v in values.items():
            if v is None:
                continue
            if not (isinstance(v, int | float) and np.isfinite(v) and 0 < v <= 1):
                raise ConfigError(
                    f"fine_fraction_carbon_share for {group!r} must be a share in (0, 1] of "
                    f"the SOC stock held in the < 20 µm fraction (e.g. 0.7), got {v!r}."
                )

    def share_for(self, group: str) -> float:
        """Share of the SOC stock in the fine fraction for ``group`` (0–1)."""
        share = self.fine_fraction_carbon_share
        if isinstance(share, Mapping):
            if group in share:
                return float(share[group])
            if "other" in share:
                return float(share["other"])
        elif share is not None:
            return float(share)
        if self.method == "raster":
            return 1.0
        return DEFAULT_FINE_CARBON_SHARE.get(group, DEFAULT_FINE_CARBON_SHARE["other"])

    @property
    def share_source(self) -> str:
        """Where the fine-fraction carbon shares come from (for ``run.json``)."""
        if self.fine_fraction_carbon_share_raster is not None:
            return f"raster {self.fine_fraction_carbon_share_raster}"
        if self.fine_fraction_carbon_share is not None:
            return "given in the configuration"
        if self.method == "raster":
            return "1 (the saturation raster is compared with the whole SOC stock)"
        return f"defaults: {FINE_CARBON_SHARE_SOURCE}"

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
        share = self.fine_fraction_carbon_share
        d["fine_fraction_carbon_share"] = dict(share) if isinstance(share, Mapping) else share
        if self.fine_fraction_carbon_share_raster is None:
            d["fine_fraction_carbon_share_used"] = {
                g: self.share_for(g) for g in DEFAULT_FINE_CARBON_SHARE
            }
        d["fine_fraction_carbon_share_source"] = self.share_source
        d["deficit"] = "Csat - share x SOC; projected stock <= SOC + deficit"
        if self.method != "raster":
            d["intercept"], d["slope"] = self.coefficients
            if self.method in SATURATION_MODELS:
                d["reference"] = SATURATION_MODELS[self.method]["reference"]
            else:
                d["reference"] = self.citation
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
