"""Cloud-Optimised GeoTIFF outputs: scratch rasters written block by block, then copied to COGs."""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dask
import dask.array as dsa
import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from dask.delayed import Delayed
from rasterio.enums import Resampling
from rasterio.windows import Window

from soilmap.grid import Grid
from soilmap.io.raster import gdal_env

__all__ = [
    "FLOAT_NODATA",
    "Compression",
    "ScratchRaster",
    "create_scratch",
    "overview_count",
    "stage_geotiff",
]

Compression = Literal["deflate", "zstd", "lzw"]


def overview_count(shape: tuple[int, int], smallest: int = 256) -> int:
    """Number of 2x overview levels until the longest side is at most ``smallest`` cells.

    GDAL's ``OVERVIEWS=AUTO`` stops once a level fits one 512 px tile, which leaves
    small rasters without any overview; QGIS users expect at least one.
    """
    longest = max(shape)
    return max(0, int(np.ceil(np.log2(longest / smallest)))) if longest > smallest else 0


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
    ovr = Path(f"{tmp}.ovr")
    if dst.exists() and not tmp.exists():
        # A run killed after the copy: the scratch file is removed only once it is done.
        ovr.unlink(missing_ok=True)
        return dst
    # What a run killed while finishing this file left (see soilmap.pipeline.journal).
    for stale in (ovr, dst):
        stale.unlink(missing_ok=True)
    # The overviews go into an external .ovr, never into the scratch file itself: a
    # run killed while building them leaves the scratch file intact for a resume.
    # (GDAL finds the .ovr only when it may list the scratch file's folder.)
    with gdal_env(
        TIFF_USE_OVR="YES", INTERLEAVE_OVERVIEW="BAND", GDAL_DISABLE_READDIR_ON_OPEN="FALSE"
    ):
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
    ovr.unlink(missing_ok=True)
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
    #: The scratch file was there already (a resumed run) and was kept.
    reused: bool = False

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
            # dask's annotation asks for an array, but any object with __setitem__ works.
            _BlockWriter(self.scratch),  # type: ignore[arg-type]
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
    reuse: bool = False,
) -> ScratchRaster:
    """Create the scratch file of an output (metadata only; no pixels computed).

    Parameters are those of :func:`stage_geotiff`; with ``reuse`` an existing scratch
    file (of a resumed run) is kept as it is.
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
    reused = reuse and (tmp.exists() or dst.exists())
    if not reused:
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
        reused=reused,
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
) -> Delayed:
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


FLOAT_NODATA = -9999.0
