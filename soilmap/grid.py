"""The reference grid: CRS, affine transform and shape of a raster.

A :class:`Grid` is a small frozen value that can be compared, hashed and sent
to dask workers.  Every layer of a run lives on one grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import xarray as xr
from affine import Affine
from pyproj import CRS

from soilmap.errors import CRSError, GridMismatchError

__all__ = ["Grid", "check_chunks", "check_same_grid", "dask_chunks"]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Attributes
    ----------
    crs_wkt : str
        Coordinate reference system as WKT (kept as text so the value pickles).
    transform : affine.Affine
        Pixel-corner transform (GDAL convention).
    shape : tuple of int
        ``(height, width)`` in cells.
    """

    crs_wkt: str
    transform: Affine
    shape: tuple[int, int]

    @classmethod
    def from_dataarray(cls, da: xr.DataArray, *, what: str | None = None) -> Grid:
        """Read the grid of a rioxarray-georeferenced layer.

        Raises
        ------
        soilmap.errors.CRSError
            If the layer has no CRS.
        """
        crs = da.rio.crs
        if crs is None:
            name = what or da.attrs.get("source", da.name or "layer")
            raise CRSError(
                f"{name} has no coordinate reference system. Assign one "
                "(e.g. gdal_edit.py -a_srs EPSG:4326 FILE, or da.rio.write_crs(...))."
            )
        return cls(
            crs_wkt=crs.to_wkt(),
            transform=da.rio.transform(recalc=True),
            shape=(da.sizes["y"], da.sizes["x"]),
        )

    def window(self, row0: int, row1: int, col0: int, col1: int) -> Grid:
        """The grid of rows ``row0:row1`` and columns ``col0:col1`` of this one."""
        t = self.transform
        shifted = Affine(t.a, t.b, t.c + col0 * t.a, t.d, t.e, t.f + row0 * t.e)  # north-up
        return Grid(self.crs_wkt, shifted, (row1 - row0, col1 - col0))

    @cached_property
    def crs(self) -> CRS:
        """The CRS as a :class:`pyproj.CRS`."""
        return CRS.from_wkt(self.crs_wkt)

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def res(self) -> tuple[float, float]:
        """Cell size ``(xres, yres)`` in CRS units, both positive."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        left, top = self.transform.c, self.transform.f
        right = left + self.transform.a * self.width
        bottom = top + self.transform.e * self.height
        return left, min(bottom, top), right, max(bottom, top)

    def is_north_up(self) -> bool:
        t = self.transform
        return t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0

    def xs(self) -> np.ndarray:
        """Cell-centre x coordinates (float64)."""
        t = self.transform
        return t.c + t.a * (np.arange(self.width) + 0.5)

    def ys(self) -> np.ndarray:
        """Cell-centre y coordinates (float64), top row first."""
        t = self.transform
        return t.f + t.e * (np.arange(self.height) + 0.5)

    def window_bounds(self, row0: int, row1: int, col0: int, col1: int) -> tuple[float, ...]:
        """Bounds ``(left, bottom, right, top)`` of rows ``row0:row1`` and cols ``col0:col1``."""
        t = self.transform
        left, right = t.c + t.a * col0, t.c + t.a * col1
        top, bottom = t.f + t.e * row0, t.f + t.e * row1
        return left, min(top, bottom), right, max(top, bottom)

    def matches(self, other: Grid, *, rtol: float = 1e-9) -> bool:
        """True if both grids have the same CRS, shape and (almost) the same transform."""
        if self.shape != other.shape or not self.crs.equals(other.crs):
            return False
        scale = max(self.res)
        return all(
            abs(a - b) <= rtol * max(1.0, abs(a), scale)
            for a, b in zip(self.transform[:6], other.transform[:6], strict=True)
        )

    def describe(self) -> str:
        epsg = self.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else self.crs.name
        return f"{crs}, {self.width}x{self.height} cells of {self.res[0]:g}x{self.res[1]:g}"


def check_same_grid(reference: Grid, other: Grid, *, what: str, reference_name: str) -> None:
    """Raise :class:`~soilmap.errors.GridMismatchError` unless ``other`` matches ``reference``."""
    if not reference.matches(other):
        raise GridMismatchError(
            f"{what} is on grid {other.describe()} but {reference_name} is on "
            f"{reference.describe()}. Bring it onto the reference grid first "
            "(soilmap.landuse.regrid) or pass a raster on the same grid."
        )


def check_chunks(chunks: tuple[int, int], shape: tuple[int, int] | None = None) -> tuple[int, int]:
    """Validate a ``(rows, cols)`` chunk shape; clip it to ``shape`` when given.

    Raises
    ------
    soilmap.errors.InputError
        If ``chunks`` is not a pair of positive integers.
    """
    from soilmap.errors import InputError

    try:
        rows, cols = (int(c) for c in chunks)
    except (TypeError, ValueError):
        raise InputError(f"chunks must be a (rows, cols) pair of ints, not {chunks!r}.") from None
    if rows <= 0 or cols <= 0:
        raise InputError(f"chunks must be positive, not {chunks!r}.")
    if shape is None:
        return rows, cols
    return min(rows, shape[0]), min(cols, shape[1])


def dask_chunks(da: xr.DataArray) -> tuple[tuple[int, ...], ...]:
    """The dask chunks of ``da`` along each dimension.

    Layers opened by soilmap are always dask-backed; an in-memory array here means a
    caller skipped the lazy open, which would silently drop the chunked computation.

    Raises
    ------
    TypeError
        If ``da`` is not backed by a dask array.
    """
    chunks = da.chunks
    if chunks is None:
        raise TypeError(f"layer {da.name!r} is held in memory, not as a dask array.")
    return chunks
