"""The equilibrium of RothC under a repeating year, exactly, and IOM from Falloon (1998).

With the year's moisture deficits periodic (:func:`soilmap.rothc.model.periodic_deficit`)
each month is an affine map of the pools, ``x' = A_m x + b_m``, with
``A_m = diag(keep_m) + f (1 - keep_m)^T`` (``f`` = (0, 0, f_bio, f_hum): what decays goes
to BIO and HUM) and ``b_m`` the month's inputs.  The year is their composition
``x' = M x + c``, and the equilibrium (the state the official spin-up converges to, at
the end of December) solves ``(I - M) x = c``.  ``c`` is linear in the inputs, which is
what calibration uses.

Examples
--------
>>> round(float(iom_falloon(42.4779)), 4)  # t C ha-1
3.5049
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from soilmap.rothc.model import Climate, Soil, month_rate, periodic_deficit, retention

FloatArray = npt.NDArray[np.float64]


def iom_falloon(soc: npt.ArrayLike) -> FloatArray:
    """Inert organic matter from the total SOC stock, ``IOM = 0.049 SOC^1.139``.

    Parameters
    ----------
    soc : array_like
        Total soil organic carbon of the topsoil, t C ha-1 (Falloon et al. 1998).

    Returns
    -------
    numpy.ndarray
        IOM, t C ha-1.
    """
    return 0.049 * np.asarray(soc, dtype=np.float64) ** 1.139


def periodic_keep(climate: Climate, soil: Soil) -> tuple[FloatArray, FloatArray]:
    """Retained shares of the 12 months of a periodic year, and the December deficit.

    Parameters
    ----------
    climate : Climate
        One year of forcing, arrays of shape ``(12, n)``.
    soil : Soil
        The cells' soil, arrays of shape ``(n,)``.

    Returns
    -------
    tuple of numpy.ndarray
        ``keep`` of shape ``(12, 4, n)`` and the periodic December deficit ``(n,)``, mm.
    """
    n = np.shape(soil.f_bio)
    smd = periodic_deficit(np.zeros(n), climate, soil.water)
    dec = smd
    keep = []
    for i in range(len(climate)):
        mod = month_rate(smd, climate, i, soil.water)
        smd = mod.smd
        keep.append(retention(mod.rate))
    return np.stack(keep), dec


def year_map(keep: FloatArray, soil: Soil) -> FloatArray:
    """The matrices ``M`` of a year's composition, shape ``(n, 4, 4)``.

    Parameters
    ----------
    keep : numpy.ndarray
        Retained shares, shape ``(months, 4, n)``.
    soil : Soil
        The cells' soil (partition), arrays of shape ``(n,)``.
    """
    n = keep.shape[-1]
    f = np.zeros((n, 4))
    f[:, 2] = soil.f_bio
    f[:, 3] = soil.f_hum
    m = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
    for k in keep:
        kt = k.T  # (n, 4)
        a = f[:, :, None] * (1.0 - kt)[:, None, :]
        a[:, np.arange(4), np.arange(4)] += kt
        m = a @ m
    return m


def year_inputs(keep: FloatArray, soil: Soil, added: FloatArray) -> FloatArray:
    """The vector ``c`` of a year's composition for inputs ``added``, shape ``(n, 4)``.

    Parameters
    ----------
    keep : numpy.ndarray
        Retained shares, shape ``(months, 4, n)``.
    soil : Soil
        The cells' soil.
    added : numpy.ndarray
        Inputs per month and pool, shape ``(months, 4, n)``, t C ha-1.
    """
    c = np.zeros(added.shape[1:])
    for k, b in zip(keep, added, strict=True):
        left = c * k
        lost = (c - left).sum(axis=0)
        c = left + b
        c[2] += soil.f_bio * lost
        c[3] += soil.f_hum * lost
    return c.T


def solve_equilibrium(m: FloatArray, c: FloatArray, active: npt.NDArray[np.bool_]) -> FloatArray:
    """Solve ``(I - M) x = c`` for the cells where decomposition is active.

    Parameters
    ----------
    m : numpy.ndarray
        ``(n, 4, 4)`` from :func:`year_map`.
    c : numpy.ndarray
        ``(n, 4)`` or ``(n, 4, k)`` from :func:`year_inputs`.
    active : numpy.ndarray of bool
        Cells whose year decomposes at all; elsewhere there is no finite equilibrium and
        the result is NaN.

    Returns
    -------
    numpy.ndarray
        Pools at the end of December, shape ``(4, n)`` or ``(4, n, k)``, t C ha-1.
    """
    n = m.shape[0]
    lhs = np.broadcast_to(np.eye(4), (n, 4, 4)) - m
    lhs = np.where(active[:, None, None], lhs, np.eye(4))
    rhs = c if c.ndim == 3 else c[:, :, None]
    solved = np.linalg.solve(lhs, rhs)
    x: FloatArray = np.moveaxis(np.where(active[:, None, None], solved, np.nan), 1, 0)
    return x if c.ndim == 3 else x[..., 0]


def equilibrium(climate: Climate, soil: Soil, added: FloatArray) -> FloatArray:
    """The exact equilibrium pools of cells under a repeating year.

    Parameters
    ----------
    climate : Climate
        One year, arrays ``(12, n)``.
    soil : Soil
        The cells' soil.
    added : numpy.ndarray
        Inputs per month and pool, ``(12, 4, n)``, t C ha-1.

    Returns
    -------
    numpy.ndarray
        DPM, RPM, BIO, HUM, shape ``(4, n)``, t C ha-1; NaN where nothing decomposes.
    """
    keep, _ = periodic_keep(climate, soil)
    active = np.asarray((keep < 1.0).any(axis=(0, 1)))
    return solve_equilibrium(year_map(keep, soil), year_inputs(keep, soil, added), active)
