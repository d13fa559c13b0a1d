"""What the SOC input is (SocSpec) and what opening it gives (SocInputs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import dask
import numpy as np
import xarray as xr

from soilmap.blockstats import BlockStats
from soilmap.errors import ConfigError
from soilmap.soc.cleaning import CleaningReport, rules_from_mappings
from soilmap.soc.plausibility import (
    DEFAULT_SAMPLE_CELLS,
    CheckMode,
    PlausibilityResult,
)
from soilmap.soc.products import list_products
from soilmap.soc.ranges import OnImplausible, RangeCheck, check_on_implausible

__all__ = [
    "PropertyLayers",
    "SocInputs",
    "SocSpec",
]


def _paths(value: Any) -> tuple[Path, ...]:
    if value is None or value == ():
        return ()
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(Path(v) for v in values)


@dataclass(frozen=True)
class SocSpec:
    """Where the initial SOC comes from and how to read it; mirrors the ``[soc]`` config.

    Give either ``stock`` or ``content`` + ``bulk_density`` (+ ``coarse_fragments``).
    Units come from ``units``/``*_units``, else from the ``product`` preset, else from
    the file's own unit tag; soilmap never guesses them.

    Attributes
    ----------
    stock : path, optional
        SOC stock raster.
    units : str, optional
        Units of ``stock`` (e.g. ``"kg C m-2"``); overrides the preset.
    product : str, optional
        Product preset (:func:`soilmap.soc.products.list_products`): units, sentinels, range
        rules, depths and statistics of its layers, recognised from file names.
    layer : str, optional
        Product layer of ``stock`` when its file name does not say (e.g. ``"T0"``).
    content, bulk_density, coarse_fragments : tuple of path
        Property layers, one per depth (coarse fragments optional: taken as 0, recorded).
    content_units, bulk_density_units, coarse_fragments_units : str, optional
    depths_cm : tuple
        Point depths or ``(top, bottom)`` pairs per layer; default from the file names.
    kind : {"point", "interval"}, optional
        Default from the product preset.
    top_cm, bottom_cm : float
        Depth range of the stock (cm).
    nodata : float, optional
        An undeclared nodata value of every input file (a sentinel, counted).
    sentinels : tuple of float
        More undeclared "no data" codes of every input file.
    valid_range : (float or None, float or None), optional
        Plausible stock values, inclusive, in ``units`` (stock raster) or t C ha-1
        (stock from properties); other values are removed and counted.
    rules : tuple of Rule or mapping
        Further rules on the stock (see :class:`soilmap.soc.cleaning.Rule`).
    product_rules : bool
        Apply the preset's sentinels and range rules (default True).
    lower, upper : path, optional
        Lower/upper stock bounds (e.g. 5 % / 95 % quantiles), same grid.
    sd : path, optional
        Standard deviation of the stock; bounds are stock ∓ ``z`` × sd.
    z : float, optional
        Required with ``sd`` (1.645 for a 90 % interval, 1.96 for 95 %).
    relative_uncertainty : path, optional
        Relative uncertainty (GSOCseq maps, %): bounds are stock × (1 ∓ u), symmetric.
    uncertainty_units : str, optional
        Units of the bound/sd layers (default: the stock's) or of the relative layer
        (``"%"`` or ``"1"``; no default unless a product preset or the file says).
    unit_check : {"error", "warn", "off"}
        Plausibility check of the units on a sample (see :mod:`soilmap.soc.plausibility`).
    sample_cells : int
        Cells read for the plausibility check, all layers together.
    on_implausible : {"error", "drop"}
        Cells outside their plausible range (:mod:`soilmap.soc.ranges`) that no declared
        rule removed: stop the run (default), or remove them and count them.
    """

    stock: Path | None = None
    units: str | None = None
    product: str | None = None
    layer: str | None = None
    content: tuple[Path, ...] = ()
    content_units: str | None = None
    bulk_density: tuple[Path, ...] = ()
    bulk_density_units: str | None = None
    coarse_fragments: tuple[Path, ...] = ()
    coarse_fragments_units: str | None = None
    depths_cm: tuple[Any, ...] = ()
    kind: Literal["point", "interval"] | None = None
    top_cm: float = 0.0
    bottom_cm: float = 30.0
    #: The depth range was declared (``--soc-depth``, ``top_cm``/``bottom_cm``); else a
    #: stock raster's depth comes from its preset, tags or name, or 0–30 cm is assumed.
    depth_declared: bool = False
    nodata: float | None = None
    sentinels: tuple[float, ...] = ()
    valid_range: tuple[float | None, float | None] | None = None
    rules: tuple[Any, ...] = ()
    product_rules: bool = True
    lower: Path | None = None
    upper: Path | None = None
    sd: Path | None = None
    z: float | None = None
    relative_uncertainty: Path | None = None
    uncertainty_units: str | None = None
    unit_check: CheckMode = "error"
    sample_cells: int = DEFAULT_SAMPLE_CELLS
    on_implausible: OnImplausible = "error"
    #: Rows ``row0:row1`` and columns ``col0:col1`` the run covers: the unit check
    #: samples only them (set by the pipeline from the run's extent).
    sample_window: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)
        check_on_implausible(self.on_implausible)
        if (float(self.top_cm), float(self.bottom_cm)) != (0.0, 30.0):
            set_("depth_declared", True)  # a range other than the default is a declaration
        for k in ("stock", "lower", "upper", "sd", "relative_uncertainty"):
            if getattr(self, k) is not None:
                set_(k, Path(getattr(self, k)))
        for k in ("content", "bulk_density", "coarse_fragments"):
            set_(k, _paths(getattr(self, k)))
        set_("depths_cm", tuple(tuple(d) if isinstance(d, list) else d for d in self.depths_cm))
        set_("sentinels", tuple(float(v) for v in self.sentinels))
        set_("rules", rules_from_mappings(self.rules))
        if (self.stock is None) == (not self.content):
            raise ConfigError(
                "give the SOC either as a stock raster ([soc] stock = ..., or --soc) or as "
                "layer properties ([soc.layers] content/bulk_density), not both/neither."
            )
        if self.content and len(self.bulk_density) != len(self.content):
            raise ConfigError(
                f"[soc.layers] has {len(self.content)} content and {len(self.bulk_density)} "
                "bulk_density layers: give one bulk-density layer per carbon layer."
            )
        if self.coarse_fragments and len(self.coarse_fragments) != len(self.content):
            raise ConfigError(
                f"[soc.layers] has {len(self.coarse_fragments)} coarse_fragments layers for "
                f"{len(self.content)} carbon layers: give one per layer, or none."
            )
        methods = [k for k in ("lower/upper", "sd", "relative_uncertainty") if self._has_bounds(k)]
        if len(methods) > 1:
            raise ConfigError(
                f"give one kind of SOC uncertainty, not {' and '.join(methods)}: lower + "
                "upper layers, OR sd with z, OR relative_uncertainty."
            )
        if (self.lower is None) != (self.upper is None):
            raise ConfigError("give both lower and upper SOC bound layers, or neither.")
        if self.sd is not None and (self.z is None or not self.z > 0):
            raise ConfigError(
                "sd needs a positive z factor: z = 1.645 for a 90 % interval, 1.96 for 95 %."
            )
        if self.kind not in (None, "point", "interval"):
            raise ConfigError(f"kind must be 'point' or 'interval', not {self.kind!r}.")
        if self.unit_check not in ("error", "warn", "off"):
            raise ConfigError(
                f"unit_check must be 'error', 'warn' or 'off', not {self.unit_check!r}."
            )
        if self.product is not None and self.product not in list_products():
            raise ConfigError(
                f"unknown SOC product {self.product!r}; presets: {', '.join(list_products())}."
            )

    def _has_bounds(self, method: str) -> bool:
        if method == "lower/upper":
            return self.lower is not None or self.upper is not None
        return getattr(self, method) is not None

    @property
    def paths(self) -> list[Path]:
        """Every input file."""
        main = [self.stock] if self.stock else [*self.content, *self.bulk_density]
        extra = [self.lower, self.upper, self.sd, self.relative_uncertainty]
        return [p for p in (*main, *self.coarse_fragments, *extra) if p is not None]

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> SocSpec:
        """Copy the matching fields of a config object (e.g. ``RunConfig.soc``)."""
        names = {f.name for f in fields(cls)}
        kwargs = {n: getattr(config, n) for n in names if hasattr(config, n)}
        kwargs.update(overrides)
        return cls(**kwargs)


@dataclass(frozen=True)
class PropertyLayers:
    """The opened layer properties a stock was computed from, for models that reuse them.

    A saturation cap turns carbon concentrations into stocks with the SOC input's own
    bulk density and coarse fragments, depths and depth range: exactly these layers,
    opened once, with the units the stock used (from the config or the preset).

    Attributes
    ----------
    bulk_density : tuple of xarray.DataArray
        Per layer, top down, cleaned, with ``units``.
    coarse_fragments : tuple of xarray.DataArray or None
        Per layer, top down; None when not given (taken as 0).
    depths_cm : list
        Point depths or ``(top, bottom)`` pairs, top down.
    kind : {"point", "interval"}
    top_cm, bottom_cm : float
        The stock's depth range.
    order : tuple of int
        Position in the configured layer lists of each layer here (layers named by
        depth are put top down), so per-layer inputs of other models can follow.
    """

    bulk_density: tuple[xr.DataArray, ...]
    coarse_fragments: tuple[xr.DataArray, ...] | None
    depths_cm: list[Any]
    kind: Literal["point", "interval"]
    top_cm: float
    bottom_cm: float
    order: tuple[int, ...]


@dataclass
class SocInputs:
    """The opened SOC input: lazy layers, lazy counts and what was done to them.

    Attributes
    ----------
    stock : xarray.DataArray
        SOC stock, t C ha-1, float32, lazy; attrs ``units``, ``long_name``, ``history``,
        ``assumptions``, ``depth_range_cm``.
    lower, upper : xarray.DataArray or None
        Bounds in t C ha-1 on the stock's grid, with lower ≤ stock ≤ upper (clipped).
    counts : dict of str to dask.array.Array
        0-d lazy counts: cells each cleaning rule removed (``"<role>:<file>:<rule>"``),
        valid stock cells, bound cells clipped (``"bounds:..."``).  Compute them with the
        outputs (one ``dask.compute``) and pass the result to :meth:`report`.
    conversions : list of str
        Unit conversions applied, human-readable.
    assumptions : list of str
    checks : list of PlausibilityResult
        Unit plausibility checks (already done on a sample).
    cleaning : list of CleaningReport
        One per layer cleaned.
    uncertainty : dict or None
        How the bounds were made.
    sources : dict
        Input files per role, with what each was recognised as.
    properties : PropertyLayers or None
        The opened layer properties, when the stock was computed from them.
    """

    stock: xr.DataArray
    lower: xr.DataArray | None = None
    upper: xr.DataArray | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    #: The lazy boolean masks behind :attr:`counts` (same keys), on the stock's grid.
    count_masks: dict[str, xr.DataArray] = field(default_factory=dict)
    conversions: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    checks: list[PlausibilityResult] = field(default_factory=list)
    cleaning: list[CleaningReport] = field(default_factory=list)
    uncertainty: dict[str, Any] | None = None
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    properties: PropertyLayers | None = None
    #: The range check of every SOC input layer (:mod:`soilmap.soc.ranges`); their
    #: reductions are computed with the outputs.
    range_checks: list[RangeCheck] = field(default_factory=list)
    on_implausible: OnImplausible = "error"
    #: What the pre-run samples showed of implausible cells (None: nothing), per layer.
    sample_failures: list[str | None] = field(default_factory=list)

    def value_stats(self) -> list[BlockStats]:
        """The per-chunk statistics of every range check (for the engine's ``stats``)."""
        return [rc.stats() for rc in self.range_checks]

    def compute_counts(self) -> dict[str, int]:
        """Compute the counts on their own (reads the inputs; pipelines use :attr:`counts`)."""
        (values,) = dask.compute(self.counts)
        return {k: int(v) for k, v in values.items()}

    def report(self, counts: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-able description for ``run.json``, given the *computed* counts."""
        checks = tuple(f"{rc.key}:" for rc in self.range_checks)
        n = {k: int(np.asarray(v)) for k, v in counts.items() if not k.startswith(checks)}
        unc = None
        if self.uncertainty is not None:
            clipped = {k.split(":", 1)[1]: v for k, v in n.items() if k.startswith("bounds:")}
            unc = {**self.uncertainty, "cells": clipped}
        return {
            "stock": {
                "units": self.stock.attrs.get("units"),
                "long_name": self.stock.attrs.get("long_name"),
                "depth_range_cm": self.stock.attrs.get("depth_range_cm"),
                "valid_cells": n.get("stock:valid_cells"),
            },
            "sources": self.sources,
            "conversions": list(self.conversions),
            "assumptions": list(self.assumptions),
            "cleaning": [c.to_dict(n) for c in self.cleaning],
            "plausibility": [c.to_dict() for c in self.checks],
            "uncertainty": unc,
            "counts": n,
        }
