"""Plausible ranges over every cell: out-of-range cells, sentinels and exact zeros, counted.

The sample check (:mod:`soilmap.soc.plausibility`) judges a median, so a few absurd
cells (15 GSOCseq T0 cells of up to 5e9 t C ha-1, an undeclared −999 in 3 % of the
cells) pass it and would silently dominate the totals.  This module looks at every
cell, in the same single pass that computes the outputs:

* :data:`PLAUSIBLE` holds the plausible range of each quantity, in canonical units
  (a stock per 30 cm, scaled by the depth range);
* :func:`range_check` removes the cells of a layer outside its range (lazily) and gives
  the per-chunk statistics (:class:`soilmap.blockstats.BlockStats`) that count them,
  count the well-known sentinels among them (:data:`SENTINELS`) and the exact zeros,
  and keep the lowest and highest value and the first and last location;
* the decision, after the pass and before anything is moved into the output folder,
  is :func:`soilmap.soc.verdict.judge`.

Declared rules (a product preset, ``sentinels``, ``valid_range``) are applied first,
so a declared input leaves nothing for this check to find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr

from soilmap.blockstats import BlockStats
from soilmap.errors import ConfigError
from soilmap.soc._range_kernels import kept_layer, range_stats, zero_stats
from soilmap.units import CANONICAL, conversion_factor

__all__ = [
    "ON_IMPLAUSIBLE",
    "PLAUSIBLE",
    "SENTINELS",
    "OnImplausible",
    "PlausibleRange",
    "RangeCheck",
    "plausible_range",
    "range_check",
    "zero_reductions",
]

OnImplausible = Literal["error", "drop"]
ON_IMPLAUSIBLE: tuple[str, ...] = ("error", "drop")

#: Codes that files use for "no data" without declaring it: GDAL/ArcGIS defaults
#: (−9999, −3.4e38), FAO's GSOCseq scripts (−999), Int16/UInt16 extremes.
SENTINELS: tuple[float, ...] = (-9999.0, -999.0, -32768.0, -32767.0, 32767.0, 65535.0)
#: ±3.4e38 (float32's largest values, ArcGIS's nodata): anything this large is one.
HUGE = 3.0e38


@dataclass(frozen=True)
class PlausibleRange:
    """Plausible values of a quantity in canonical units, inclusive.

    Attributes
    ----------
    quantity : str
    min, max : float
        Limits in :data:`soilmap.units.CANONICAL` units.
    per_30_cm : bool
        Limits are per 30 cm of depth (stocks): scaled by the depth range.
    reason : str
        Where the limits come from (for messages and ``run.json``).
    """

    quantity: str
    min: float
    max: float
    per_30_cm: bool = False
    reason: str = ""


#: The registry of plausible ranges, in canonical units.
PLAUSIBLE: dict[str, PlausibleRange] = {
    "stock": PlausibleRange(
        "stock",
        0.0,
        800.0,
        True,
        "FAO GSOCseq's rule for 0-30 cm stocks (17_MapsCorrection.R: < 0 or > 800 t C ha-1 "
        "is not data), scaled by the depth range",
    ),
    "concentration": PlausibleRange(
        "concentration", 0.0, 1000.0, False, "a carbon mass share lies in 0-1000 g kg-1"
    ),
    "bulk_density": PlausibleRange(
        "bulk_density",
        0.0,
        2650.0,
        False,
        "a bulk density cannot exceed the density of quartz, 2650 kg m-3",
    ),
    "fraction": PlausibleRange("fraction", 0.0, 1.0, False, "a volume share lies in 0-1"),
}


def plausible_range(
    quantity: str, units: str, *, depth_cm: tuple[float, float] | None = None
) -> tuple[float, float, str]:
    """Plausible limits of ``quantity`` in ``units`` (stored units), and their words.

    >>> plausible_range("stock", "kg C m-2", depth_cm=(0, 30))[:2]
    (0.0, 80.0)
    >>> plausible_range("stock", "t C ha-1", depth_cm=(0, 100))[:2]
    (0.0, 2666.666666666667)
    """
    pr = PLAUSIBLE[quantity]
    scale = 1.0
    per = ""
    if pr.per_30_cm and depth_cm is not None:
        scale = (depth_cm[1] - depth_cm[0]) / 30.0
        per = f" for {depth_cm[0]:g}-{depth_cm[1]:g} cm"
    f = conversion_factor(CANONICAL[quantity], units, quantity=quantity)
    lo, hi = pr.min * scale * f, pr.max * scale * f
    return lo, hi, f"{lo:.6g}-{hi:.6g} {units}{per} ({pr.reason})"


@dataclass
class RangeCheck:
    """The range check of one layer: its reductions and what they mean.

    Attributes
    ----------
    key : str
        Prefix of the reduction keys, ``"range:<role>:<file stem>"``.
    what : str
        The layer, for messages (``"SOC stock 'T0.tif'"``).
    path : str
    units : str
        Stored units (the limits and the example values are in them).
    limits : (float, float)
    describe : str
        The range in words.
    data : xarray.DataArray or None
        The layer checked (stored units, after the declared rules), on the grid the
        run computes: the whole raster, or the run window's crop of it.
    origin : (int, int)
        Row and column of ``data``'s first cell on the raster (a cropped layer).
    sentinels : tuple of float
        The sentinels counted (:data:`SENTINELS` and the product's own).
    shape : (int, int)
        The whole raster's shape (flat indices and locations count on it).
    x, y : numpy.ndarray
        Cell-centre coordinates of the whole raster, to name locations.
    """

    key: str
    what: str
    path: str
    units: str
    limits: tuple[float, float]
    describe: str
    data: xr.DataArray | None = None
    origin: tuple[int, int] = (0, 0)
    sentinels: tuple[float, ...] = SENTINELS
    shape: tuple[int, int] = (0, 0)
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def stats(self) -> BlockStats:
        """The per-chunk statistics of :attr:`data`: ``<key>:outside``, ``:sentinel``,
        ``:zero`` (counts), ``:min``/``:max`` (of the outside values) and
        ``:first``/``:last`` (flat index of outside cells on the whole raster)."""
        if self.data is None:
            raise ValueError(f"the range check of {self.what} has no layer")
        return range_stats(
            self.data.data,
            key=self.key,
            lo=self.limits[0],
            hi=self.limits[1],
            sentinels=self.sentinels,
            huge=HUGE,
            width=self.shape[1],
            origin=self.origin,
        )

    def location(self, flat: float) -> str:
        """``"row r, col c (x=…, y=…)"`` of a flat cell index."""
        r, c = divmod(int(flat), self.shape[1])
        return f"row {r}, col {c} (x={self.x[c]:.6g}, y={self.y[r]:.6g})"

    def counts(self, reduced: dict[str, Any]) -> dict[str, Any]:
        """The computed numbers of this layer (JSON-able)."""
        get = lambda k: reduced.get(f"{self.key}:{k}", 0)
        n = int(get("outside") or 0)
        out: dict[str, Any] = {
            "layer": self.what,
            "source": self.path,
            "units": self.units,
            "plausible_range": self.describe,
            "cells_outside_range": n,
            "cells_equal_to_sentinels": int(get("sentinel") or 0),
            "cells_exactly_zero": int(get("zero") or 0),
        }
        if n:
            out["lowest_outside"] = float(get("min"))
            out["highest_outside"] = float(get("max"))
            out["first_location"] = self.location(get("first"))
            out["last_location"] = self.location(get("last"))
        return out


def range_check(
    da: xr.DataArray,
    *,
    quantity: str,
    units: str,
    key: str,
    what: str,
    depth_cm: tuple[float, float] | None = None,
    extra_sentinels: tuple[float, ...] = (),
) -> tuple[xr.DataArray, RangeCheck]:
    """Remove the cells of ``da`` outside the plausible range; reductions that count them.

    Parameters
    ----------
    da : xarray.DataArray
        A layer in its stored units (``units``), after the declared cleaning rules.
    quantity : str
        Key of :data:`PLAUSIBLE`.
    units : str
    key : str
        Prefix of the reduction keys.
    what : str
        The layer, for messages.
    depth_cm : (float, float), optional
        Depth range of a stock.
    extra_sentinels : tuple of float
        The product's own sentinels (counted with :data:`SENTINELS`).

    Returns
    -------
    xarray.DataArray
        ``da`` with NaN where out of range (attrs kept).
    RangeCheck

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([[-999.0, 0.0, 50.0, 5e9]]), dims=("y", "x")).chunk()
    >>> kept, rc = range_check(da, quantity="stock", units="t C ha-1", key="k", what="t0")
    >>> bs = rc.stats()
    >>> {k: float(v) for k, v in bs.reduce(bs.data.compute()).items()}
    ... # doctest: +NORMALIZE_WHITESPACE
    {'k:outside': 2.0, 'k:sentinel': 1.0, 'k:zero': 1.0, 'k:min': -999.0, 'k:max': 5000000000.0,
     'k:first': 0.0, 'k:last': 3.0}
    >>> kept.values.tolist()
    [[nan, 0.0, 50.0, nan]]
    """
    lo, hi, words = plausible_range(quantity, units, depth_cm=depth_cm)
    if da.chunks is None:
        da = da.chunk()
    rc = RangeCheck(
        key=key,
        what=what,
        path=str(da.attrs.get("source", "")),
        units=units,
        limits=(lo, hi),
        describe=words,
        # No coordinates: the engine slices the statistics by chunk position.
        data=xr.DataArray(da.data, dims=da.dims),
        sentinels=(*SENTINELS, *extra_sentinels),
        shape=(da.sizes["y"], da.sizes["x"]),
        x=np.asarray(da["x"].values) if "x" in da.coords else np.arange(da.sizes["x"]),
        y=np.asarray(da["y"].values) if "y" in da.coords else np.arange(da.sizes["y"]),
    )
    kept = da.copy(data=kept_layer(da.data, lo=lo, hi=hi))
    kept.attrs = dict(da.attrs)
    kept.name = da.name
    return kept, rc


def zero_reductions(stock: xr.DataArray, fractions: xr.DataArray) -> BlockStats:
    """Exact-zero stock cells per land-use group (group shares summed), per chunk.

    Keys ``"zeros:<group>"``; a cell whose stock is 0 counts its share of each group.
    """
    shares = fractions.transpose("group", "y", "x").data
    return zero_stats(stock.data, shares, [str(v) for v in fractions["group"].values])


def check_on_implausible(value: Any, where: str = "[soc]") -> OnImplausible:
    """The ``on_implausible`` value, checked."""
    if value not in ON_IMPLAUSIBLE:
        raise ConfigError(
            f"{where}: on_implausible must be 'error' or 'drop', not {value!r}: 'error' stops "
            "the run when cells are outside their plausible range, 'drop' removes and "
            "counts them."
        )
    return value  # type: ignore[no-any-return,unused-ignore]
