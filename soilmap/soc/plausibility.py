"""Catch unit mistakes before they spread: compare a small sample with typical values.

A wrong factor of 10 is the most common silent error with soil-carbon data: a map in
kg C m-2 read as t C ha-1 has a median near 5 instead of near 50; g C m-2 read as
t C ha-1 has a median in the thousands.  Before anything is computed, soilmap reads a
**bounded sample** of each SOC input (an overview level, or a few evenly spread whole
blocks; never the full raster) and compares its median, in canonical units, with the
values such a layer has on Earth.

Two bands per quantity, set from real maps (see :data:`BANDS`):

* outside the **hard** band the values are implausible in the declared unit:
  :class:`~soilmap.errors.UnitsError` (or a warning with ``mode="warn"``);
* outside the **typical** band but inside the hard one they are unusual:
  :class:`UnitsWarning`, and the run goes on.

The message states the median found, the declared unit, the unit the values look
like, and the fix.  These reads are eager and happen at open time, outside dask.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from soilmap.errors import UnitsError
from soilmap.soc.sampling import (
    DEFAULT_SAMPLE_CELLS,
    SamplePlan,
    plan_sample,
    read_sample,
    sample_layers,
)
from soilmap.units import CANONICAL, conversion_factor

__all__ = [
    "BANDS",
    "DEFAULT_SAMPLE_CELLS",
    "Band",
    "CheckMode",
    "PlausibilityResult",
    "SamplePlan",
    "UnitsWarning",
    "check_bounds",
    "check_property_stock",
    "check_sample",
    "plan_sample",
    "read_sample",
    "sample_layers",
]


#: Fewer valid sampled cells than this give no verdict ("inconclusive").
MIN_VALID = 30

CheckMode = Literal["error", "warn", "off"]


class UnitsWarning(UserWarning):
    """Values are unusual for their declared unit (but not impossible)."""


@dataclass(frozen=True)
class Band:
    """Plausible medians of a quantity over a region, in canonical units.

    Attributes
    ----------
    quantity : str
    hard : (float, float)
        Outside: implausible (error).
    typical : (float, float)
        Outside: unusual (warning).
    alternatives : tuple of str
        Units a mistaken layer is usually in, tried to say what the values look like.
    per_30_cm : bool
        Stocks scale with the depth range: the median is compared per 30 cm.
    """

    quantity: str
    hard: tuple[float, float]
    typical: tuple[float, float]
    alternatives: tuple[str, ...]
    per_30_cm: bool = False


#: Bands per quantity.  Stocks: medians of 2° windows of the global 0–30 cm map of
#: Sanderman et al. (2017) range 8–293 t C ha-1 (1st–99th percentile 9–210; 10°
#: windows 10–225); only hyper-arid windows (~1 %) fall below 10.  kg C m-2 data read as
#: t C ha-1 fall at 1–15, g C m-2 data at 800+.  Bulk density of mineral soils is
#: 800–1800 kg m-3 (organic soils down to ~200); g cm-3 and cg cm-3 values are 1000 and
#: 10 times smaller.  Carbon contents of fine earth: 1–600 g kg-1 (600 ≈ pure organic
#: matter); % and dg kg-1 overlap with it, which is why a stock computed from the
#: sampled properties is checked too.
BANDS: dict[str, Band] = {
    "stock": Band("stock", (10.0, 400.0), (20.0, 250.0), ("kg C m-2", "g C m-2", "t C ha-1"), True),
    "concentration": Band("concentration", (0.5, 600.0), (2.0, 150.0), ("%", "g kg-1", "dg kg-1")),
    "bulk_density": Band(
        "bulk_density", (200.0, 2650.0), (600.0, 1900.0), ("g cm-3", "kg m-3", "cg cm-3")
    ),
    "fraction": Band("fraction", (0.0, 1.0), (0.0, 0.6), ("1", "vol %", "cm3 dm-3")),
}


# ---------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class PlausibilityResult:
    """Outcome of one check (JSON-able with :meth:`to_dict`).

    Attributes
    ----------
    what : str
        The layer checked.
    quantity : str
    declared_units : str
    n_valid : int
        Valid cells in the sample.
    median : float
        Median of the sample in canonical units (per 30 cm for stocks); NaN if none.
    p99 : float
        99th percentile in canonical units.
    verdict : {"ok", "suspicious", "implausible", "inconclusive", "skipped"}
    looks_like : str or None
        A unit the values would be typical in, when they are not typical as declared.
    message : str
    sample : str
        How the sample was taken.
    """

    what: str
    quantity: str
    declared_units: str
    n_valid: int
    median: float
    p99: float
    verdict: str
    looks_like: str | None
    message: str
    sample: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``run.json``."""

        def num(x: float) -> float | None:
            return None if not np.isfinite(x) else float(f"{x:.6g}")

        return {
            "layer": self.what,
            "quantity": self.quantity,
            "declared_units": self.declared_units,
            "canonical_units": CANONICAL[self.quantity],
            "sample": self.sample,
            "valid_cells_sampled": self.n_valid,
            "median": num(self.median),
            "p99": num(self.p99),
            "verdict": self.verdict,
            "looks_like": self.looks_like,
            "message": self.message,
        }


def value_of(quantity: str, median: float, p99: float) -> float:
    """The statistic a check judges: the 99th percentile for shares, else the median."""
    return p99 if quantity == "fraction" else median


def _log_distance(x: float, lo: float, hi: float) -> float:
    if x <= 0:
        return math.inf
    return abs(math.log(x) - (math.log(lo) + math.log(hi)) / 2)


def _looks_like(raw: np.ndarray, band: Band, declared: str, scale: float) -> str | None:
    """A unit (other than ``declared``) in which the raw values would be typical."""
    best, best_d = None, math.inf
    if band.quantity == "fraction":
        # The least rescaling that keeps a share at or below 1.
        p99 = float(np.nanpercentile(raw, 99))
        for u in band.alternatives:
            v = p99 * conversion_factor(u, CANONICAL["fraction"], quantity="fraction")
            if u != declared and v <= 1.0 and (best is None or v > best_d):
                best, best_d = u, v
        return best
    median = float(np.nanmedian(raw))
    for u in band.alternatives:
        if u == declared:
            continue
        m = median * conversion_factor(u, CANONICAL[band.quantity], quantity=band.quantity) / scale
        if band.typical[0] <= m <= band.typical[1]:
            d = _log_distance(m, *band.typical)
            if d < best_d:
                best, best_d = u, d
    return best


def _per_30_cm(band: Band, depth_cm: tuple[float, float] | None) -> tuple[float, str]:
    """Divisor bringing a stock over ``depth_cm`` to 30 cm (1.0: none), and the words."""
    if not (band.per_30_cm and depth_cm):
        return 1.0, ""
    scale = (depth_cm[1] - depth_cm[0]) / 30.0
    per = f" per 30 cm (depth {depth_cm[0]:g}-{depth_cm[1]:g} cm)" if scale != 1.0 else ""
    return scale, per


def _judge(
    band: Band, raw: np.ndarray, factor: float, median: float, p99: float
) -> tuple[str, float, bool, bool]:
    """Statistic judged (shares: 99th percentile, else median), its value, implausible, unusual."""
    if band.quantity == "fraction":
        implausible = p99 > band.hard[1] * (1 + 1e-6) or float(np.min(raw)) * factor < 0
        return "99th percentile", p99, implausible, median > band.typical[1]
    implausible = not band.hard[0] <= median <= band.hard[1]
    return "median", median, implausible, not band.typical[0] <= median <= band.typical[1]


def _typical(band: Band, canonical: str, per: str) -> str:
    """What typical values of the quantity are, for messages."""
    if band.quantity == "fraction":
        return f"a share lies in 0-1 ({band.typical[1]:g} at most for typical medians)"
    return f"typical medians are {band.typical[0]:g}-{band.typical[1]:g} {canonical}{per}"


def _how_far(value: float, band: Band) -> str:
    """How many times (a power of ten) ``value`` is off the typical range, in words."""
    off = value / math.sqrt(band.typical[0] * band.typical[1])
    power = 10.0 ** round(math.log10(off)) if off > 0 else 1.0
    return (
        f" That is about {max(power, 1 / power):g} times {'more' if power > 1 else 'less'} "
        "than typical."
        if power != 1
        else ""
    )


def check_sample(
    values: np.ndarray,
    *,
    quantity: str,
    declared_units: str,
    what: str,
    fix: str = "",
    depth_cm: tuple[float, float] | None = None,
    mode: CheckMode = "error",
    sample: str = "",
    explain: str | None = None,
) -> PlausibilityResult:
    """Judge whether sampled values are plausible in their declared unit.

    Parameters
    ----------
    values : numpy.ndarray
        Sampled values in ``declared_units`` (nodata as NaN, cleaning rules applied).
    quantity : str
        ``"stock"``, ``"concentration"``, ``"bulk_density"`` or ``"fraction"``.
    declared_units : str
        The unit the values are declared in.
    what : str
        Layer name for the message.
    fix : str
        How to declare another unit (e.g. ``"--soc-units, units = '...' in [soc]"``).
    depth_cm : (float, float), optional
        Depth range of a stock (its median is compared per 30 cm).
    mode : {"error", "warn", "off"}
        ``"error"``: implausible → :class:`~soilmap.errors.UnitsError`, unusual →
        :class:`UnitsWarning`.  ``"warn"``: both warn.  ``"off"``: no check.
    sample : str
        How the sample was taken (for the report).
    explain : str, optional
        For derived values (a stock computed from properties): what to check, used in
        the message instead of "declared in ... look like ...".

    Returns
    -------
    PlausibilityResult

    Raises
    ------
    soilmap.errors.UnitsError
        Implausible values with ``mode="error"``.
    """
    band = BANDS.get(quantity)
    canonical = CANONICAL[quantity]
    raw = np.asarray(values, dtype="float64")
    raw = raw[np.isfinite(raw)]
    n = int(raw.size)
    if mode == "off" or band is None:
        return PlausibilityResult(
            what, quantity, declared_units, n, math.nan, math.nan, "skipped", None, "", sample
        )
    if n < MIN_VALID:
        msg = f"{what}: only {n} valid cells in the sample; units not checked."
        return PlausibilityResult(
            what, quantity, declared_units, n, math.nan, math.nan, "inconclusive", None, msg, sample
        )
    factor = conversion_factor(declared_units, canonical, quantity=quantity)
    scale, per = _per_30_cm(band, depth_cm)
    median = float(np.median(raw)) * factor / scale
    p99 = float(np.percentile(raw, 99)) * factor / scale
    shown = f"{value_of(quantity, median, p99):.4g}" + ("" if canonical == "1" else f" {canonical}")
    stat, value, implausible, unusual = _judge(band, raw, factor, median, p99)
    if not (implausible or unusual):
        return PlausibilityResult(
            what, quantity, declared_units, n, median, p99, "ok", None, "", sample
        )
    looks = _looks_like(raw, band, declared_units, scale)
    typical = _typical(band, canonical, per)
    if explain is None:
        hint = f" The values look like {looks!r}." if looks else ""
        msg = (
            f"{what} is declared in {declared_units!r}, but the {stat} of a sample of {n} valid "
            f"cells is {shown}{per}; {typical}.{hint} If the unit is wrong, "
            f"declare the right one{' (' + fix + ')' if fix else ''}."
        )
    else:
        looks = None
        times = _how_far(value, band)
        msg = (
            f"{what} has a {stat} of {shown}{per} over {n} valid sampled cells; "
            f"{typical}.{times} {explain}"
        )
    if implausible and mode == "error":
        arid = " (e.g. a hyper-arid region)" if quantity == "stock" else ""
        raise UnitsError(
            f"{msg} If these values are right as declared{arid}, set unit_check = 'warn' to "
            "go on with a warning."
        )
    verdict = "implausible" if implausible else "suspicious"
    warnings.warn(msg, UnitsWarning, stacklevel=3)
    return PlausibilityResult(
        what, quantity, declared_units, n, median, p99, verdict, looks, msg, sample
    )


def check_bounds(
    stock_median: float,
    bounds: Sequence[tuple[str, str, float]],
    *,
    mode: CheckMode = "error",
) -> None:
    """Bounds declared in a wrong unit show up as medians on the wrong side of the stock.

    Parameters
    ----------
    stock_median : float
        Median of the stock sample, t C ha-1.
    bounds : sequence of (role, name, median)
        ``role`` is ``"lower"`` or ``"upper"``; ``median`` in t C ha-1 as declared.
    mode : {"error", "warn", "off"}

    Raises
    ------
    soilmap.errors.UnitsError
        An upper bound whose median is below half the stock's, or a lower bound whose
        median is above twice the stock's (a factor of 10 or more in practice).
    """
    for role, name, median in bounds:
        bad = (role == "upper" and median < 0.5 * stock_median) or (
            role == "lower" and median > 2 * stock_median
        )
        if not bad or mode == "off":
            continue
        msg = (
            f"{role} bound {name!r} has a median of {median:.4g} t C ha-1 as declared, but the "
            f"stock's median is {stock_median:.4g} t C ha-1: a {role} bound cannot lie on that "
            "side. Declare its units (uncertainty_units = '...' in [soc])."
        )
        if mode == "error":
            raise UnitsError(msg)
        warnings.warn(msg, UnitsWarning, stacklevel=2)


def check_property_stock(
    content: Sequence[np.ndarray],
    bulk_density: Sequence[np.ndarray],
    coarse_fragments: Sequence[np.ndarray] | None,
    *,
    units: tuple[Sequence[str], Sequence[str], Sequence[str]],
    depths_cm: Sequence[Any],
    kind: Literal["point", "interval"],
    top: float,
    bottom: float,
    mode: CheckMode = "error",
    sample: str = "",
) -> PlausibilityResult:
    """Check the stock that sampled properties give (catches content-unit mistakes).

    A content in % declared as g kg-1 gives a stock 10 times too small, one in dg kg-1
    declared as g kg-1 one 10 times too large: the stock band tells, where the content
    band alone cannot.  Samples must come from the same cells (:func:`sample_layers`).
    """
    from soilmap.soc.stock import stock_from_layers

    def layers(values: Sequence[np.ndarray], u: Sequence[str]) -> list[xr.DataArray]:
        return [
            xr.DataArray(v[None, :], dims=("y", "x"), attrs={"units": x, "history": ""})
            for v, x in zip(values, u, strict=True)
        ]

    stock = stock_from_layers(
        layers(content, units[0]),
        layers(bulk_density, units[1]),
        depths_cm,
        kind=kind,
        coarse_fragments=layers(coarse_fragments, units[2]) if coarse_fragments else None,
        top=top,
        bottom=bottom,
    )
    declared = (
        f"carbon content in {', '.join(sorted(set(units[0])))}, bulk density in "
        f"{', '.join(sorted(set(units[1])))}"
        + (f", coarse fragments in {', '.join(sorted(set(units[2])))}" if coarse_fragments else "")
    )
    return check_sample(
        stock.to_numpy(),
        quantity="stock",
        declared_units=CANONICAL["stock"],
        what="The SOC stock computed from a sample of the property layers",
        depth_cm=(top, bottom),
        mode=mode,
        sample=sample,
        explain=(
            f"The layers are declared as {declared}; a wrong carbon-content unit (%, g kg-1, "
            "dg kg-1) is the usual cause. Check content_units, bulk_density_units and "
            "coarse_fragments_units (or product = '...')."
        ),
    )
