"""Cleaning as declared rules: sentinels and plausible ranges, applied lazily, counted.

A value is "not data" either because it is a **sentinel** (a code such as −999 or
−32768 that a file uses for missing data without declaring it) or because it lies
outside a **plausible range** (GSOCseq stocks below 0 or above 800 t C ha-1).  Rules
come from a product preset (:mod:`soilmap.soc.products`) or from the user, and each one is
reported with the number of cells it removed.

Everything stays lazy: a rule is an ``xarray`` ``where`` on the layer, and the count
of removed cells is a dask reduction on the *same* graph, so a pipeline that computes
the outputs and the counts in one ``dask.compute`` reads every block once.

Rules are applied sentinels first, then ranges, each counting only the cells still
valid at that point, so the counts add up to the total removed and no cell is
counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from soilmap.errors import ConfigError
from soilmap.meta import append_history
from soilmap.units import conversion_factor

__all__ = [
    "Cleaned",
    "CleaningReport",
    "Rule",
    "apply_rules",
    "clip_bounds",
    "rules_from_mappings",
]

RuleKind = Literal["sentinel", "range"]


def _fmt(v: float) -> str:
    return f"{v:g}"


@dataclass(frozen=True)
class Rule:
    """One declared cleaning rule.

    Attributes
    ----------
    name : str
        Identifier used in reports and count keys (e.g. ``"sentinel_-999"``).
    kind : {"sentinel", "range"}
        ``"sentinel"`` removes cells equal to one of ``values`` (stored values, never
        converted); ``"range"`` removes cells outside ``min``/``max``.
    values : tuple of float
        Sentinel values.
    min, max : float, optional
        Plausible limits; ``None`` means unbounded on that side.
    min_inclusive, max_inclusive : bool
        Whether a value equal to the limit is kept (default: both kept).
    units : str, optional
        Units of ``min``/``max``; when a layer is in other units of the same
        quantity the limits are converted.  ``None``: the layer's own units.
    reason : str
        Why the rule exists (source, evidence); goes into ``run.json``.
    """

    name: str
    kind: RuleKind
    values: tuple[float, ...] = ()
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    units: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind == "sentinel":
            if not self.values:
                raise ConfigError(f"cleaning rule {self.name!r}: a sentinel rule needs values.")
            object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        elif self.kind == "range":
            if self.min is None and self.max is None:
                raise ConfigError(f"cleaning rule {self.name!r}: a range rule needs min or max.")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ConfigError(
                    f"cleaning rule {self.name!r}: min {self.min:g} is above max {self.max:g}."
                )
        else:
            raise ConfigError(
                f"cleaning rule {self.name!r}: kind must be 'sentinel' or 'range', "
                f"not {self.kind!r}."
            )

    @classmethod
    def sentinel(cls, *values: float, name: str | None = None, reason: str = "") -> Rule:
        """A rule removing cells equal to any of ``values``."""
        label = name or "sentinel_" + "_".join(_fmt(float(v)) for v in values)
        return cls(name=label, kind="sentinel", values=tuple(values), reason=reason)

    @classmethod
    def valid_range(
        cls,
        min: float | None = None,
        max: float | None = None,
        *,
        min_inclusive: bool = True,
        max_inclusive: bool = True,
        units: str | None = None,
        name: str | None = None,
        reason: str = "",
    ) -> Rule:
        """A rule keeping only ``min`` ≤ x ≤ ``max`` (bounds inclusive unless stated)."""
        label = (
            name or f"range_{'' if min is None else _fmt(min)}_{'' if max is None else _fmt(max)}"
        )
        return cls(
            name=label,
            kind="range",
            min=min,
            max=max,
            min_inclusive=min_inclusive,
            max_inclusive=max_inclusive,
            units=units,
            reason=reason,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, units: str | None = None) -> Rule:
        """Build a rule from a TOML/YAML table (keys as the attributes)."""
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - allowed
        if unknown:
            raise ConfigError(
                f"cleaning rule {data.get('name', '?')!r}: unknown key(s) {sorted(unknown)}; "
                f"allowed: {sorted(allowed)}."
            )
        kwargs = dict(data)
        kwargs.setdefault("units", units)
        if "values" in kwargs:
            kwargs["values"] = tuple(kwargs["values"])
        if "name" not in kwargs:
            if kwargs.get("kind") == "sentinel":
                return cls.sentinel(*kwargs["values"], reason=kwargs.get("reason", ""))
            raise ConfigError(f"cleaning rule {dict(data)!r} needs a name.")
        return cls(**kwargs)

    def describe(self, units: str | None = None) -> str:
        """What the rule removes, in words, e.g. ``"x < 0 or x > 800 t C ha-1"``."""
        if self.kind == "sentinel":
            return "x = " + " or ".join(_fmt(v) for v in self.values)
        parts = []
        if self.min is not None:
            parts.append(f"x {'<' if self.min_inclusive else '≤'} {_fmt(self.min)}")
        if self.max is not None:
            parts.append(f"x {'>' if self.max_inclusive else '≥'} {_fmt(self.max)}")
        u = self.units or units
        return " or ".join(parts) + (f" {u}" if u else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: name, kind, parameters, reason."""
        if self.kind == "sentinel":
            params: dict[str, Any] = {"values": list(self.values)}
        else:
            params = {
                "min": self.min,
                "max": self.max,
                "min_inclusive": self.min_inclusive,
                "max_inclusive": self.max_inclusive,
                "units": self.units,
            }
        return {"rule": self.name, "kind": self.kind, "parameters": params, "reason": self.reason}

    def removes(self, da: xr.DataArray, *, units: str | None = None) -> xr.DataArray:
        """Boolean layer: True where this rule says a (non-NaN) cell is not data.

        Parameters
        ----------
        da : xarray.DataArray
            Layer in its stored units.
        units : str, optional
            Units of ``da`` (default ``da.attrs["units"]``), to convert range limits.
        """
        if self.kind == "sentinel":
            # A float32 file stores -3.4e38 as -3.3999999521e38 (also once read as
            # float64): a sentinel matches its float32 rounding too.
            with np.errstate(over="ignore"):
                as_f32 = np.asarray(self.values, dtype="float32").astype("float64")
            return da.isin([*self.values, *(v for v in as_f32.tolist() if np.isfinite(v))])
        lo, hi = self.min, self.max
        layer_units = units or da.attrs.get("units")
        if self.units and layer_units and self.units != layer_units:
            f = conversion_factor(self.units, layer_units)
            lo = None if lo is None else lo * f
            hi = None if hi is None else hi * f
        out = xr.zeros_like(da, dtype=bool)
        if lo is not None and not math.isinf(lo):
            out = out | ((da < lo) if self.min_inclusive else (da <= lo))
        if hi is not None and not math.isinf(hi):
            out = out | ((da > hi) if self.max_inclusive else (da >= hi))
        return out


def rules_from_mappings(
    items: Iterable[Rule | Mapping[str, Any]], *, units: str | None = None
) -> tuple[Rule, ...]:
    """Rules from a mix of :class:`Rule` objects and TOML tables."""
    return tuple(r if isinstance(r, Rule) else Rule.from_mapping(r, units=units) for r in items)


def _as_dask_scalar(x: Any) -> dsa.Array:
    return x if isinstance(x, dsa.Array) else dsa.from_array(np.asarray(x), chunks=())


@dataclass(frozen=True)
class CleaningReport:
    """The rules applied to one layer; turns computed counts into ``run.json`` data.

    Attributes
    ----------
    layer : str
        Name of the layer (file stem).
    source : str
        Path of the file.
    units : str or None
        Units the rules were applied in (the stored units).
    rules : tuple of Rule
    keys : tuple of str
        Count keys, one per rule, in :attr:`Cleaned.counts`.
    """

    layer: str
    source: str
    units: str | None
    rules: tuple[Rule, ...]
    keys: tuple[str, ...]

    def to_dict(self, counts: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-able report given *computed* counts (key → int).

        Returns
        -------
        dict
            ``{"layer", "source", "units", "rules": [{rule, kind, parameters, reason,
            cells_removed}], "cells_removed": total}``.
        """
        rules = []
        for rule, key in zip(self.rules, self.keys, strict=True):
            n = int(np.asarray(counts[key]))
            rules.append({**rule.to_dict(), "cells_removed": n})
        return {
            "layer": self.layer,
            "source": self.source,
            "units": self.units,
            "rules": rules,
            "cells_removed": sum(r["cells_removed"] for r in rules),
        }


@dataclass
class Cleaned:
    """A cleaned layer with the lazy count of cells each rule removed.

    Attributes
    ----------
    data : xarray.DataArray
        The layer with removed cells set to NaN (same units, lazy).
    counts : dict of str to dask.array.Array
        Rule key → 0-d dask integer array; compute them with the outputs.
    report : CleaningReport
    """

    data: xr.DataArray
    counts: dict[str, dsa.Array] = field(default_factory=dict)
    report: CleaningReport | None = None
    #: Rule key -> the lazy boolean mask whose sum is the count, so a pipeline that
    #: computes by windows can count window by window (and read every block once).
    masks: dict[str, xr.DataArray] = field(default_factory=dict)


def apply_rules(
    da: xr.DataArray,
    rules: Sequence[Rule],
    *,
    key_prefix: str | None = None,
) -> Cleaned:
    """Apply cleaning rules lazily and count the cells each one removes.

    Parameters
    ----------
    da : xarray.DataArray
        Layer in its stored units (before any unit conversion), NaN for declared nodata.
    rules : sequence of Rule
        Sentinels are applied first, then ranges; duplicates (same name) are applied once.
    key_prefix : str, optional
        Prefix of the count keys (default: the layer name), giving ``"<prefix>:<rule>"``.

    Returns
    -------
    Cleaned
        The cleaned layer (float, NaN where removed), a dict of lazy counts and a
        :class:`CleaningReport`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([[-999.0, 50.0, 5e9]]), dims=("y", "x"), name="t0")
    >>> c = apply_rules(da.chunk(), [Rule.sentinel(-999), Rule.valid_range(0, 800)])
    >>> {k: int(v.compute()) for k, v in c.counts.items()}
    {'t0:sentinel_-999': 1, 't0:range_0_800': 1}
    """
    unique: dict[str, Rule] = {}
    for r in rules:
        unique.setdefault(r.name, r)
    ordered = sorted(unique.values(), key=lambda r: r.kind != "sentinel")
    prefix = key_prefix or str(da.name or "layer")
    units = da.attrs.get("units")
    out = da
    counts: dict[str, dsa.Array] = {}
    masks: dict[str, xr.DataArray] = {}
    keys = []
    for rule in ordered:
        hit = rule.removes(out, units=units) & out.notnull()
        key = f"{prefix}:{rule.name}"
        counts[key] = _as_dask_scalar(hit.sum().data)
        masks[key] = hit
        keys.append(key)
        out = out.where(~hit)
    if ordered:
        out.attrs = dict(da.attrs)
        out.name = da.name
        out = append_history(
            out, "cleaning: " + "; ".join(f"{r.name} ({r.describe(units)})" for r in ordered)
        )
    report = CleaningReport(
        layer=str(da.name or prefix),
        source=str(da.attrs.get("source", "")),
        units=units,
        rules=tuple(ordered),
        keys=tuple(keys),
    )
    return Cleaned(data=out, counts=counts, report=report, masks=masks)


def clip_bounds(
    stock: xr.DataArray,
    lower: xr.DataArray,
    upper: xr.DataArray,
    *,
    key_prefix: str = "bounds",
    masks: dict[str, xr.DataArray] | None = None,
) -> tuple[xr.DataArray, xr.DataArray, dict[str, dsa.Array]]:
    """Enforce 0 ≤ lower ≤ stock ≤ upper lazily, counting every cell changed.

    Bounds are set to NaN where the stock is missing; where the stock is valid but a
    bound is missing it stays missing (and is counted).

    Parameters
    ----------
    stock, lower, upper : xarray.DataArray
        Same grid and units.
    key_prefix : str
        Prefix of the count keys.

    Returns
    -------
    lower, upper : xarray.DataArray
        Clipped bounds (attrs as given).
    counts : dict of str to dask.array.Array
        ``<prefix>:lower_missing``, ``upper_missing``, ``lower_negative_clipped``,
        ``lower_above_stock_clipped``, ``upper_below_stock_clipped`` (cells where the
        stock is valid).
    """
    valid = stock.notnull()
    masks = {} if masks is None else masks

    def count(cond: xr.DataArray, key: str) -> dsa.Array:
        masks[key] = valid & cond  # kept so a windowed compute can count it too
        return _as_dask_scalar(masks[key].sum().data)

    counts = {
        k: count(cond, k)
        for k, cond in (
            (f"{key_prefix}:lower_missing", lower.isnull()),
            (f"{key_prefix}:upper_missing", upper.isnull()),
            (f"{key_prefix}:lower_negative_clipped", lower < 0),
        )
    }
    lo = lower.where(~(lower < 0), 0.0)
    for k, cond in (
        (f"{key_prefix}:lower_above_stock_clipped", lo > stock),
        (f"{key_prefix}:upper_below_stock_clipped", upper < stock),
    ):
        counts[k] = count(cond, k)
    lo = lo.where(~(lo > stock), stock).where(valid)
    hi = upper.where(~(upper < stock), stock).where(valid)
    lo.attrs, hi.attrs = dict(lower.attrs), dict(upper.attrs)
    return lo, hi, counts
