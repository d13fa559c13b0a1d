"""RothC parameters of the land-use groups, and the scenarios' input multipliers.

Defaults per standard group (:data:`DEFAULTS`), each overridable in ``[rothc.groups.X]``:

* ``dpm_rpm``: the RothC users guide's DPM/RPM ratios (Coleman & Jenkinson): 1.44 for
  agricultural crops and improved grassland (cropland, paddy, pasture), 0.67 for
  unimproved grassland and scrub (grassland, shrubland, sparse), 0.25 for deciduous and
  tropical woodland (forest);
* ``npp_share``: the share of the Miami NPP that enters the soil, GSOCseq's coefficients
  (FAO GSOCseq scripts, e.g. ncss-tech/gsp-gsocseq ``warm_up_v2.R``): 0.53 for crops and
  paddy, 0.72 for grassland, shrubs and sparse vegetation, 0.88 for tree cover;
* ``paddy_factor``: 0.4 for paddy rice (Shirato & Yokozawa, as GSOCseq), else 1;
* ``cover``: covered all year and ``input_months``: the input spread evenly over the 12
  months (both stated in ``run.json``; give the crop calendar where it is known).

Groups without parameters (excluded, wetland, settlement, water, custom groups not in
``[rothc.groups]``) are not modelled: their cells are counted, never given a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from soilmap.config.rothc import GroupParams
from soilmap.errors import ConfigError

__all__ = ["DEFAULTS", "SCENARIO_PRESETS", "GroupTable", "group_table", "scenario_multipliers"]

#: GSOCseq's scenarios: business as usual and sustainable soil management with +5, +10
#: and +20 % carbon inputs (low, medium, high).
SCENARIO_PRESETS: dict[str, float] = {"BAU": 1.0, "SSM1": 1.05, "SSM2": 1.10, "SSM3": 1.20}

_EVEN = (1.0 / 12,) * 12
_COVERED = (1,) * 12


def _g(dpm_rpm: float, npp_share: float, paddy_factor: float = 1.0) -> GroupParams:
    return GroupParams(dpm_rpm, _COVERED, _EVEN, npp_share, paddy_factor)


#: Default parameters of the standard groups RothC models.
DEFAULTS: dict[str, GroupParams] = {
    "cropland": _g(1.44, 0.53),
    "paddy": _g(1.44, 0.53, 0.4),
    "pasture": _g(1.44, 0.72),
    "grassland": _g(0.67, 0.72),
    "shrubland": _g(0.67, 0.72),
    "sparse": _g(0.67, 0.72),
    "forest": _g(0.25, 0.88),
}


@dataclass(frozen=True)
class GroupTable:
    """The complete parameters of the modelled groups, in the land use's group order.

    ``groups[i]`` is the name of the land use's group ``i``; ``params[i]`` is None for
    a group that is not modelled.
    """

    groups: tuple[str, ...]
    params: tuple[GroupParams | None, ...]

    @property
    def modelled(self) -> tuple[str, ...]:
        """Names of the groups with parameters."""
        return tuple(g for g, p in zip(self.groups, self.params, strict=True) if p is not None)

    def describe(self) -> dict[str, dict[str, object]]:
        """Plain data for ``run.json``."""
        return {
            g: {
                "dpm_rpm": p.dpm_rpm,
                "cover": list(p.cover or ()),
                "input_months": list(p.input_months or ()),
                "npp_share": p.npp_share,
                "paddy_factor": p.paddy_factor,
            }
            for g, p in zip(self.groups, self.params, strict=True)
            if p is not None
        }


def _merge(default: GroupParams | None, given: GroupParams | None, name: str) -> GroupParams:
    base = default or GroupParams()
    over = given or GroupParams()
    merged = GroupParams(
        dpm_rpm=over.dpm_rpm if over.dpm_rpm is not None else base.dpm_rpm,
        cover=over.cover if over.cover is not None else base.cover,
        input_months=over.input_months if over.input_months is not None else base.input_months,
        npp_share=over.npp_share if over.npp_share is not None else base.npp_share,
        paddy_factor=over.paddy_factor if over.paddy_factor is not None else base.paddy_factor,
    )
    missing = [k for k in ("dpm_rpm", "npp_share") if getattr(merged, k) is None]
    if missing:
        raise ConfigError(
            f"[rothc.groups.{name}]: {name!r} is not a group soilmap has RothC defaults for; "
            f"give {' and '.join(missing)} (and cover / input_months if not even all year)."
        )
    return GroupParams(
        merged.dpm_rpm,
        merged.cover or _COVERED,
        merged.input_months or _EVEN,
        merged.npp_share,
        1.0 if merged.paddy_factor is None else merged.paddy_factor,
    )


def group_table(groups: Sequence[str], given: Mapping[str, GroupParams]) -> GroupTable:
    """The parameters of each of the land use's ``groups`` (None: not modelled).

    Raises
    ------
    soilmap.errors.ConfigError
        A ``[rothc.groups]`` entry names no group of the land use, or a custom group
        lacks parameters.
    """
    stray = sorted(set(given) - set(groups))
    if stray:
        raise ConfigError(
            f"[rothc.groups] names {stray}, which the land use does not have; its groups "
            f"are {list(groups)}."
        )
    params = tuple(
        _merge(DEFAULTS.get(g), given.get(g), g) if (g in DEFAULTS or g in given) else None
        for g in groups
    )
    return GroupTable(tuple(groups), params)


def scenario_multipliers(names: Sequence[str], extra: Mapping[str, float]) -> dict[str, float]:
    """Each scenario's plant-input multiplier: the GSOCseq presets, or ``extra`` by name.

    >>> scenario_multipliers(["BAU", "SSM3", "x"], {"x": 1.3})
    {'BAU': 1.0, 'SSM3': 1.2, 'x': 1.3}
    """
    out = {}
    for n in names:
        if n in extra:
            out[n] = float(extra[n])
        elif n in SCENARIO_PRESETS:
            out[n] = SCENARIO_PRESETS[n]
        else:
            raise ConfigError(
                f"[rothc] scenario {n!r} is not a preset ({', '.join(SCENARIO_PRESETS)}); "
                f"give its input multiplier in [rothc] multipliers = {{ {n} = 1.3 }}."
            )
    unused = sorted(set(extra) - set(names))
    if unused:
        raise ConfigError(f"[rothc] multipliers {unused} are not in scenarios = {list(names)}.")
    return out
