"""Global defaults that several stages share, set with :func:`set_options`.

One definition of each knob (chunk sizes, GDAL's block cache, the raster codec) and
of the list of codecs, instead of literals scattered through the stages.  As in
xarray, :func:`set_options` works both as a call and as a context manager:

>>> import soilmap
>>> soilmap.get_options()["compress"]
'deflate'
>>> with soilmap.set_options(compress="zstd"):
...     soilmap.get_options()["compress"]
'zstd'
>>> soilmap.get_options()["compress"]
'deflate'
>>> soilmap.set_options(compres="zstd")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
soilmap.errors.ConfigError: unknown option 'compres' (did you mean 'compress'?); ...
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any, Literal, get_args

from soilmap.errors import ConfigError

__all__ = ["CODECS", "Codec", "apply_gdal_cache", "get_options", "set_options"]

#: Raster codecs soilmap writes (each with a predictor); DEFLATE is the most portable.
Codec = Literal["deflate", "zstd", "lzw"]
CODECS: tuple[str, ...] = get_args(Codec)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"option {name} must be a positive whole number, not {value!r}.")
    return value


def _codec(name: str, value: Any) -> str:
    if value not in CODECS:
        raise ConfigError(f"option {name} must be one of {', '.join(CODECS)}, not {value!r}.")
    return str(value)


#: name -> (default, validator, what it means)
_SPEC: dict[str, tuple[Any, Any, str]] = {
    "chunk_cells": (
        2048 * 2048,
        _positive_int,
        "cells per dask chunk when a raster is opened on its own (whole internal blocks)",
    ),
    "run_chunk_cells": (
        1024 * 1024,
        _positive_int,
        "cells per chunk of a run without chunks or a memory limit (per-group layers "
        "hold ~100 B per cell in flight, and a window holds 2 chunks per thread)",
    ),
    "gdal_cache_mb": (
        256,
        _positive_int,
        "GDAL block cache (MB) unless GDAL_CACHEMAX is set: each block is read once, so "
        "GDAL's default (5 % of RAM) would only raise the peak memory",
    ),
    "compress": ("deflate", _codec, "default raster codec"),
}

_OPTIONS: dict[str, Any] = {k: v[0] for k, v in _SPEC.items()}


def get_options() -> Mapping[str, Any]:
    """The options in force, read-only."""
    return MappingProxyType(dict(_OPTIONS))


class set_options:
    """Set soilmap's defaults, for the session or inside a ``with`` block.

    Parameters
    ----------
    chunk_cells : int
        Cells per dask chunk of a raster opened on its own (default 2048²).
    run_chunk_cells : int
        Cells per chunk of a run without ``chunks`` or ``memory_limit`` (default 1024²).
    gdal_cache_mb : int
        GDAL block cache in MB unless ``GDAL_CACHEMAX`` is set (default 256).
    compress : {"deflate", "zstd", "lzw"}
        Default raster codec (default ``"deflate"``).

    Raises
    ------
    soilmap.errors.ConfigError
        An unknown option (with a suggestion) or an invalid value.
    """

    def __init__(self, **options: Any) -> None:
        new = {}
        for name, value in options.items():
            if name not in _SPEC:
                close = difflib.get_close_matches(name, _SPEC, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"unknown option {name!r}{hint}; valid options: {', '.join(sorted(_SPEC))}."
                )
            new[name] = _SPEC[name][1](name, value)
        self._old = {k: _OPTIONS[k] for k in new}
        _OPTIONS.update(new)

    def __enter__(self) -> set_options:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _OPTIONS.update(self._old)


def apply_gdal_cache() -> None:
    """Limit GDAL's block cache to ``gdal_cache_mb`` unless the user set GDAL_CACHEMAX.

    Effective only before GDAL has cached anything in this process.
    """
    os.environ.setdefault("GDAL_CACHEMAX", str(_OPTIONS["gdal_cache_mb"]))
