"""Soil organic carbon stock from layer properties.

stock (t C ha-1) = ∫ SOC (g kg-1) × bulk density (kg m-3) × (1 − coarse fragments) dz,
with dz in metres giving g C m-2, and 1 g m-2 = 0.01 t ha-1.
Point-depth layers (SoilGrids 2017: values *at* 0, 5, 15, 30 cm) are integrated with
the trapezoid rule; interval layers (SoilGrids 2.0: 0–5, 5–15, 15–30 cm) are summed by
thickness.  Either way the integral is a weighted sum of layers, so it stays lazy.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from soilmap.errors import InputError
from soilmap.meta import with_units
from soilmap.soc.cleaning import clip_bounds
from soilmap.units import CANONICAL, convert

__all__ = [
    "depth_assumptions",
    "depth_weights",
    "layer_depths",
    "order_by_depth",
    "stock_bounds",
    "stock_from_layers",
]

LayerKind = Literal["point", "interval"]
Depth = float | tuple[float, float]

# g C m-2 -> t C ha-1
_G_M2_TO_T_HA = 0.01


def _intervals(depths_cm: Sequence[Depth]) -> list[tuple]:
    try:
        pairs = [tuple(map(float, p)) for p in depths_cm]  # type: ignore[arg-type]
    except TypeError:
        raise InputError(
            f"interval layers need (upper, lower) pairs in cm, got {list(depths_cm)}; "
            "for values at single depths use kind='point'."
        ) from None
    if any(len(p) != 2 or p[1] <= p[0] for p in pairs):
        raise InputError(f"interval layers need (upper, lower) pairs in cm, got {pairs}.")
    ordered = sorted(pairs)
    for (a0, a1), (b0, b1) in itertools.pairwise(ordered):
        if b0 < a1:
            raise InputError(
                f"interval layers {a0:g}-{a1:g} and {b0:g}-{b1:g} cm overlap; give each "
                "depth once (e.g. 0-5, 5-15, 15-30)."
            )
    return pairs


def depth_assumptions(
    depths_cm: Sequence[Depth],
    *,
    kind: LayerKind,
    top: float = 0.0,
    bottom: float = 30.0,
) -> list[str]:
    """Assumptions made when harmonising layers to ``top``–``bottom`` cm, in words.

    An interval layer only partly inside the target range is taken as uniform over
    its depth (its value applies to the part used); point values are interpolated
    linearly between depths (trapezoid rule).
    """
    if kind == "point":
        z = [float(d) for d in depths_cm]  # type: ignore[arg-type]
        ends = [e for e in (top, bottom) if e not in z]
        if not ends:
            return []
        at = " and ".join(f"{e:g}" for e in ends)
        return [f"values at {at} cm interpolated linearly between the nearest given depths"]
    out = []
    for up, lo in _intervals(depths_cm):
        a, b = max(up, top), min(lo, bottom)
        if b > a and (a > up or b < lo):
            out.append(
                f"layer {up:g}-{lo:g} cm taken as uniform with depth: its value is used for "
                f"{a:g}-{b:g} cm"
            )
    return out


def depth_weights(
    depths_cm: Sequence[Depth],
    *,
    kind: LayerKind,
    top: float = 0.0,
    bottom: float = 30.0,
) -> np.ndarray:
    """Weights (m) that turn per-layer carbon densities into a stock over ``top``–``bottom``.

    Parameters
    ----------
    depths_cm : sequence
        For ``kind="point"``: increasing depths (cm) at which values are given.
        For ``kind="interval"``: ``(upper, lower)`` depth pairs (cm), contiguous.
    kind : {"point", "interval"}
        Point values integrated by the trapezoid rule over the piecewise-linear
        profile, or interval means weighted by the overlap with the target range.
    top, bottom : float
        Target depth range (cm).

    Returns
    -------
    numpy.ndarray
        One weight per layer, in metres; ``Σ w_i × density_i`` (g C m-3) is g C m-2.

    Raises
    ------
    soilmap.errors.InputError
        If the layers do not cover the target range (no extrapolation).
    """
    if not bottom > top >= 0:
        raise InputError(f"depth range {top:g}–{bottom:g} cm is empty or negative.")
    if kind == "point":
        z = np.asarray(depths_cm, dtype="float64")
        if z.ndim != 1 or len(z) < 2 or np.any(np.diff(z) <= 0):
            raise InputError(f"point depths must be >= 2 increasing values (cm), got {z.tolist()}.")
        if top < z[0] or bottom > z[-1]:
            raise InputError(
                f"layers at {z.tolist()} cm do not cover {top:g}–{bottom:g} cm; soilmap does not "
                "extrapolate. Add deeper layers or choose a shallower depth range."
            )
        # Integrate the piecewise-linear profile exactly: on each segment clipped to
        # [top, bottom], the integral is linear in the two end values.
        w = np.zeros(len(z))
        for i in range(len(z) - 1):
            a, b = max(z[i], top), min(z[i + 1], bottom)
            if b <= a:
                continue
            h = z[i + 1] - z[i]
            # values at a and b as weights of z[i], z[i+1]
            ta, tb = (a - z[i]) / h, (b - z[i]) / h
            mean_left = 1 - (ta + tb) / 2
            w[i] += (b - a) * mean_left
            w[i + 1] += (b - a) * (1 - mean_left)
        return w / 100.0
    if kind == "interval":
        pairs = _intervals(depths_cm)
        w = np.array([max(0.0, min(lo, bottom) - max(up, top)) for up, lo in pairs])
        covered = w.sum()
        if not np.isclose(covered, bottom - top):
            raise InputError(
                f"interval layers {pairs} cover {covered:g} cm of {top:g}–{bottom:g} cm; "
                "they must cover it fully (no extrapolation)."
            )
        return w / 100.0
    raise InputError(f"layer kind must be 'point' or 'interval', got {kind!r}.")


def stock_from_layers(
    content: Sequence[xr.DataArray],
    bulk_density: Sequence[xr.DataArray],
    depths_cm: Sequence[Depth],
    *,
    kind: LayerKind = "point",
    coarse_fragments: Sequence[xr.DataArray] | None = None,
    top: float = 0.0,
    bottom: float = 30.0,
) -> xr.DataArray:
    """SOC stock (t C ha-1) over ``top``–``bottom`` cm from per-layer properties, lazily.

    Parameters
    ----------
    content : sequence of xarray.DataArray
        Organic carbon concentration of the fine earth per layer, any concentration
        unit soilmap knows (``g kg-1``, ``dg kg-1``, ``%``).
    bulk_density : sequence of xarray.DataArray
        Fine-earth bulk density per layer (``kg m-3``, ``g cm-3``, ``cg cm-3``).
    depths_cm : sequence
        Layer depths (see :func:`depth_weights`).
    kind : {"point", "interval"}
        How layers sample the profile.
    coarse_fragments : sequence of xarray.DataArray, optional
        Volumetric coarse-fragment share per layer (``1``, ``vol %``, ``%``, ``cm3 dm-3``).
        Without it the share is taken as 0, which ``attrs["assumptions"]`` records.
    top, bottom : float
        Target depth range (cm).

    Returns
    -------
    xarray.DataArray
        Stock in ``t C ha-1``, float32; NaN where any layer is missing.
    """
    n = len(content)
    if n != len(bulk_density) or n != len(depths_cm):
        raise InputError(
            f"got {n} carbon layers, {len(bulk_density)} bulk-density layers and "
            f"{len(depths_cm)} depths: give one of each per layer."
        )
    if coarse_fragments is not None and len(coarse_fragments) != n:
        raise InputError(f"got {len(coarse_fragments)} coarse-fragment layers for {n} layers.")
    weights = depth_weights(depths_cm, kind=kind, top=top, bottom=bottom)
    total = None
    for i in range(n):
        if weights[i] == 0:
            continue
        c = convert(
            content[i],
            CANONICAL["concentration"],
            what=f"carbon layer {i + 1}",
            quantity="concentration",
        )
        bd = convert(
            bulk_density[i],
            CANONICAL["bulk_density"],
            what=f"bulk density layer {i + 1}",
            quantity="bulk_density",
        )
        density = c * bd  # g C m-3 of fine earth
        if coarse_fragments is not None:
            # "%" of coarse fragments is a volume share, not a carbon content.
            cf = convert(
                coarse_fragments[i],
                CANONICAL["fraction"],
                what=f"coarse fragments layer {i + 1}",
                quantity="fraction",
            )
            density = density * (1 - cf)
        term = density * float(weights[i] * _G_M2_TO_T_HA)
        total = term if total is None else total + term
    assert total is not None  # depth_weights guarantees a non-zero weight
    stock = total.astype("float32")
    assumptions = depth_assumptions(depths_cm, kind=kind, top=top, bottom=bottom)
    if coarse_fragments is None:
        assumptions.append(
            "coarse fragments not given: their volume share is taken as 0 "
            "(stock may be overestimated on stony soils)"
        )
    method = "trapezoid rule over point depths" if kind == "point" else "thickness-weighted layers"
    out = with_units(
        stock,
        CANONICAL["stock"],
        long_name=f"SOC stock {top:g}-{bottom:g} cm",
        step=f"stock_from_layers({method}, depths={list(depths_cm)}, range={top:g}-{bottom:g} cm)",
        history_from=content[0],
    )
    out.name = "soc_stock"
    out.attrs["depth_range_cm"] = f"{top:g}-{bottom:g}"
    out.attrs["assumptions"] = "; ".join(assumptions)
    return out


def _as_depth(d: Any) -> Depth:
    """A user's depth (any TOML/Python value): a pair is an interval, else a point (cm)."""
    return (float(d[0]), float(d[1])) if isinstance(d, list | tuple) else float(d)


def layer_depths(
    named: Sequence[Depth | None],
    given: Sequence[object] = (),
    *,
    names: Sequence[str],
    kinds: Sequence[str | None] = (),
    kind: LayerKind | None = None,
) -> tuple[list[Depth], LayerKind]:
    """Depths and kind of property layers, from the user or from their file names.

    Parameters
    ----------
    named : sequence
        Depth each file name says (None when it says nothing).
    given : sequence
        Depths the user gave (``depths_cm``), which win but must agree with the names.
    names : sequence of str
        File names, for messages.
    kinds : sequence
        Kind each file's product preset says; ``kind`` (the user's) wins.

    Raises
    ------
    soilmap.errors.InputError
        Depths unknown, contradicting the file names, or kind unknown.
    """
    if given:
        depths = [_as_depth(d) for d in given]
        for name, d, n in zip(names, depths, named, strict=True):
            if n is not None and n != d:
                raise InputError(
                    f"depths_cm gives {d} cm for {name!r}, but its name says {n} cm. "
                    "Fix depths_cm or the order of the files."
                )
    elif all(d is not None for d in named):
        depths = list(named)  # type: ignore[arg-type]
    else:
        missing = [n for n, d in zip(names, named, strict=True) if d is None]
        raise InputError(
            f"the depth of {', '.join(missing)} is unknown: give depths_cm in [soc.layers] "
            "(point depths like [0, 5, 15, 30] or intervals like [[0, 5], [5, 15], [15, 30]]), "
            "or product = '...' to read them from the file names."
        )
    found = {k for k in kinds if k}
    shapes = {"interval" if isinstance(d, tuple) else "point" for d in depths}
    if kind is not None and (found | shapes) - {kind}:
        raise InputError(
            f"kind = {kind!r}, but the layers are {' and '.join(sorted(found | shapes))} layers "
            f"(depths {depths}): leave kind unset to use the product's, or fix depths_cm."
        )
    # A (top, bottom) pair can only be an interval, a single number only a point.
    known = found | shapes
    out = kind or (known.pop() if len(known) == 1 else None)
    if out not in ("point", "interval"):
        raise InputError(
            "say whether the layers are values at depths or over intervals: "
            "kind = 'point' or kind = 'interval' in [soc.layers]."
        )
    return depths, out  # type: ignore[return-value]


def order_by_depth(
    group: Sequence[Depth | None], depths: Sequence[Depth], *, what: str
) -> list[int] | None:
    """Positions that put a group of layers (bulk density …) in the order of ``depths``.

    Returns None when the group's depths are not all known (keep the order given).

    Raises
    ------
    soilmap.errors.InputError
        A depth of the carbon layers has no layer in the group.
    """
    if any(d is None for d in group):
        return None
    lost = [d for d in depths if d not in group]
    if lost:
        raise InputError(f"{what} layers are at {list(group)} cm: none at {lost} cm.")
    return [list(group).index(d) for d in depths]


def stock_bounds(
    stock: xr.DataArray,
    *,
    lower: xr.DataArray | None = None,
    upper: xr.DataArray | None = None,
    sd: xr.DataArray | None = None,
    z: float | None = None,
    relative: xr.DataArray | None = None,
    masks: dict[str, xr.DataArray] | None = None,
) -> tuple[xr.DataArray, xr.DataArray, dict, str]:
    """Lower and upper stock bounds from one kind of uncertainty layer, lazily, clipped.

    Parameters
    ----------
    stock : xarray.DataArray
        Stock (t C ha-1).
    lower, upper : xarray.DataArray, optional
        Bounds in the stock's units (e.g. 5 % / 95 % quantile maps).
    sd : xarray.DataArray, optional
        Standard deviation in the stock's units, with ``z`` (1.645: 90 % interval).
    relative : xarray.DataArray, optional
        Relative uncertainty as a fraction (``"1"``): bounds stock × (1 ∓ u), symmetric.

    Returns
    -------
    lower, upper : xarray.DataArray
        Float32 bounds with 0 ≤ lower ≤ stock ≤ upper (see
        :func:`soilmap.soc.cleaning.clip_bounds`), attrs of the stock.
    counts : dict
        Lazy counts of cells clipped or missing.
    method : str
        How the bounds were made, in words.
    """
    if lower is not None and upper is not None:
        lo, hi, method = lower, upper, "lower and upper layers"
    elif sd is not None and z is not None:
        lo, hi, method = stock - z * sd, stock + z * sd, f"stock ∓ {z:g} × sd"
    elif relative is not None:
        lo, hi = stock * (1 - relative), stock * (1 + relative)
        method = "stock × (1 ∓ u): relative uncertainty applied symmetrically"
    else:
        raise InputError("stock_bounds needs lower and upper, sd and z, or relative.")
    lo, hi, counts = clip_bounds(stock, lo, hi, masks=masks)
    return lo.astype("float32"), hi.astype("float32"), counts, method
