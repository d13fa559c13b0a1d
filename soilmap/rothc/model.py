"""The RothC monthly step, vectorised over cells.

Pools are one float64 array of shape ``(4, ...)``: DPM, RPM, BIO, HUM in t C ha-1 (IOM
is inert and added to the total outside).  Each month every pool decays as
``P exp(-a k / 12)`` with ``a`` the product of the rate modifiers and ``k`` the pool's
yearly rate constant; what decays goes to CO2, BIO and HUM in proportions set by clay;
then the month's plant input (split by the DPM/RPM ratio) and farmyard manure (49 %
DPM, 49 % RPM, 2 % HUM) are added.  Inputs of a month therefore decay from the next
month on, as in the official code.

Examples
--------
>>> co2, bio, hum = partition(23.4)
>>> round(float(co2 + bio + hum), 12)
1.0
>>> round(float(bio / hum), 6)  # 0.46 : 0.54
0.851852
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilmap.rothc.modifiers import (
    SoilWater,
    rm_cover,
    rm_moisture,
    rm_temperature,
    step_deficit,
)

FloatArray = npt.NDArray[np.float64]

#: Yearly decomposition rate constants of DPM, RPM, BIO, HUM (yr-1).
RATE_CONSTANTS = np.array([10.0, 0.3, 0.66, 0.02])
#: Pool names, in the order of the first axis of a pools array.
POOLS = ("DPM", "RPM", "BIO", "HUM")
#: Shares of farmyard manure carbon that go to DPM, RPM and HUM.
FYM_SPLIT = (0.49, 0.49, 0.02)
#: Months per year of the monthly model.
MONTHS = 12


def partition(clay: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Shares of decomposed carbon going to CO2, BIO and HUM for a clay content.

    ``x = 1.67 (1.85 + 1.60 exp(-0.0786 clay))`` is the CO2/(BIO+HUM) ratio; BIO and HUM
    take 46 % and 54 % of the rest.

    Parameters
    ----------
    clay : array_like
        Clay content, %.
    """
    x = 1.67 * (1.85 + 1.60 * np.exp(-0.0786 * np.asarray(clay, dtype=np.float64)))
    return x / (x + 1.0), 0.46 / (x + 1.0), 0.54 / (x + 1.0)


def split_inputs(
    c_inp: npt.ArrayLike, dpm_rpm: npt.ArrayLike, fym: npt.ArrayLike = 0.0
) -> FloatArray:
    """The inputs a month adds to each pool, shape ``(4, ...)``, t C ha-1.

    Parameters
    ----------
    c_inp : array_like
        Plant carbon input of the month, t C ha-1.
    dpm_rpm : array_like
        DPM/RPM ratio of the plant input (1.44 crops and improved grassland, 0.67
        unimproved grassland and scrub, 0.25 deciduous and tropical woodland).
    fym : array_like
        Farmyard manure carbon of the month, t C ha-1.
    """
    c = np.asarray(c_inp, dtype=np.float64)
    r = np.asarray(dpm_rpm, dtype=np.float64)
    f = np.asarray(fym, dtype=np.float64)
    shape = np.broadcast(c, r, f).shape
    out = np.zeros((4, *shape))
    out[0] = r / (r + 1.0) * c + FYM_SPLIT[0] * f
    out[1] = 1.0 / (r + 1.0) * c + FYM_SPLIT[1] * f
    out[3] = FYM_SPLIT[2] * f
    return out


def retention(rate: npt.ArrayLike) -> FloatArray:
    """Share of each pool that does not decompose in a month, shape ``(4, ...)``.

    Parameters
    ----------
    rate : array_like
        The month's combined rate modifier (temperature × moisture × cover × any
        extra factor such as paddy flooding).
    """
    a = np.asarray(rate, dtype=np.float64)
    k = RATE_CONSTANTS.reshape((4,) + (1,) * a.ndim)
    return np.exp(-a[None] * k / MONTHS)


@dataclass(frozen=True)
class Soil:
    """What a cell's soil contributes to the model: clay partition and water limits.

    Attributes
    ----------
    f_co2, f_bio, f_hum : numpy.ndarray
        Shares of decomposed carbon to CO2, BIO, HUM (from :func:`partition`).
    water : SoilWater
        Moisture deficit limits (from :func:`soilmap.rothc.modifiers.soil_water`).
    """

    f_co2: FloatArray
    f_bio: FloatArray
    f_hum: FloatArray
    water: SoilWater


def decompose(
    pools: FloatArray, keep: FloatArray, soil: Soil, added: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """One month: decay, transfer to BIO and HUM, then add the month's inputs.

    Parameters
    ----------
    pools : numpy.ndarray
        DPM, RPM, BIO, HUM at the start of the month, shape ``(4, ...)``, t C ha-1.
    keep : numpy.ndarray
        Retained shares from :func:`retention`, shape ``(4, ...)``.
    soil : Soil
        Clay partition of the cells.
    added : numpy.ndarray
        Inputs of the month from :func:`split_inputs`, shape ``(4, ...)``, t C ha-1.

    Returns
    -------
    tuple of numpy.ndarray
        The pools at the end of the month and the CO2 released in the month, t C ha-1.
    """
    left = pools * keep
    lost = (pools - left).sum(axis=0)
    out = left + added
    out[2] += soil.f_bio * lost
    out[3] += soil.f_hum * lost
    return out, soil.f_co2 * lost


@dataclass
class Climate:
    """Monthly forcing of a run: arrays with months on the first axis.

    Attributes
    ----------
    temp : numpy.ndarray
        Mean air temperature, °C.
    rain : numpy.ndarray
        Rainfall, mm.
    evap : numpy.ndarray
        Open-pan evaporation, mm (PET divided by 0.75, see :mod:`soilmap.rothc.climate`).
    cover : numpy.ndarray
        1 soil covered by plants, 0 bare.
    factor : numpy.ndarray or float
        Extra rate factor (1 normally; e.g. a paddy flooding factor).
    """

    temp: FloatArray
    rain: FloatArray
    evap: FloatArray
    cover: npt.NDArray[np.generic]
    factor: FloatArray | float = 1.0

    def __len__(self) -> int:
        return int(np.shape(self.temp)[0])

    def month(self, i: int) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.generic]]:
        """Temperature, rain, evaporation and cover of month ``i`` (cyclic)."""
        m = i % len(self)
        return self.temp[m], self.rain[m], self.evap[m], self.cover[m]

    def factor_of(self, i: int) -> FloatArray | float:
        """The extra rate factor of month ``i`` (cyclic)."""
        f = self.factor
        if isinstance(f, np.ndarray) and f.ndim > 0:
            return f[i % len(self)]
        return f


@dataclass(frozen=True)
class Modifiers:
    """The rate modifiers of one month (for the official monthly output)."""

    smd: FloatArray
    rm_tmp: FloatArray
    rm_moist: FloatArray
    rm_pc: FloatArray
    rate: FloatArray


def month_rate(smd: FloatArray, climate: Climate, i: int, water: SoilWater) -> Modifiers:
    """The deficit at the end of month ``i`` and the month's combined rate modifier.

    Parameters
    ----------
    smd : numpy.ndarray
        Topsoil moisture deficit at the start of the month, mm.
    climate : Climate
        The forcing (cyclic over its months).
    i : int
        Month index into ``climate``.
    water : SoilWater
        The soil's moisture limits.
    """
    temp, rain, evap, cover = climate.month(i)
    new_smd = step_deficit(smd, rain, evap, cover, water)
    rt = rm_temperature(temp)
    rw = rm_moisture(new_smd, water)
    rc = rm_cover(cover)
    return Modifiers(new_smd, rt, rw, rc, rt * rw * rc * climate.factor_of(i))


def periodic_deficit(smd0: FloatArray, climate: Climate, water: SoilWater) -> FloatArray:
    """The deficit at the end of a year once the yearly cycle has become periodic.

    The deficit is bounded (between the soil's limit and 0) and a year's net water
    balance is the same every year, so it reaches 0 or a limit within a few years
    and repeats from then on; this returns the first December deficit that the next
    year reproduces (to 1e-12 mm) (at most 200 years, which no real climate needs).

    Parameters
    ----------
    smd0 : numpy.ndarray
        Deficit before the first month, mm.
    climate : Climate
        One year (or whole years) of forcing.
    water : SoilWater
        The soil's moisture limits.
    """
    smd = np.asarray(smd0, dtype=np.float64)
    for _ in range(200):
        start = smd
        for i in range(len(climate)):
            smd = month_rate(smd, climate, i, water).smd
        if np.allclose(smd, start, rtol=0.0, atol=1e-12, equal_nan=True):
            break
    return smd
