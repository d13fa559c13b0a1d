"""soilmap's GDAL settings, for every read and write.

Remote reads (``/vsicurl/``, ``/vsis3/`` ...) fetch only the bytes of the blocks a read
needs, each once (:mod:`soilmap.io.blocks` applies this), because of what GDAL 3.10
does:

- ``/vsicurl/`` reads a file through ``VSIFReadL`` in chunks of
  ``CPL_VSIL_CURL_CHUNK_SIZE`` (16 KiB) aligned on the file, and on consecutive reads
  of one handle doubles the number of chunks it asks for (read-ahead): a read of one
  tile fetches parts of its neighbours, a read of the next tile of the row fetches one
  or two tiles beyond it.
- The GeoTIFF driver reads the tiles of a window as byte ranges
  (``VSIFReadMultiRangeL``, consecutive tiles merged into one range).  Several ranges
  are fetched exactly, in parallel; a single range falls back to the chunked,
  read-ahead ``VSIFReadL`` unless ``GDAL_HTTP_MULTIRANGE=SINGLE_GET``, which makes it
  one ``Range`` GET of exactly those bytes.  With several ranges SINGLE_GET would send
  one multipart ``Range`` request, which object stores such as S3 do not serve: it is
  set (for one thread, around one read: :func:`thread_config`) only for a read whose
  blocks make one run of bytes.  Ranges are taken up to
  ``GDAL_MAX_RAW_BLOCK_CACHE_SIZE`` (10 MB) per read; the rest of the window would go
  block by block through ``VSIFReadL``, so reads set it to the window's size.
- With a decoding thread pool (``GDAL_NUM_THREADS`` > 1) the driver fetches windows
  of several tiles through ``AdviseRead`` instead, and GDAL 3.10 silently returns
  zeros for the tiles of a failed request (an HTTP 503, a dropped connection), with
  no retry (GDAL issues 11552 and 12426; retries came with 3.11).  Network files are
  therefore opened for reading with ``GDAL_NUM_THREADS=1``: a failed range is then
  fetched again or the read fails, never zeros.

GDAL settings the user sets in the environment (``GDAL_HTTP_*``, ``CPL_VSIL_CURL_*``,
``GDAL_MAX_RAW_BLOCK_CACHE_SIZE``, ``AWS_*`` ...) win over these.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import rasterio

__all__ = ["gdal_env", "libgdal", "thread_config"]

_GDAL_OPTIONS = {
    # No .aux.xml side files next to the user's inputs.
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_NUM_THREADS": "ALL_CPUS",
    # Remote and zipped inputs: don't list a folder to open one file.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}

#: Remote reads retry a transient failure (HTTP 429, 500, 502, 503, 504, a dropped
#: connection) a few times, half a second apart, instead of failing the run at once
#: (GDAL's defaults: no retry, 30 s apart).  Set only where the user's environment
#: does not set them.
_HTTP_RETRY = {"GDAL_HTTP_MAX_RETRY": "4", "GDAL_HTTP_RETRY_DELAY": "0.5"}


def _not_set_by_user(options: dict[str, str]) -> dict[str, str]:
    """``options`` without those the user's environment sets (theirs win)."""
    return {k: v for k, v in options.items() if k not in os.environ}


def gdal_env(**extra: Any) -> rasterio.Env:
    """A :class:`rasterio.Env` with soilmap's GDAL settings (plus ``extra``).

    In the main thread rasterio sets the options process-wide for the duration of the
    ``with`` block; in other threads (dask's workers) for that thread only.
    """
    return rasterio.Env(**{**_GDAL_OPTIONS, **_not_set_by_user(_HTTP_RETRY), **extra})


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
def thread_config(**options: str) -> Iterator[None]:
    """GDAL config options set for this thread only, for the duration of the block.

    Options the user set in the environment are left alone (theirs win).  Thread-
    local, so that no concurrent read in another thread sees them.  Without GDAL's C
    API (not Linux) nothing is set: reads are then correct but may fetch more.
    """
    lib = _cpl()
    todo = _not_set_by_user(options)
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
