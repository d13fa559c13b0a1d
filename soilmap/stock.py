"""Soil organic carbon stock from layer properties.

stock (t C ha-1) = ∫ SOC (g kg-1) × bulk density (kg m-3) × (1 − coarse fragments) dz,
with dz in metres giving g C m-2, and 1 g m-2 = 0.01 t ha-1.
Point-depth layers (SoilGrids 2017: values *at* 0, 5, 15, 30 cm) are integrated with
the trapezoid rule; interval layers (SoilGrids 2.0: 0–5, 5–15, 15–30 cm) are summed by
thickness.  Either way the integral is a weighted sum of layers, so it stays lazy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import xarray as xr

from soilmap.errors import InputError
from soilmap.meta import with_units
from soilmap.units import CANONICAL, convert

__all__ = ["depth_weights", "stock_from_layers"]

LayerKind = Literal["point", "interval"]

# g C m-2 -> t C ha-1
_G_M2_TO_T_HA = 0.01


def depth_weights(
    depths_cm: Sequence[float] | Sequence[tuple[float, float]],
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
        raise InputError(f"depth range {top}–{bottom} cm is empty or negative.")
    if kind == "point":
        z = np.asarray(depths_cm, dtype="float64")
        if z.ndim != 1 or len(z) < 2 or np.any(np.diff(z) <= 0):
            raise InputError(f"point depths must be >= 2 increasing values (cm), got {list(z)}.")
        if top < z[0] or bottom > z[-1]:
            raise InputError(
                f"layers at {list(z)} cm do not cover {top}–{bottom} cm; soilmap does not "
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
        pairs = [tuple(map(float, p)) for p in depths_cm]  # type: ignore[arg-type]
        if any(len(p) != 2 or p[1] <= p[0] for p in pairs):
            raise InputError(f"interval layers need (upper, lower) pairs in cm, got {pairs}.")
        w = np.array([max(0.0, min(lo, bottom) - max(up, top)) for up, lo in pairs])
        covered = w.sum()
        if not np.isclose(covered, bottom - top):
            raise InputError(
                f"interval layers {pairs} cover {covered:g} cm of {top}–{bottom} cm; "
                "they must cover it fully (no extrapolation)."
            )
        return w / 100.0
    raise InputError(f"layer kind must be 'point' or 'interval', got {kind!r}.")


def stock_from_layers(
    content: Sequence[xr.DataArray],
    bulk_density: Sequence[xr.DataArray],
    depths_cm: Sequence[float] | Sequence[tuple[float, float]],
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
        Volumetric coarse-fragment share per layer (``1``, ``vol %``, ``cm3 dm-3``).
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
        c = convert(content[i], CANONICAL["concentration"], what=f"carbon layer {i + 1}")
        bd = convert(bulk_density[i], CANONICAL["bulk_density"], what=f"bulk density layer {i + 1}")
        density = c * bd  # g C m-3 of fine earth
        if coarse_fragments is not None:
            cf = convert(
                coarse_fragments[i], CANONICAL["fraction"], what=f"coarse fragments layer {i + 1}"
            )
            density = density * (1 - cf)
        term = density * float(weights[i] * _G_M2_TO_T_HA)
        total = term if total is None else total + term
    assert total is not None  # depth_weights guarantees a non-zero weight
    stock = total.astype("float32")
    assumptions = []
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
