"""RothC rate modifying factors: temperature, topsoil moisture deficit, soil cover.

All functions take numpy arrays (or scalars) and broadcast, so one call serves one
point or a block of cells.  Moisture follows RothC-26.3 (option 1) and the dryland
options of Farina et al. (2013) offered by the official release v2.0.0:

``opt_rmmoist``
    1: the standard RothC soil water limits from clay and depth;
    2: van Genuchten limits (Wösten et al. 1999 pedotransfer from clay, silt, bulk
    density and organic carbon) and the soil may dry to -1000 bar, below which the
    modifier stays at ``min_rm_moist``;
    3: van Genuchten limits with the standard RothC moisture function.
``opt_smdbare``
    1: the standard bare-soil limit (0.556 of the maximum deficit; with van Genuchten
    limits, the point 0.6388/0.8 of the way from -1 bar to -15 bar);
    2: bare soil may dry to the wilting point (-15 bar).

Examples
--------
>>> round(float(rm_temperature(9.1)), 6)  # 9.1 °C
0.974079
>>> float(rm_temperature(-6.0))
0.0
>>> float(rm_cover(1)), float(rm_cover(0))
(0.6, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilmap.errors import RothCInputError

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

#: The maximum moisture rate modifier (wet soil).
RM_MOIST_MAX = 1.0
#: The default minimum moisture rate modifier (RothC-26.3's 0.2).
RM_MOIST_MIN = 0.2
#: Below this air temperature (°C) decomposition stops (the modifier is 0).
T_MIN = -5.0
#: Share of open-pan evaporation that the crop transpires (RothC's 0.75).
PAN_FACTOR = 0.75


def rm_temperature(temp_c: ArrayLike) -> FloatArray:
    """Temperature rate modifier, ``47.91 / (1 + exp(106.06 / (T + 18.27)))``.

    Parameters
    ----------
    temp_c : array_like
        Mean monthly air temperature, °C.

    Returns
    -------
    numpy.ndarray
        The modifier (dimensionless, 0 below -5 °C, about 1 at 9.25 °C).
    """
    t = np.asarray(temp_c, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        rm = 47.91 / (np.exp(106.06 / (t + 18.27)) + 1.0)
    return np.where(t < T_MIN, 0.0, rm)


def rm_cover(cover: ArrayLike) -> FloatArray:
    """Soil-cover rate modifier: 0.6 under vegetation (``cover`` 1), 1.0 bare (0).

    Parameters
    ----------
    cover : array_like
        1 when the soil is covered by plants that month, 0 when bare.
    """
    c = np.asarray(cover)
    return np.where(c == 0, 1.0, 0.6)


@dataclass(frozen=True)
class SoilWater:
    """The topsoil moisture deficit limits of a soil (mm, negative: deficits).

    Attributes
    ----------
    smd15 : numpy.ndarray
        Deficit at -15 bar for the topsoil depth (the standard maximum), mm.
    smd1 : numpy.ndarray
        Deficit at -1 bar, below which decomposition slows, mm.
    smd_bare : numpy.ndarray
        Largest deficit of a bare soil, mm.
    smd_max : numpy.ndarray
        Largest deficit of a covered soil (-15 bar, or -1000 bar with option 2), mm.
    min_rm : numpy.ndarray
        The modifier at -15 bar (and below, with option 2).
    dry_floor : bool
        ``True`` for option 2: the modifier stays at ``min_rm`` beyond -15 bar.
    """

    smd15: FloatArray
    smd1: FloatArray
    smd_bare: FloatArray
    smd_max: FloatArray
    min_rm: FloatArray
    dry_floor: bool


def van_genuchten_deficits(
    clay: ArrayLike, silt: ArrayLike, bulk_density: ArrayLike, oc: ArrayLike, depth: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Deficits at -1, -15 and -1000 bar from the Wösten et al. (1999) topsoil functions.

    Parameters
    ----------
    clay, silt : array_like
        Clay and silt contents, %.
    bulk_density : array_like
        Bulk density, g cm-3.
    oc : array_like
        Organic carbon, % (organic matter = 1.72 × OC).
    depth : array_like
        Topsoil depth, cm.

    Returns
    -------
    tuple of numpy.ndarray
        Deficits (mm, negative) relative to field capacity (-50 mbar) at -1 bar,
        -15 bar and -1000 bar.
    """
    c = np.asarray(clay, dtype=np.float64)
    s = np.asarray(silt, dtype=np.float64)
    bd = np.asarray(bulk_density, dtype=np.float64)
    om = 1.72 * np.asarray(oc, dtype=np.float64)
    d = np.asarray(depth, dtype=np.float64)
    t = 1.0  # topsoil in Wösten et al. (1999)
    alpha = np.exp(
        -14.96 + 0.03135 * c + 0.0351 * s + 0.646 * om + 15.29 * bd - 0.192 * t
        - 4.671 * bd**2 - 0.000781 * c**2 - 0.00687 * om**2 + 0.0449 / om
        + 0.0663 * np.log(s) + 0.1482 * np.log(om) - 0.04546 * bd * s
        - 0.4852 * bd * om + 0.00673 * c * t
    )  # fmt: skip
    theta_s = (
        0.7919 + 0.001691 * c - 0.29619 * bd - 0.000001491 * s**2 + 0.0000821 * om**2
        + 0.02427 / c + 0.01113 / s + 0.01472 * np.log(s) - 0.0000733 * om * c
        - 0.000619 * bd * c - 0.001183 * bd * om - 0.0001664 * s * t
    )  # fmt: skip
    n = 1.0 + np.exp(
        -25.23 - 0.02195 * c + 0.0074 * s - 0.194 * om + 45.5 * bd - 7.24 * bd**2
        + 0.0003658 * c**2 + 0.002885 * om**2 - 12.81 / bd - 0.1524 / s - 0.01958 / om
        - 0.2876 * np.log(s) - 0.0709 * np.log(om) - 44.6 * np.log(bd)
        - 0.02264 * bd * c + 0.0896 * bd * om + 0.00718 * c * t
    )  # fmt: skip
    theta_r = 0.01
    m = 1.0 - 1.0 / n

    def water(mbar: float) -> FloatArray:
        return theta_r + (theta_s - theta_r) / (1.0 + (alpha * mbar) ** n) ** m

    fc = water(50.0)
    return (
        (water(1000.0) - fc) * 10.0 * d,
        (water(15000.0) - fc) * 10.0 * d,
        (water(1_000_000.0) - fc) * 10.0 * d,
    )


def soil_water(
    clay: ArrayLike,
    depth: ArrayLike,
    *,
    opt_rmmoist: int = 1,
    opt_smdbare: int = 1,
    silt: ArrayLike | None = None,
    bulk_density: ArrayLike | None = None,
    oc: ArrayLike | None = None,
    min_rm_moist: ArrayLike = RM_MOIST_MIN,
) -> SoilWater:
    """The moisture deficit limits of a soil for the chosen options.

    Parameters
    ----------
    clay : array_like
        Clay content, %.
    depth : array_like
        Topsoil depth, cm.
    opt_rmmoist, opt_smdbare : int
        The official release's options (see the module docstring).
    silt, bulk_density, oc : array_like, optional
        Silt %, bulk density g cm-3, organic carbon %: needed when ``opt_rmmoist`` is 2 or 3.
    min_rm_moist : array_like
        The modifier at -15 bar (RothC-26.3: 0.2).

    Raises
    ------
    soilmap.errors.RothCInputError
        An unknown option, or van Genuchten options without silt, bulk density and OC.
    """
    if opt_rmmoist not in (1, 2, 3) or opt_smdbare not in (1, 2):
        raise RothCInputError(
            f"RothC moisture options opt_RMmoist={opt_rmmoist}, opt_SMDbare={opt_smdbare}: "
            "opt_RMmoist must be 1, 2 or 3 and opt_SMDbare 1 or 2 (see soilmap.rothc.modifiers)"
        )
    c = np.asarray(clay, dtype=np.float64)
    d = np.asarray(depth, dtype=np.float64)
    if opt_rmmoist == 1:
        smd15 = -(20.0 + 1.3 * c - 0.01 * c * c) * d / 23.0
        smd1 = 0.444 * smd15
        smd_bare = 0.556 * smd15 if opt_smdbare == 1 else smd15
        smd_max = smd15
    else:
        if silt is None or bulk_density is None or oc is None:
            raise RothCInputError(
                f"RothC opt_RMmoist={opt_rmmoist} (van Genuchten soil water) needs silt (%), "
                "bulk density (g cm-3) and organic carbon (%): give them, or use opt_RMmoist=1"
            )
        smd1, smd15, smd1000 = van_genuchten_deficits(c, silt, bulk_density, oc, d)
        smd_bare = smd15 - (0.6388 / 0.8) * (smd15 - smd1) if opt_smdbare == 1 else smd15
        smd_max = smd1000 if opt_rmmoist == 2 else smd15
    shape = np.broadcast(c, d).shape
    return SoilWater(
        smd15=np.broadcast_to(smd15, shape),
        smd1=np.broadcast_to(smd1, shape),
        smd_bare=np.broadcast_to(smd_bare, shape),
        smd_max=np.broadcast_to(smd_max, shape),
        min_rm=np.broadcast_to(np.asarray(min_rm_moist, dtype=np.float64), shape),
        dry_floor=opt_rmmoist == 2,
    )


def step_deficit(
    smd: FloatArray, rain: ArrayLike, evap: ArrayLike, cover: ArrayLike, water: SoilWater
) -> FloatArray:
    """The topsoil moisture deficit at the end of a month (mm, ≤ 0).

    ``SMD' = max(limit, min(0, SMD + rain - 0.75 evap))`` where the limit is the
    covered soil's maximum, or for bare soil the bare limit unless the deficit is
    already deeper (a bare soil does not dry further, nor is it rewetted by drying).

    Parameters
    ----------
    smd : numpy.ndarray
        Deficit at the start of the month, mm.
    rain, evap : array_like
        Rainfall and open-pan evaporation of the month, mm.
    cover : array_like
        1 covered, 0 bare.
    water : SoilWater
        The soil's limits.
    """
    wetter = np.minimum(0.0, smd + (np.asarray(rain) - PAN_FACTOR * np.asarray(evap)))
    limit = np.where(np.asarray(cover) == 1, water.smd_max, np.minimum(water.smd_bare, smd))
    return np.maximum(limit, wetter)


def rm_moisture(smd: ArrayLike, water: SoilWater) -> FloatArray:
    """Moisture rate modifier from the deficit at the end of the month.

    1 while the deficit is above the -1 bar deficit, then falling linearly to
    ``min_rm`` at the -15 bar deficit (and, with option 2, ``min_rm`` beyond).
    """
    s = np.asarray(smd, dtype=np.float64)
    slope = (water.smd15 - s) / (water.smd15 - water.smd1)
    rm = water.min_rm + (RM_MOIST_MAX - water.min_rm) * slope
    if water.dry_floor:
        rm = np.where(s > water.smd15, rm, water.min_rm)
    return np.where(s > water.smd1, 1.0, rm)
