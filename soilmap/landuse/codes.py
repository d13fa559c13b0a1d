"""Class codes stored as floating point (land cover written by R, GEE or a float workflow).

R's ``raster``/``terra`` ``writeRaster`` stores a class map as float32 with the
nodata value -3.4e38 (the lowest float32, R's ``NA``) unless told otherwise; GEE
exports and many scripts write float64 codes with NaN.  Such a raster is a class
raster as long as every valid cell holds a whole number: :func:`float_codes` is
applied block by block, in the same lazy pass as the unknown-codes check, and
stops the run on the first block holding a non-integral value.

>>> import numpy as np
>>> float_codes(np.array([[11.0, -3.4e38], [np.nan, 210.0]], "float32"), -3.4e38, "lc.tif")
array([[ 11.,  nan],
       [ nan, 210.]])
"""

from __future__ import annotations

import numpy as np

from soilmap.errors import InputError

__all__ = ["R_NA_FLOAT32", "float_codes", "is_float_codes"]

#: R's ``NA`` in a float32 raster: the lowest float32 (about -3.4e38). Values at or
#: below -3.4e38 are nodata in a float class raster, declared or not.
R_NA_FLOAT32 = float(np.finfo(np.float32).min)
# -3.4e38 as float32 is -3.3999999e38, above -3.4e38 in float64: that is the bound.
_NA_BELOW = float(np.float32(-3.4e38))


def is_float_codes(dtype: str | np.dtype) -> bool:
    """Whether a raster of this dtype stores its class codes as floating point."""
    return np.dtype(dtype).kind == "f"


def float_codes(
    block: np.ndarray, nodata: float | None, what: str, *, offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """A float class block as float64 with NaN for nodata; non-integral values refused.

    Parameters
    ----------
    block : numpy.ndarray
        Codes as read (float32 or float64).
    nodata : float, optional
        The file's nodata value; NaN and values <= -3.4e38 are nodata in any case.
    what : str
        The raster, for the message (e.g. ``"land cover 'lc.tif'"``).
    offset : tuple of int
        Row and column of the block's first cell in the raster, for the message.

    Raises
    ------
    soilmap.errors.InputError
        The block holds values that are not whole numbers: their count, a few of
        them with their cells, and how to fix the file.
    """
    a = np.asarray(block, dtype=np.float64)
    missing = ~np.isfinite(a) | (a <= _NA_BELOW)
    if nodata is not None and np.isfinite(nodata):
        missing |= a == np.float64(np.asarray(nodata, dtype=block.dtype))
    bad = ~missing & (a != np.floor(a))
    if bad.any():
        rows, cols = np.nonzero(bad)
        shown = ", ".join(
            f"{a[r, c]:.6g} at row {r + offset[0]}, col {c + offset[1]}"
            for r, c in zip(rows[:5], cols[:5], strict=True)
        )
        raise InputError(
            f"{what} holds {int(bad.sum())} non-integral value(s) in rows "
            f"{offset[0]}-{offset[0] + a.shape[0] - 1} (e.g. {shown}), so it is not a map of "
            "class codes (a resampled or averaged map?). Pass the class raster itself, or "
            "round it to whole codes (gdal_calc.py -A lc.tif --calc 'numpy.round(A)' "
            "--type Int16 --NoDataValue 255 --outfile codes.tif) if rounding is right."
        )
    return np.where(missing, np.nan, a)
