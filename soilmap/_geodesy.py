"""Geodesy kernels shared by cell areas and regridding.

Ellipsoidal band areas, ECEF coordinates and per-thread transformers.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used below)
from pyproj import CRS, Transformer

from soilmap.errors import CRSError

__all__ = [
    "band_area",
    "ecef",
    "inverse_transformer",
]


def band_area(phi1: np.ndarray, phi2: np.ndarray, a: float, b: float) -> np.ndarray:
    """``S(φ2) − S(φ1)`` in m² per radian of longitude, without cancellation.

    Subtracting two S values (each ~b²) loses digits for thin bands, so both terms
    are differenced algebraically:
    ``f(s) = s/(1 − e²s²)`` gives ``f(s2) − f(s1) = d(1 + e²s1s2) / ((1 − e²s1²)(1 − e²s2²))``
    and ``artanh(e s2) − artanh(e s1) = artanh(e d / (1 − e² s1 s2))``, where
    ``d = s2 − s1 = 2 cos((φ1+φ2)/2) sin((φ2−φ1)/2)`` is itself exact for small bands.
    """
    e2 = (a - b) * (a + b) / (a * a)
    s1, s2 = np.sin(phi1), np.sin(phi2)
    d = 2.0 * np.cos(0.5 * (phi1 + phi2)) * np.sin(0.5 * (phi2 - phi1))
    term1 = d * (1.0 + e2 * s1 * s2) / ((1.0 - e2 * s1 * s1) * (1.0 - e2 * s2 * s2))
    if e2 > 0.0:
        e = math.sqrt(e2)
        term2 = np.arctanh(e * d / (1.0 - e2 * s1 * s2)) / e
    else:  # sphere: the limit of artanh(e x)/e is x, and b = a gives S = a² sin φ
        term2 = d
    return 0.5 * b * b * (term1 + term2)


def ecef(lam: np.ndarray, phi: np.ndarray, a: float, b: float) -> np.ndarray:
    """Geocentric coordinates (3, n) in metres of geodetic ``(λ, φ)`` on height 0."""
    e2 = (a - b) * (a + b) / (a * a)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    n_radius = a / np.sqrt(1.0 - e2 * sin_phi * sin_phi)
    return np.stack(
        [
            n_radius * cos_phi * np.cos(lam),
            n_radius * cos_phi * np.sin(lam),
            n_radius * (1.0 - e2) * sin_phi,
        ]
    )


_local = threading.local()


def inverse_transformer(wkt: str) -> tuple[Transformer, float]:
    """Inverse projection of ``wkt`` to its base geographic CRS, lon/lat order.

    Returns the transformer and the radians per output unit: the base CRS may use
    grads (NTF Paris), and its prime meridian may not be Greenwich, which does not
    matter here because a meridian shift is a rotation about the polar axis.
    pyproj transformers must not be shared between threads, so each thread (dask
    worker threads included) keeps its own, built once per CRS.
    """
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    entry = cache.get(wkt)
    if entry is None:
        crs = CRS.from_wkt(wkt)
        geographic = crs.geodetic_crs
        if geographic is None:
            raise CRSError(
                f"the CRS {crs.name!r} has no geodetic (lon/lat) base CRS, so ground "
                "positions are undefined. Reproject the input to a geodetic CRS."
            )
        rad_per_unit = geographic.axis_info[0].unit_conversion_factor
        if len(cache) >= 8:
            cache.clear()
        entry = cache[wkt] = (Transformer.from_crs(crs, geographic, always_xy=True), rad_per_unit)
    return entry
