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
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import rasterio
import xarray as xr
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.windows import Window

from soilmap.errors import InputError, UnitsError
from soilmap.io.paths import gdal_path
from soilmap.io.raster import gdal_env
from soilmap.soc.cleaning import Rule
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

#: Cells read per check, all layers together (4 MiB as float32).
DEFAULT_SAMPLE_CELLS = 1 << 20

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
class SamplePlan:
    """Windows to read (and the shape to read each one at) for a bounded sample.

    Attributes
    ----------
    windows : tuple of rasterio.windows.Window
    out_shapes : tuple of (int, int)
        Shape each window is read at; smaller than the window on an overview read.
    description : str
        E.g. ``"whole raster"``, ``"overview 1/4"``, ``"22 of 111 blocks (7x534)"``.
    """

    windows: tuple[Window, ...]
    out_shapes: tuple[tuple[int, int], ...]
    description: str

    @property
    def cells(self) -> int:
        """Number of cells the plan reads per layer."""
        return sum(h * w for h, w in self.out_shapes)


def _spread(n_items: int, n_pick: int) -> list[int]:
    """``n_pick`` indices evenly spread over ``range(n_items)`` (centres of equal parts)."""
    n_pick = max(1, min(n_items, n_pick))
    return sorted({int((i + 0.5) * n_items / n_pick) for i in range(n_pick)})


def plan_sample(
    paths: Sequence[str | os.PathLike],
    *,
    max_cells: int = DEFAULT_SAMPLE_CELLS,
    window: tuple[int, int, int, int] | None = None,
) -> SamplePlan:
    """:func:`plan_whole_sample`, or the same inside ``window`` (row0, row1, col0, col1):
    a run on part of a raster samples only that part (no overviews, which span it all)."""
    if window is None:
        return plan_whole_sample(paths, max_cells=max_cells)
    r0, r1, c0, c1 = window
    if (r1 - r0) * (c1 - c0) <= max_cells:
        return SamplePlan(
            (Window(c0, r0, c1 - c0, r1 - r0),), ((r1 - r0, c1 - c0),), "the run's window"
        )
    with gdal_env(), rasterio.open(gdal_path(paths[0])) as src:
        bh, bw = src.block_shapes[0]
    # Whole blocks of the file that lie in the window, evenly spread over it.
    rows = list(range(r0 // bh, (r1 - 1) // bh + 1))
    cols = list(range(c0 // bw, (c1 - 1) // bw + 1))
    n = max(1, max_cells // (bh * bw))
    k_rows = max(1, min(len(rows), math.isqrt(n)))
    k_cols = max(1, min(len(cols), n // k_rows))
    windows = []
    for i in _spread(len(rows), k_rows):
        for j in _spread(len(cols), k_cols):
            y0, x0 = max(r0, rows[i] * bh), max(c0, cols[j] * bw)
            y1, x1 = min(r1, (rows[i] + 1) * bh), min(c1, (cols[j] + 1) * bw)
            windows.append(Window(x0, y0, x1 - x0, y1 - y0))
    what = f"{len(windows)} blocks ({bh}x{bw}) of the run's window"
    return SamplePlan(tuple(windows), tuple((int(w.height), int(w.width)) for w in windows), what)


def plan_whole_sample(
    paths: Sequence[str | os.PathLike], *, max_cells: int = DEFAULT_SAMPLE_CELLS
) -> SamplePlan:
    """Plan a sample of at most ``max_cells`` cells, read at the same places in every file.

    Small rasters are read whole.  If every file has an overview level small enough, the
    whole extent is read at that level (GDAL reads only the overview).  Otherwise whole
    internal blocks (tiles or strips) of the first file, evenly spread over the raster,
    are read, so no block is decoded for nothing and the full raster is never read.

    Parameters
    ----------
    paths : sequence of path-like
        Rasters on one grid; the first sets the block layout.
    max_cells : int
        Cells per file.
    """
    with gdal_env(), rasterio.open(gdal_path(paths[0])) as src:
        height, width = src.height, src.width
        block_h, block_w = src.block_shapes[0]
        factors = list(src.overviews(1))
    if height * width <= max_cells:
        return SamplePlan((Window(0, 0, width, height),), ((height, width),), "whole raster")
    for others in paths[1:]:
        with gdal_env(), rasterio.open(gdal_path(others)) as src:
            factors = [f for f in factors if f in src.overviews(1)]
    for f in sorted(factors):
        shape = (math.ceil(height / f), math.ceil(width / f))
        if shape[0] * shape[1] <= max_cells:
            return SamplePlan((Window(0, 0, width, height),), (shape,), f"overview 1/{f}")
    if block_w >= width:  # strips: spread whole strips over the height
        cols = min(width, max(1, max_cells // block_h))
        col0 = (width - cols) // 2
        n_strips = math.ceil(height / block_h)
        picks = _spread(n_strips, max_cells // (block_h * cols))
        windows = [
            Window(col0, i * block_h, cols, min(block_h, height - i * block_h)) for i in picks
        ]
        what = f"{len(picks)} of {n_strips} strips ({block_h}x{width})"
    else:
        n_by, n_bx = math.ceil(height / block_h), math.ceil(width / block_w)
        n = max(1, max_cells // (block_h * block_w))
        k_rows = max(1, min(n_by, math.isqrt(n)))
        k_cols = max(1, min(n_bx, n // k_rows))
        windows = [
            Window(
                j * block_w,
                i * block_h,
                min(block_w, width - j * block_w),
                min(block_h, height - i * block_h),
            )
            for i in _spread(n_by, k_rows)
            for j in _spread(n_bx, k_cols)
        ]
        what = f"{len(windows)} of {n_by * n_bx} blocks ({block_h}x{block_w})"
    return SamplePlan(tuple(windows), tuple((int(w.height), int(w.width)) for w in windows), what)


def read_sample(path: str | os.PathLike, plan: SamplePlan, *, band: int = 1) -> np.ndarray:
    """Read a planned sample eagerly: 1-D float32, NaN where the file declares nodata.

    This is a plain rasterio read, outside dask, bounded by ``plan.cells``.
    """
    parts = []
    try:
        with gdal_env(), rasterio.open(gdal_path(path)) as src:
            for window, shape in zip(plan.windows, plan.out_shapes, strict=True):
                a = src.read(
                    band,
                    window=window,
                    out_shape=shape,
                    masked=True,
                    resampling=Resampling.nearest,
                )
                parts.append(np.ma.filled(a.astype("float32"), np.nan).ravel())
    except RasterioError as exc:
        raise InputError(
            f"{path}: reading a sample of the raster failed ({exc}). The file is probably "
            "truncated or corrupted: re-download or re-export it."
        ) from exc
    return np.concatenate(parts)


def sample_layers(
    paths: Sequence[str | os.PathLike],
    *,
    units: Sequence[str],
    rules: Sequence[Sequence[Rule]] | None = None,
    scales: Sequence[float] | None = None,
    max_cells: int = DEFAULT_SAMPLE_CELLS,
    window: tuple[int, int, int, int] | None = None,
) -> tuple[list[np.ndarray], str]:
    """Sample layers of one grid at the same places, without their sentinel values.

    Only sentinel rules are applied: a range rule in the wrong unit would remove every
    value and hide the very mistake the sample is meant to show (1300 "g cm-3" is
    above 2.65 g cm-3 everywhere).

    Parameters
    ----------
    paths : sequence of path-like
    units : sequence of str
        Stored units of each layer (range rules may be given in other units).
    rules : sequence of sequences of Rule, optional
        Cleaning rules per layer; their sentinels are removed from the sample.
    scales : sequence of float, optional
        Factor per layer applied after cleaning (product scale factors).
    max_cells : int
        Cells for all layers together (at least 4096 per layer).
    window : tuple of int, optional
        Only cells of rows ``row0:row1`` and columns ``col0:col1`` (the run's window).

    Returns
    -------
    list of numpy.ndarray
        One 1-D float array per layer, NaN where not data.
    str
        How the sample was taken.
    """
    plan = plan_sample(paths, max_cells=max(4096, max_cells // len(paths)), window=window)
    out = []
    for i, path in enumerate(paths):
        raw = read_sample(path, plan).astype("float64")
        sentinels = [r for r in (rules[i] if rules is not None else ()) if r.kind == "sentinel"]
        if sentinels:
            da = xr.DataArray(raw, dims="cell", attrs={"units": units[i]})
            for rule in sentinels:
                raw = np.where(rule.removes(da).to_numpy(), np.nan, raw)
        out.append(raw * (scales[i] if scales is not None else 1.0))
    return out, plan.description


# ------------------------------------------------------------------------------ checks


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
