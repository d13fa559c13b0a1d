"""soilmap's GDAL settings, for every read and write.

Remote reads (``/vsicurl/``, ``/vsis3/`` ...) fetch only the bytes of the blocks a read
needs, each once, without any setting from the user:

- GDAL's ``/vsicurl/`` handler reads through ``VSIFReadL`` in chunks of
  ``CPL_VSIL_CURL_CHUNK_SIZE`` (16 KiB) aligned on the file, and on consecutive reads
  of one handle doubles the number of chunks it asks for (read-ahead, up to 2 MiB):
  a read of one tile fetches parts of its neighbours, a read of the next tile of the
  row fetches one or two tiles beyond it.  GDAL's GeoTIFF driver avoids that path
  when a read spans several tiles and it has a decoding thread pool
  (``GDAL_NUM_THREADS`` > 1): it asks ``/vsicurl/`` for exactly the tiles' byte ranges
  (``AdviseRead``; consecutive tiles merged into one request).
- A read of a single tile still goes through ``VSIFReadMultiRangeL`` with one range,
  which ``/vsicurl/`` turns back into a chunked, read-ahead ``VSIFReadL`` unless
  ``GDAL_HTTP_MULTIRANGE=SINGLE_GET``: then it is one ``Range`` GET of exactly the
  tile.  That setting is only safe for a read that cannot ask for several ranges (with
  several, SINGLE_GET sends one multipart ``Range`` request, which object stores such
  as S3 do not serve), so :func:`single_block_read` sets it for one thread, around one
  read of one block of a GeoTIFF (see :mod:`soilmap.io.blocks`).

GDAL settings the user sets in the environment (``GDAL_HTTP_*``, ``CPL_VSIL_CURL_*``,
``VSI_*``, ``AWS_*`` ...) win over soilmap's own remote-read settings.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import rasterio

__all__ = ["gdal_env", "libgdal", "single_block_read"]

_GDAL_OPTIONS = {
    # No .aux.xml side files next to the user's inputs.
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_NUM_THREADS": "ALL_CPUS",
    # Remote and zipped inputs: don't list a folder to open one file.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}

#: Set for one read of one GeoTIFF block (see the module docstring).
_SINGLE_BLOCK = {"GDAL_HTTP_MULTIRANGE": "SINGLE_GET"}


def _threads() -> str:
    """``GDAL_NUM_THREADS``: all CPUs, but at least 2.

    GDAL's GeoTIFF driver reads multi-tile windows of a remote file by exact byte
    ranges only with a thread pool, which it creates only for more than one thread.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    return "ALL_CPUS" if n > 1 else "2"


def gdal_env(**extra: Any) -> rasterio.Env:
    """A :class:`rasterio.Env` with soilmap's GDAL settings (plus ``extra``).

    In the main thread rasterio sets the options process-wide for the duration of the
    ``with`` block; in other threads (dask's workers) for that thread only.
    """
    return rasterio.Env(**{**_GDAL_OPTIONS, "GDAL_NUM_THREADS": _threads(), **extra})


@cache
def libgdal() -> Any:
    """rasterio's own GDAL library (the instance that opens the rasters), or None.

    Its C API gives what rasterio does not expose (``VSIStatL``, HTTP headers,
    thread-local config options).  Found in the process's memory map (Linux); where
    rasterio's wheel bundles its own copy, that one (not pyogrio's, say).
    """
    import rasterio._base  # noqa: F401  (loads libgdal)

    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            libs = sorted({ln.split()[-1] for ln in f if "libgdal" in ln and "/" in ln})
    except OSError:
        return None
    # Other packages may bring their own GDAL (pyogrio does): rasterio's is the one.
    libs.sort(key=lambda p: "rasterio" not in p)
    return ctypes.CDLL(libs[0]) if libs else None


@cache
def _cpl() -> Any:
    """:func:`libgdal`, ready for thread-local config options (None if not found)."""
    lib = libgdal()
    if lib is None:
        return None
    lib.CPLSetThreadLocalConfigOption.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.CPLSetThreadLocalConfigOption.restype = None
    lib.CPLGetThreadLocalConfigOption.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.CPLGetThreadLocalConfigOption.restype = ctypes.c_char_p
    return lib


@contextmanager
def single_block_read() -> Iterator[None]:
    """Options for one read of one block of a GeoTIFF, set for this thread only.

    ``GDAL_HTTP_MULTIRANGE=SINGLE_GET``: the block's bytes in one ``Range`` request of
    exactly its size (see the module docstring), unless the user set
    ``GDAL_HTTP_MULTIRANGE`` in the environment.  Thread-local, so that no concurrent
    read of several blocks (in another thread) sees it.
    """
    lib = _cpl()
    todo = {k: v for k, v in _SINGLE_BLOCK.items() if k not in os.environ}
    if lib is None or not todo:
        yield
        return
    old = {k: lib.CPLGetThreadLocalConfigOption(k.encode(), None) for k in todo}
    for k, v in todo.items():
        lib.CPLSetThreadLocalConfigOption(k.encode(), v.encode())
    try:
        yield
    finally:
        for k, prev in old.items():
            lib.CPLSetThreadLocalConfigOption(k.encode(), prev)
