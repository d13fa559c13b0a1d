"""soilmap's GDAL settings, for every read and write."""

from __future__ import annotations

from typing import Any

import rasterio

__all__ = ["gdal_env"]

_GDAL_OPTIONS = {
    # No .aux.xml side files next to the user's inputs.
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_NUM_THREADS": "ALL_CPUS",
    # Remote and zipped inputs: don't list a folder to open one file.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}


def gdal_env(**extra: Any) -> rasterio.Env:
    """A :class:`rasterio.Env` with soilmap's GDAL settings (plus ``extra``)."""
    return rasterio.Env(**{**_GDAL_OPTIONS, **extra})
