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
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dask
import dask.array as dsa
import numpy as np
import rasterio
import rasterio.shutil
import rioxarray
import xarray as xr
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from soilmap.errors import CRSError, InputError, InputNotFoundError
from soilmap.grid import Grid
from soilmap.meta import append_history

__all__ = [
    "Compression",
    "RasterLayout",
    "gdal_env",
    "open_categorical",
    "open_raster",
    "stage_geotiff",
    "tile_aligned_chunks",
]

Compression = Literal["deflate", "zstd", "lzw"]

#: Target cells per chunk (about 16 MiB of float32).
DEFAULT_CHUNK_CELLS = 2048 * 2048

# GDAL settings for every read and write: never leave .aux.xml side files,
# allow >4 GB outputs, encode and decode on every core.
_GDAL_OPTIONS = {
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_NUM_THREADS": "ALL_CPUS",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}


def gdal_env(**extra: Any) -> rasterio.Env:
    """A :class:`rasterio.Env` with soilmap's GDAL settings (plus ``extra``)."""
    return rasterio.Env(**{**_GDAL_OPTIONS, **extra})


def tile_aligned_chunks(
    block_shape: tuple[int, int],
    shape: tuple[int, int],
    target_cells: int = DEFAULT_CHUNK_CELLS,
) -> tuple[int, int]:
    """Chunk shape ``(rows, cols)`` made of whole internal blocks, near ``target_cells``.

    Parameters
    ----------
    block_shape : tuple of int
        Internal block (tile or strip) shape of the file, ``(rows, cols)``.
    shape : tuple of int
        Raster shape ``(rows, cols)``.
    target_cells : int
        Wanted number of cells per chunk.
    """
    bh, bw = max(1, block_shape[0]), max(1, block_shape[1])
    height, width = shape
    side = int(np.sqrt(target_cells))
    # Strips span the whole width: grow the chunk in rows only.
    cols = width if bw >= width else min(width, max(bw, (side // bw) * bw))
    rows_wanted = max(1, target_cells // max(cols, 1))
    rows = min(height, max(bh, (rows_wanted // bh) * bh))
    return rows, cols


def overview_count(shape: tuple[int, int], smallest: int = 256) -> int:
    """Number of 2x overview levels until the longest side is at most ``smallest`` cells.

    GDAL's ``OVERVIEWS=AUTO`` stops once a level fits one 512 px tile, which leaves
    small rasters without any overview; QGIS users expect at least one.
    """
    longest = max(shape)
    return max(0, int(np.ceil(np.log2(longest / smallest)))) if longest > smallest else 0


def _describe_open_error(path: Path, exc: Exception) -> InputError:
    return InputError(
        f"{path}: cannot be read as a raster ({exc}). Check that it is a GeoTIFF or another "
        "GDAL-readable raster and that the file is complete (re-download it if needed)."
    )


def _check_path(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
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
        with gdal_env(), rasterio.open(p) as src:
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
    if chunks is None or isinstance(chunks, int):
        chunks = tile_aligned_chunks(
            layout.block_shape, layout.grid.shape, chunks or DEFAULT_CHUNK_CELLS
        )
    try:
        da = rioxarray.open_rasterio(
            layout.path,
            chunks={"band": 1, "y": chunks[0], "x": chunks[1]},
            masked=masked,
            lock=False,
            cache=False,
            default_name=layout.path.stem,
        )
    except (RasterioIOError, RasterioError) as exc:
        raise _describe_open_error(layout.path, exc) from exc
    assert isinstance(da, xr.DataArray)  # one file, one variable: never a list/Dataset here
    return da.isel(band=band - 1, drop=True)


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
            f"{what} {str(layout.path)!r} does not state its units. Declare them "
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
        "source": str(layout.path),
    }
    da.name = layout.path.stem
    da.encoding = {}
    return append_history(da, f"open_raster({str(layout.path)!r}, units={unit!r})")


def open_categorical(
    path: str | os.PathLike,
    *,
    band: int = 1,
    chunks: ChunkSpec = None,
    what: str = "land cover",
) -> xr.DataArray:
    """Open a class-code raster lazily, keeping its integer codes (no masking).

    The file's nodata value, if any, is kept in ``attrs["nodata"]``; class tables
    decide what each code means.
    """
    layout = read_layout(path, band=band, what=what)
    if not np.issubdtype(np.dtype(layout.dtype), np.integer):
        raise InputError(
            f"{what} {str(layout.path)!r} holds {layout.dtype} values, not integer class codes. "
            "Pass the land-cover class raster itself (one integer code per cell)."
        )
    da = _open_lazy(layout, band, chunks, masked=False)
    da.attrs = {
        "source": str(layout.path),
        "long_name": layout.path.stem,
        "units": "1",
        "nodata": layout.nodata,
    }
    da.name = layout.path.stem
    da.encoding = {}
    return append_history(da, f"open_categorical({str(layout.path)!r})")


class _BlockWriter:
    """``dask.array.store`` target writing windows into an existing GeoTIFF.

    Holds only a path, so it pickles to dask workers; each write opens the file,
    which GDAL makes cheap, and avoids sharing a handle between threads.
    """

    def __init__(self, path: Path):
        self.path = path

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        *_, rows, cols = key
        window = Window.from_slices(rows, cols, height=value.shape[-2], width=value.shape[-1])
        with gdal_env(), rasterio.open(self.path, "r+") as dst:
            if value.ndim == 3:
                # A multi-band layer is stored with all its bands in every chunk.
                dst.write(value, list(range(1, value.shape[0] + 1)), window=window)
            else:
                dst.write(value, 1, window=window)


_LOCAL_LOCK = threading.Lock()


def _fill_nodata(block: np.ndarray, nodata: float, dtype: str) -> np.ndarray:
    if np.issubdtype(block.dtype, np.floating):
        block = np.where(np.isnan(block), nodata, block)
    return block.astype(dtype, copy=False)


def _finish_cog(tmp: Path, dst: Path, profile: Mapping[str, Any], _stored: Any) -> Path:
    opts = dict(profile)
    levels = [2**i for i in range(1, opts.pop("overview_count") + 1)]
    with gdal_env():
        if levels:
            # Overviews first, into the uncompressed band-interleaved scratch file, one
            # band at a time; the COG driver then only encodes (OVERVIEWS=AUTO takes
            # the source's).  Left to the COG driver, a multi-band file's overviews go
            # through a compressed temporary file that a 256 MB block cache re-decodes
            # again and again: 7 bands of 1e8 cells took 6 minutes instead of 40 s.
            with rasterio.open(tmp, "r+") as scratch:
                scratch.build_overviews(levels, Resampling[opts["overview_resampling"].lower()])
        rasterio.shutil.copy(tmp, dst, driver="COG", **opts)
    tmp.unlink()
    return dst


#: Tile side of the scratch files (pixels): their size on disk is whole tiles.
_SCRATCH_TILE = 512


@dataclass
class ScratchRaster:
    """An output being written: a tiled scratch GeoTIFF that becomes a COG at the end.

    Blocks are stored into the uncompressed scratch file window by window (cheap
    under a lock); :meth:`finish` lets GDAL's COG driver compress it with overviews
    on every core.  Holds only paths and options, so it pickles to dask workers.
    """

    path: Path
    scratch: Path
    dtype: str
    nodata: float
    bands: int
    cog_options: dict[str, Any]
    shape: tuple[int, int] = (0, 0)

    @property
    def scratch_bytes(self) -> int:
        """Disk the uncompressed scratch file takes once every block is written (bytes)."""
        h, w = (-(-n // _SCRATCH_TILE) * _SCRATCH_TILE for n in self.shape)
        return self.bands * np.dtype(self.dtype).itemsize * h * w

    @property
    def overview_bytes(self) -> int:
        """Disk its overviews add to the scratch file before the COG copy (bytes)."""
        levels = self.cog_options.get("overview_count", 0)
        return int(self.scratch_bytes * sum(4.0**-k for k in range(1, levels + 1)))

    def store(self, da: xr.DataArray, row0: int, col0: int, *, lock: Any = None) -> dsa.Array:
        """Lazy store of ``da`` (a window of the layer) at ``row0, col0`` of the file."""
        band_dim = next((d for d in da.dims if d not in ("y", "x")), None)
        data = da.transpose(*((band_dim,) if band_dim else ()), "y", "x").data
        if not isinstance(data, dsa.Array):
            data = dsa.from_array(np.asarray(data), chunks=data.shape)
        elif band_dim:
            data = data.rechunk({0: -1})
        data = data.map_blocks(_fill_nodata, self.nodata, self.dtype, dtype=self.dtype)
        h, w = data.shape[-2:]
        region = (
            *((slice(None),) if band_dim else ()),
            slice(row0, row0 + h),
            slice(col0, col0 + w),
        )
        return dsa.store(
            data,
            _BlockWriter(self.scratch),
            lock=lock or _LOCAL_LOCK,
            regions=region,
            compute=False,
        )

    def finish(self) -> Path:
        """Copy the scratch file to the final COG and remove it."""
        return _finish_cog(self.scratch, self.path, self.cog_options, None)


def create_scratch(
    da: xr.DataArray,
    path: str | os.PathLike,
    *,
    nodata: float,
    dtype: str = "float32",
    compress: Compression = "deflate",
    resampling: str = "average",
    tags: Mapping[str, Hashable] | None = None,
) -> ScratchRaster:
    """Create the scratch file of an output (metadata only; no pixels computed).

    Parameters are those of :func:`stage_geotiff`.
    """
    dst = Path(path)
    tmp = dst.with_name(f".{dst.stem}.blocks.tif")
    grid = Grid.from_dataarray(da)
    units = str(da.attrs.get("units", ""))
    band_dim = next((d for d in da.dims if d not in ("y", "x")), None)
    bands = (
        [str(v) for v in da[band_dim].values]
        if band_dim
        else [str(da.attrs.get("long_name", dst.stem))]
    )
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": len(bands),
        "dtype": dtype,
        "crs": grid.crs_wkt,
        "transform": grid.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": _SCRATCH_TILE,
        "blockysize": _SCRATCH_TILE,
        "compress": "none",
        "bigtiff": "IF_SAFER",
        "sparse_ok": True,
        # One band per tile, so overviews are built band by band (see _finish_cog).
        "interleave": "band",
    }
    all_tags = {
        "units": units,
        "long_name": str(da.attrs.get("long_name", "")),
        "history": str(da.attrs.get("history", "")),
        **(tags or {}),
    }
    with gdal_env(), rasterio.open(tmp, "w", **profile) as out:
        out.update_tags(**{k: str(v) for k, v in all_tags.items()})
        for i, name in enumerate(bands, start=1):
            out.set_band_description(i, name)
            out.set_band_unit(i, units)
    cog = {
        "compress": compress.upper(),
        "predictor": "YES",
        "blocksize": 512,
        "overviews": "AUTO",
        "overview_count": overview_count(grid.shape),
        "overview_resampling": resampling.upper(),
        "resampling": resampling.upper(),
        "num_threads": "ALL_CPUS",
        "bigtiff": "IF_SAFER",
    }
    if compress == "deflate":
        cog["level"] = 6
    return ScratchRaster(
        path=dst,
        scratch=tmp,
        dtype=dtype,
        nodata=nodata,
        bands=len(bands),
        cog_options=cog,
        shape=grid.shape,
    )


def stage_geotiff(
    da: xr.DataArray,
    path: str | os.PathLike,
    *,
    nodata: float,
    dtype: str = "float32",
    compress: Compression = "deflate",
    resampling: str = "average",
    tags: Mapping[str, Hashable] | None = None,
    lock: Any = None,
) -> dask.delayed:
    """Prepare writing ``da`` as a Cloud-Optimised GeoTIFF at ``path``; return a Delayed.

    Nothing is computed here: computing the returned Delayed (together with other
    outputs, so inputs are read once) streams the blocks to a tiled scratch file
    beside ``path`` and converts it to COG.  ``path`` should be in a staging folder.

    Parameters
    ----------
    da : xarray.DataArray
        Layer, dims ``("y", "x")``, or ``(band, "y", "x")`` for a multi-band file whose
        band descriptions are the labels of the first dimension (e.g. land-use
        groups); georeferenced, with ``units`` and ``long_name``.
    path : path-like
        Final COG path (inside a staging folder).
    nodata : float
        Value written where ``da`` is NaN, and declared as the band's nodata.
    dtype : str
        Output data type.
    compress : {"deflate", "zstd", "lzw"}
        Codec (with a predictor).
    resampling : str
        Overview resampling (``"average"`` for continuous, ``"mode"`` for classes).
    tags : mapping, optional
        Dataset tags (provenance, scenario parameters).
    lock : lock-like, optional
        Lock serialising block writes (a ``distributed.Lock`` on a cluster).
    """
    target = create_scratch(
        da, path, nodata=nodata, dtype=dtype, compress=compress, resampling=resampling, tags=tags
    )
    stored = target.store(da, 0, 0, lock=lock)
    # Depend on the store's blocks through Delayed objects that keep their keys:
    # wrapping the dask Array itself would give it fresh keys (dask >= 2025) and
    # every input block would be read again for this file.
    blocks = stored.to_delayed(optimize_graph=False).ravel().tolist()
    return dask.delayed(_finish_cog, pure=False)(
        target.scratch, target.path, target.cog_options, blocks
    )
