"""The ``[rothc]`` section of a run description: a gridded RothC run (``soilmap rothc run``).

Plain, validated values only (paths, units, numbers); the rasters are opened by
:mod:`soilmap.rothc.inputs`.  Example::

    [rothc]
    clay = "clay.tif"
    clay_units = "%"
    carbon_input = "miami"  # NPP from the Miami model, or a raster (t C ha-1 yr-1)
    scenarios = ["BAU", "SSM1", "SSM2", "SSM3"]
    horizons = [10, 20]  # years after t0

    [rothc.climate]  # 12 months: the spin-up and forward climate
    temperature = "tavg.tif"  # 12 bands, or a list of 12 files
    temperature_units = "°C"
    precipitation = "prec.tif"
    precipitation_units = "mm"
    pet = "pet.tif"  # or evaporation = "pan.tif" (open-pan, mm)
    pet_units = "mm"
    pet_factor = 1.0  # stated: RothC's evapotranspiration = pet_factor × PET

    [rothc.groups.cropland]  # any parameter of a land-use group
    cover = [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soilmap.errors import ConfigError
from soilmap.io.paths import input_path

__all__ = [
    "CLIMATE_KEYS",
    "GROUP_KEYS",
    "ROTHC_KEYS",
    "ClimateConfig",
    "GroupParams",
    "RothcConfig",
    "rothc_config",
]

ROTHC_KEYS = {
    "clay",
    "clay_units",
    "carbon_input",
    "carbon_input_units",
    "manure",
    "manure_units",
    "scenarios",
    "multipliers",
    "horizons",
    "target_rate",
    "depth_cm",
    "land_use",
    "climate",
    "warmup",
    "groups",
}
CLIMATE_KEYS = {
    "temperature",
    "temperature_units",
    "precipitation",
    "precipitation_units",
    "evaporation",
    "evaporation_units",
    "pet",
    "pet_units",
    "pet_factor",
}
GROUP_KEYS = {"dpm_rpm", "cover", "input_months", "npp_share", "paddy_factor"}


@dataclass(frozen=True)
class ClimateConfig:
    """Monthly climate stacks: one multi-band file or one file per month, per variable.

    ``evaporation`` is open-pan evaporation (RothC's own input); ``pet`` is potential
    evapotranspiration, used as ``pet_factor × PET`` where RothC takes 0.75 × pan.
    """

    temperature: tuple[Path, ...]
    precipitation: tuple[Path, ...]
    evaporation: tuple[Path, ...] = ()
    pet: tuple[Path, ...] = ()
    temperature_units: str | None = None
    precipitation_units: str | None = None
    evaporation_units: str | None = None
    pet_units: str | None = None
    pet_factor: float | None = None

    def paths(self) -> list[Path]:
        """Every file of the stacks."""
        return [*self.temperature, *self.precipitation, *self.evaporation, *self.pet]


@dataclass(frozen=True)
class GroupParams:
    """RothC parameters of one land-use group (None: soilmap's default for the group).

    Attributes
    ----------
    dpm_rpm : float
        DPM/RPM ratio of the plant input.
    cover : tuple of 12 int
        Soil cover per month (1 covered, 0 bare).
    input_months : tuple of 12 float
        Share of the annual plant input entering each month (sums to 1).
    npp_share : float
        Share of the Miami NPP that enters the soil (``carbon_input = "miami"``).
    paddy_factor : float
        Extra decomposition-rate factor (0.4 for paddy rice in GSOCseq).
    """

    dpm_rpm: float | None = None
    cover: tuple[int, ...] | None = None
    input_months: tuple[float, ...] | None = None
    npp_share: float | None = None
    paddy_factor: float | None = None


@dataclass(frozen=True)
class RothcConfig:
    """The ``[rothc]`` section (see the module docstring)."""

    clay: Path
    climate: ClimateConfig
    carbon_input: Path | None = None  # None: NPP from the Miami model
    clay_units: str | None = None
    carbon_input_units: str | None = None
    manure: Path | None = None
    manure_units: str | None = None
    scenarios: tuple[str, ...] = ("BAU", "SSM1", "SSM2", "SSM3")
    multipliers: Mapping[str, float] = field(default_factory=dict)
    horizons: tuple[int, ...] = (20,)
    target_rate: float = 0.004
    depth_cm: float | None = None
    land_use: str | None = None
    warmup: ClimateConfig | None = None
    groups: Mapping[str, GroupParams] = field(default_factory=dict)

    def input_paths(self) -> list[Path]:
        """Every input file of the section."""
        paths = [self.clay, *self.climate.paths()]
        paths += [q for q in (self.carbon_input, self.manure) if q is not None]
        if self.warmup is not None:
            paths += self.warmup.paths()
        return paths


def _paths(base: Path, value: Any, where: str, key: str) -> tuple[Path, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise ConfigError(
            f"{where}: {key} = {value!r}; expected a path or a list of paths as strings."
        )
    return tuple(input_path(v, base) for v in values)


def _table(data: Any, name: str, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table.")
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)} in [{name}]; allowed: {sorted(allowed)}."
        )
    return dict(data)


def _number(value: Any, where: str, key: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: {key} = {value!r}; expected a number (without quotes).")
    if positive and value <= 0:
        raise ConfigError(f"{where}: {key} = {value!r} must be > 0.")
    return float(value)


def _units(sec: Mapping[str, Any], key: str, where: str, name: str) -> str | None:
    v = sec.get(key)
    if v is not None and not isinstance(v, str):
        raise ConfigError(f"{where}: [{name}] {key} = {v!r}; expected a string such as 'mm'.")
    return v


def _climate(data: Any, name: str, base: Path, where: str) -> ClimateConfig:
    sec = _table(data, name, CLIMATE_KEYS, where)
    for key in ("temperature", "precipitation"):
        if key not in sec:
            raise ConfigError(f"{where}: [{name}] needs {key} (a 12-band raster or 12 files).")
    has_pan, has_pet = "evaporation" in sec, "pet" in sec
    if has_pan == has_pet:
        raise ConfigError(
            f"{where}: [{name}] needs exactly one of evaporation (open-pan evaporation, mm) "
            "or pet (potential evapotranspiration, mm, with pet_factor)."
        )
    factor = None
    if has_pet:
        if "pet_factor" not in sec:
            raise ConfigError(
                f"{where}: [{name}] pet needs pet_factor: RothC's evapotranspiration is "
                "pet_factor × PET (state it; GSOCseq and SoilR use 1.0 with PET, "
                "0.75 applies to open-pan evaporation)."
            )
        factor = _number(sec["pet_factor"], where, f"[{name}] pet_factor", positive=True)
    elif "pet_factor" in sec:
        raise ConfigError(f"{where}: [{name}] pet_factor goes with pet, not with evaporation.")

    def p(key: str) -> tuple[Path, ...]:
        return _paths(base, sec[key], where, f"[{name}] {key}") if key in sec else ()

    return ClimateConfig(
        temperature=p("temperature"),
        precipitation=p("precipitation"),
        evaporation=p("evaporation"),
        pet=p("pet"),
        temperature_units=_units(sec, "temperature_units", where, name),
        precipitation_units=_units(sec, "precipitation_units", where, name),
        evaporation_units=_units(sec, "evaporation_units", where, name),
        pet_units=_units(sec, "pet_units", where, name),
        pet_factor=factor,
    )


def _months(value: Any, where: str, key: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != 12:
        raise ConfigError(f"{where}: {key} = {value!r}; expected a list of 12 monthly values.")
    return tuple(_number(v, where, key) for v in value)


def _group(name: str, data: Any, where: str) -> GroupParams:
    tname = f"rothc.groups.{name}"
    sec = _table(data, tname, GROUP_KEYS, where)
    cover = None
    if "cover" in sec:
        cover_f = _months(sec["cover"], where, f"[{tname}] cover")
        if any(v not in (0.0, 1.0) for v in cover_f):
            raise ConfigError(f"{where}: [{tname}] cover must be 0 (bare) or 1 (covered) a month.")
        cover = tuple(int(v) for v in cover_f)
    months = None
    if "input_months" in sec:
        months = _months(sec["input_months"], where, f"[{tname}] input_months")
        if any(v < 0 for v in months) or not math.isclose(sum(months), 1.0, abs_tol=1e-6):
            raise ConfigError(
                f"{where}: [{tname}] input_months are shares of the annual input: "
                f"each >= 0, summing to 1 (they sum to {sum(months):g})."
            )
    num = {
        k: _number(sec[k], where, f"[{tname}] {k}")
        for k in ("dpm_rpm", "npp_share", "paddy_factor")
        if k in sec
    }
    for k, v in num.items():
        if v < 0 or (k == "npp_share" and v > 1):
            raise ConfigError(f"{where}: [{tname}] {k} = {v:g} is out of range.")
    return GroupParams(cover=cover, input_months=months, **num)


def _scenarios(sec: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], dict[str, float]]:
    names = sec.get("scenarios", ["BAU", "SSM1", "SSM2", "SSM3"])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: [rothc] scenarios = {names!r}; expected a list of names.")
    mult = sec.get("multipliers", {})
    if not isinstance(mult, Mapping):
        raise ConfigError(f"{where}: [rothc] multipliers must be a table, e.g. {{ SSM4 = 1.3 }}.")
    mult = {
        str(k): _number(v, where, f"[rothc] multipliers.{k}", positive=True)
        for k, v in mult.items()
    }
    return tuple(names), mult


def rothc_config(data: Mapping[str, Any], base: Path, where: str) -> RothcConfig | None:
    """The ``[rothc]`` section of parsed TOML, or None when the file has none."""
    if "rothc" not in data:
        return None
    sec = _table(data["rothc"], "rothc", ROTHC_KEYS, where)
    for key in ("clay", "climate"):
        if key not in sec:
            raise ConfigError(f"{where}: [rothc] needs {key}.")
    clay = _paths(base, sec["clay"], where, "[rothc] clay")
    if len(clay) != 1:
        raise ConfigError(f"{where}: [rothc] clay is one raster (%).")
    cin = sec.get("carbon_input", "miami")
    if not isinstance(cin, str):
        raise ConfigError(f"{where}: [rothc] carbon_input = {cin!r}; 'miami' or a raster path.")
    names, mult = _scenarios(sec, where)
    horizons = sec.get("horizons", [20])
    if (
        not isinstance(horizons, list)
        or not horizons
        or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in horizons)
    ):
        raise ConfigError(
            f"{where}: [rothc] horizons = {horizons!r}; expected years after t0 as a list of "
            "positive integers, e.g. [10, 20]."
        )
    groups = sec.get("groups", {})
    if not isinstance(groups, Mapping):
        raise ConfigError(f"{where}: [rothc.groups] must be a table of groups.")
    land_use = sec.get("land_use")
    if land_use is not None and not isinstance(land_use, str):
        raise ConfigError(f"{where}: [rothc] land_use = {land_use!r}; expected a group name.")
    return RothcConfig(
        clay=clay[0],
        clay_units=_units(sec, "clay_units", where, "rothc"),
        climate=_climate(sec["climate"], "rothc.climate", base, where),
        carbon_input=None if cin == "miami" else input_path(cin, base),
        carbon_input_units=_units(sec, "carbon_input_units", where, "rothc"),
        manure=_paths(base, sec["manure"], where, "[rothc] manure")[0] if "manure" in sec else None,
        manure_units=_units(sec, "manure_units", where, "rothc"),
        scenarios=names,
        multipliers=mult,
        horizons=tuple(sorted(set(horizons))),
        target_rate=_number(sec.get("target_rate", 0.004), where, "[rothc] target_rate"),
        depth_cm=(
            _number(sec["depth_cm"], where, "[rothc] depth_cm", positive=True)
            if "depth_cm" in sec
            else None
        ),
        land_use=land_use,
        warmup=_climate(sec["warmup"], "rothc.warmup", base, where) if "warmup" in sec else None,
        groups={str(g): _group(str(g), v, where) for g, v in groups.items()},
    )
