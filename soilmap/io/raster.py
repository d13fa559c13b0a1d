"""Raster input and output.

Reading is lazy: :func:`open_raster` checks the file's metadata (existence, CRS,
units) at once and returns a dask-backed layer whose chunks are whole multiples of
the file's internal blocks, so every block is read exactly once.

Writing happens in two steps so that no encoder runs while a lock is held and no
half-written file can appear under its final name: the dask graph streams blocks
into an uncompressed tiled GeoTIFF (cheap memcpy under a lock), then GDAL's COG
driver copies it into a compressed Cloud-Optimised GeoTIFF with overviews, using
all cores.  Both happen in a staging folder; :mod:`soilmap.io.staging` moves the
finished files into place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dask.array
import numpy as np
import rasterio
import rasterio.shutil
import rioxarray
import xarray as xr
from dask.base import tokenize
from rasterio.errors import RasterioError, RasterioIOError
from xarray.core.dtypes import maybe_promote

from soilmap.errors import CRSError, InputError, InputNotFoundError
from soilmap.grid import Grid
from soilmap.io.blocks import LazyBand
from soilmap.io.env import gdal_env
from soilmap.io.paths import check_virtual, gdal_path, is_virtual
from soilmap.meta import append_history
from soilmap.options import get_options

__all__ = [
    "ChunkSpec",
    "RasterLayout",
    "gdal_env",
    "open_categorical",
    "open_raster",
    "read_layout",
    "tile_aligned_chunks",
]


# GDAL settings for every read and write: never leave .aux.xml side files,
# allow >4 GB outputs, encode and decode on every core.
def tile_aligned_chunks(
    block_shape: tuple[int, int],
    shape: tuple[int, int],
    target_cells: int | None = None,
) -> tuple[int, int]:
    """Chunk shape ``(rows, cols)`` made of whole internal blocks, near ``target_cells``.

    Parameters
    ----------
    block_shape : tuple of int
        Internal block (tile or strip) shape of the file, ``(rows, cols)``.
    shape : tuple of int
        Raster shape ``(rows, cols)``.
    target_cells : int, optional
        Wanted number of cells per chunk (default: the ``chunk_cells`` option).
    """
    if target_cells is None:
        target_cells = int(get_options()["chunk_cells"])
    bh, bw = max(1, block_shape[0]), max(1, block_shape[1])
    height, width = shape
    side = int(np.sqrt(target_cells))
    # Strips span the whole width: grow the chunk in rows only.
    cols = width if bw >= width else min(width, max(bw, (side // bw) * bw))
    rows_wanted = max(1, target_cells // max(cols, 1))
    rows = min(height, max(bh, (rows_wanted // bh) * bh))
    return rows, cols


def _describe_open_error(path: Path, exc: Exception) -> InputError:
    if is_virtual(path):
        return InputNotFoundError(
            f"{gdal_path(path)}: GDAL cannot read it as a raster ({exc}). Check the URL or "
            "path, the network and, for object stores, the credentials."
        )
    return InputError(
        f"{path}: cannot be read as a raster ({exc}). Check that it is a GeoTIFF or another "
        "GDAL-readable raster and that the file is complete (re-download it if needed)."
    )


def _check_path(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if is_virtual(p):
        # URLs and /vsi* paths: GDAL says whether they exist (and why not).
        check_virtual(p, what)
        return p
    if not p.exists():
        raise InputNotFoundError(
            f"{what} {str(p)!r} does not exist. Check the path (relative paths in a config file "
            "are taken from the config file's folder)."
        )
    return p


@dataclass(frozen=True)
class RasterLayout:
    """What :func:`open_raster` learned from a file's header (no pixels read)."""

    path: Path
    grid: Grid
    dtype: str
    nodata: float | None
    block_shape: tuple[int, int]
    units: str | None
    count: int
    tags: Mapping[str, str] = field(default_factory=dict)


def read_layout(path: str | os.PathLike, *, band: int = 1, what: str = "raster") -> RasterLayout:
    """Read a raster's header and check it can be used (exists, readable, has a CRS).

    Raises
    ------
    soilmap.errors.InputNotFoundError
        The file does not exist.
    soilmap.errors.InputError
        GDAL cannot read it, or ``band`` is not in the file.
    soilmap.errors.CRSError
        The raster has no CRS.
    """
    p = _check_path(path, what)
    try:
        with gdal_env(), rasterio.open(gdal_path(p)) as src:
            if band < 1 or band > src.count:
                raise InputError(f"{p}: has {src.count} band(s); band {band} was asked for.")
            if src.crs is None:
                raise CRSError(
                    f"{what} {str(p)!r} has no coordinate reference system. Assign the right one "
                    f"with `gdal_edit.py -a_srs EPSG:XXXX {p}` (or rio edit-info --crs) and rerun."
                )
            if src.transform.b != 0 or src.transform.d != 0:
                raise InputError(
                    f"{p}: rotated or sheared rasters are not supported. Warp it north-up first "
                    f"(gdalwarp {p} north_up.tif)."
                )
            grid = Grid(
                crs_wkt=src.crs.to_wkt(), transform=src.transform, shape=(src.height, src.width)
            )
            return RasterLayout(
                path=p,
                grid=grid,
                dtype=src.dtypes[band - 1],
                nodata=src.nodatavals[band - 1],
                block_shape=tuple(src.block_shapes[band - 1]),
                units=src.units[band - 1] or src.tags(band).get("units") or None,
                count=src.count,
                tags=src.tags(),
            )
    except (RasterioIOError, RasterioError) as exc:
        raise _describe_open_error(p, exc) from exc


#: A chunk shape ``(rows, cols)``, a number of cells to round to whole internal
#: blocks, or None for the default number of cells.
ChunkSpec = tuple[int, int] | int | None


def _open_lazy(layout: RasterLayout, band: int, chunks: ChunkSpec, masked: bool) -> xr.DataArray:
    """One band as a dask-backed DataArray ``(y, x)``, read by :class:`LazyBand`.

    rioxarray gives the coordinates and attributes (it reads no cells here); the cells
    are read window by window by soilmap (:mod:`soilmap.io.blocks`), so that every
    read runs inside soilmap's GDAL settings, fetches each block of a remote file
    once, and takes what the plausibility sample read from memory.
    """
    if chunks is None or isinstance(chunks, int):
        chunks = tile_aligned_chunks(
            layout.block_shape, layout.grid.shape, chunks or get_options()["chunk_cells"]
        )
    path = gdal_path(layout.path)
    try:
        with gdal_env():
            meta = rioxarray.open_rasterio(
                path, masked=masked, lock=False, cache=False, default_name=layout.path.stem
            )
    except (RasterioIOError, RasterioError) as exc:
        raise _describe_open_error(layout.path, exc) from exc
    assert isinstance(meta, xr.DataArray)  # one file, one variable: never a list/Dataset here
    meta = meta.isel(band=band - 1, drop=True)
    file_dtype = np.dtype(layout.dtype)
    dtype, fill = maybe_promote(file_dtype) if masked else (file_dtype, None)
    reader = LazyBand(
        path,
        band,
        masked=masked,
        shape=layout.grid.shape,
        block_shape=layout.block_shape,
        file_dtype=file_dtype,
        dtype=dtype,
        fill_value=fill,
    )
    local = Path(path)
    mtime = local.stat().st_mtime_ns if not is_virtual(path) and local.exists() else None
    token = tokenize(path, mtime, band, masked, chunks, layout.grid.shape, str(dtype))
    data = dask.array.from_array(
        reader,
        chunks=chunks,
        name=f"read-{layout.path.stem}-{token}",
        lock=False,
        meta=np.empty((0, 0), dtype),
    )
    return xr.DataArray(data, coords=meta.coords, dims=meta.dims, attrs=meta.attrs, name=meta.name)


def open_raster(
    path: str | os.PathLike,
    *,
    units: str | None = None,
    band: int = 1,
    chunks: ChunkSpec = None,
    nodata: float | None = None,
    sentinels: tuple[float, ...] = (),
    long_name: str | None = None,
    what: str = "raster",
) -> xr.DataArray:
    """Open one band of a continuous raster lazily as float32 with NaN for missing data.

    Parameters
    ----------
    path : path-like
        Raster file (GeoTIFF or any GDAL-readable raster).
    units : str, optional
        Units of the stored values (e.g. ``"g kg-1"``).  Overrides the unit stored in the
        file; one of the two is required.
    band : int
        1-based band number.
    chunks : tuple of int or int, optional
        Chunk shape ``(rows, cols)``, or a number of cells per chunk that is rounded
        to whole internal blocks; default: whole internal blocks, ~4 Mcells.
    nodata : float, optional
        Nodata value to use when the file declares none (or declares a wrong one).
    sentinels : tuple of float
        Further values that mean "no data" (e.g. ``-32768`` when undeclared).
    long_name : str, optional
        Human-readable name; default: the file stem.
    what : str
        What the input is, for error messages (e.g. ``"SOC stock"``).

    Returns
    -------
    xarray.DataArray
        Dims ``("y", "x")``, float32, dask-backed; ``attrs`` carry ``units``,
        ``long_name``, ``source`` and ``history``; CRS in ``spatial_ref``.

    Raises
    ------
    soilmap.errors.InputError
        Missing or unreadable file, no CRS, no units.
    """
    from soilmap.errors import UnitsError

    layout = read_layout(path, band=band, what=what)
    unit = units or layout.units
    if not unit:
        raise UnitsError(
            f"{what} {gdal_path(layout.path)!r} does not state its units. Declare them "
            "(e.g. --soc-units 't C ha-1', or units = '...' in the config file)."
        )
    da = _open_lazy(layout, band, chunks, masked=True)
    declared = layout.nodata
    missing = [v for v in (nodata, *sentinels) if v is not None and v != declared]
    if missing:
        da = da.where(~da.isin(missing))
    da = da.astype("float32")
    da.attrs = {
        "units": unit,
        "long_name": long_name or layout.path.stem,
        "source": gdal_path(layout.path),
    }
    da.name = layout.path.stem
    da.encoding = {}
    return append_history(da, f"open_raster({gdal_path(layout.path)!r}, units={unit!r})")


def open_categorical(
    path: str | os.PathLike,
    *,
    band: int = 1,
    chunks: ChunkSpec = None,
    what: str = "land cover",
) -> xr.DataArray:
    """Open a class-code raster lazily, keeping its codes as stored (no masking).

    The file's nodata value, if any, is kept in ``attrs["nodata"]``; class tables
    decide what each code means.  Float rasters (class maps written by R or GEE)
    are opened as they are: the land-use stage checks that their codes are whole
    numbers (:func:`soilmap.landuse.codes.float_codes`).
    """
    layout = read_layout(path, band=band, what=what)
    kind = np.dtype(layout.dtype).kind
    if kind not in "iuf":
        raise InputError(
            f"{what} {gdal_path(layout.path)!r} holds {layout.dtype} values, not class codes. "
            "Pass the land-cover class raster itself (one code per cell)."
        )
    da = _open_lazy(layout, band, chunks, masked=False)
    da.attrs = {
        "source": gdal_path(layout.path),
        "long_name": layout.path.stem,
        "units": "1",
        "nodata": layout.nodata,
    }
    da.name = layout.path.stem
    da.encoding = {}
    return append_history(da, f"open_categorical({gdal_path(layout.path)!r})")
