"""Input paths that GDAL opens: local files, URLs and GDAL virtual file systems.

Every raster and vector input may be a local path, an ``http(s)://`` or ``ftp://``
URL (read through GDAL's ``/vsicurl/``, block by block with HTTP range requests), or
a GDAL virtual file system path: ``/vsicurl/``, ``/vsizip/``, ``/vsitar/``,
``/vsigzip/``, ``/vsis3/``, ``/vsigs/``, ``/vsiaz/`` (and the other ``/vsi*``
handlers, chained as GDAL allows).  GDAL's own settings (``GDAL_HTTP_*``,
``CPL_VSIL_CURL_*``, ``AWS_*`` ...) pass through from the environment.

Paths travel through the config as :class:`pathlib.Path`, which collapses ``//``:
:func:`input_path` gives a form that survives it (a local archive as
``/vsizip/{/abs/archive.zip}/inside``), and :func:`gdal_path` (used at every door
that hands a path to GDAL) restores ``https://`` after ``/vsicurl/``.

>>> gdal_path("https://example.org/soc.tif")
'/vsicurl/https://example.org/soc.tif'
>>> gdal_path(Path("/vsicurl/https://example.org/soc.tif"))
'/vsicurl/https://example.org/soc.tif'
>>> str(input_path("/vsizip/data/inputs.zip/soc.tif", Path("/runs")))
'/vsizip/{/runs/data/inputs.zip}/soc.tif'
>>> is_virtual(Path("/vsis3/bucket/soc.tif")), is_virtual("soc.tif")
(True, False)
"""

from __future__ import annotations

import ctypes
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from soilmap.errors import InputNotFoundError
from soilmap.io.env import gdal_env, libgdal

__all__ = [
    "check_virtual",
    "describe_remote",
    "gdal_path",
    "input_path",
    "is_network",
    "is_virtual",
    "local_archive",
]

_URL = re.compile(r"^(https?|ftp)://", re.IGNORECASE)
# "https:/" where pathlib collapsed "https://" (never a real local path component).
_COLLAPSED = re.compile(r"(^|/vsicurl/|/vsicurl_streaming/|\{)(https?|ftp):/(?!/)", re.IGNORECASE)
_ARCHIVES = ("/vsizip/", "/vsitar/", "/vsigzip/", "/vsi7z/", "/vsirar/")
_ARCHIVE_SUFFIXES = (".zip", ".kmz", ".tar", ".tgz", ".tar.gz", ".gz", ".7z", ".rar")
_NETWORK = (
    "/vsicurl",
    "/vsis3",
    "/vsigs",
    "/vsiaz",
    "/vsiadls",
    "/vsioss",
    "/vsiswift",
    "/vsihdfs",
    "/vsiwebhdfs",
)


def _text(path: str | os.PathLike) -> str:
    return os.fspath(path)


def gdal_path(path: str | os.PathLike) -> str:
    """The string to hand to GDAL for ``path`` (a URL becomes ``/vsicurl/URL``).

    Restores the ``//`` of ``https://`` that :class:`pathlib.Path` collapsed, and an
    absolute archive path after ``/vsizip/`` (``/vsizip//abs/x.zip/in``) written
    without its second slash.
    """
    s = _COLLAPSED.sub(lambda m: f"{m[1]}{m[2]}://", _text(path))
    if _URL.match(s):
        return "/vsicurl/" + s
    for prefix in _ARCHIVES:
        if s.startswith(prefix):
            rest = s[len(prefix) :]
            archive = _archive_part(rest)
            if (
                archive
                and not rest.startswith(("/", "{", "vsi"))
                and not Path(archive).exists()
                and Path("/" + archive).exists()
            ):
                return prefix + "/" + rest
    return s


def is_virtual(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URL or a GDAL ``/vsi*`` path (not a plain local file)."""
    s = _text(path)
    return bool(_URL.match(s)) or s.startswith("/vsi") or bool(_COLLAPSED.match(s))


def is_network(path: str | os.PathLike) -> bool:
    """Whether GDAL reads ``path`` over the network (possibly inside an archive)."""
    s = gdal_path(path)
    return any(f"{p}/" in s or f"{p}_streaming/" in s for p in _NETWORK)


def _archive_part(rest: str) -> str | None:
    """The archive file at the start of what follows ``/vsizip/`` (None if none)."""
    parts = rest.split("/")
    for i, part in enumerate(parts):
        if part.lower().endswith(_ARCHIVE_SUFFIXES):
            return "/".join(parts[: i + 1])
    return None


def local_archive(path: str | os.PathLike) -> Path | None:
    """The local archive file a ``/vsizip/``, ``/vsitar/`` or ``/vsigzip/`` path reads from."""
    s = gdal_path(path)
    for prefix in _ARCHIVES:
        if s.startswith(prefix):
            rest = s[len(prefix) :]
            braced = rest.startswith("{")
            archive = rest[1 : rest.find("}")] if braced else (_archive_part(rest) or "")
            if archive and not archive.startswith("/vsi") and Path(archive).is_file():
                return Path(archive)
    return None


def input_path(value: str | os.PathLike, base: Path | None = None) -> Path:
    """An input path as given in a config file or a flag, relative to ``base``.

    URLs and ``/vsi*`` paths are kept as GDAL reads them (a URL as ``/vsicurl/URL``);
    a local archive after ``/vsizip/``, ``/vsitar/`` or ``/vsigzip/`` is taken
    relative to ``base`` like any local path; anything else is ``base / value``.
    """
    s = _COLLAPSED.sub(lambda m: f"{m[1]}{m[2]}://", _text(value))
    if _URL.match(s):
        return Path("/vsicurl/" + s)
    for prefix in _ARCHIVES:
        if s.startswith(prefix):
            rest = s[len(prefix) :]
            if rest.startswith(("{", "/vsi", "vsi")):
                return Path(s)
            archive = _archive_part(rest.lstrip("/") if rest.startswith("/") else rest)
            if archive is None:
                return Path(s)
            if rest.startswith("/"):
                archive, inside = "/" + archive, rest[len(archive) + 1 :]
            else:
                inside = rest[len(archive) :]
            full = Path(archive) if base is None else base / archive
            return Path(f"{prefix}{{{full.absolute()}}}{inside}")
    if s.startswith("/vsi"):
        return Path(s)
    return Path(s) if base is None else base / s


@cache
def _libgdal() -> Any:
    """rasterio's own GDAL library with the VSI calls used here declared, or None.

    Its C API gives what rasterio does not expose: ``VSIStatL`` and the HTTP headers
    of a network file (``VSIGetFileMetadata(..., "HEADERS")``).
    """
    lib = libgdal()
    if lib is None:
        return None
    lib.VSIStatL.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.VSIStatL.restype = ctypes.c_int
    lib.VSIGetFileMetadata.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
    lib.VSIGetFileMetadata.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.CSLDestroy.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    lib.CPLGetLastErrorMsg.restype = ctypes.c_char_p
    lib.CPLErrorReset.restype = None
    return lib


def check_virtual(path: str | os.PathLike, what: str = "input") -> None:
    """Check through GDAL that a URL or ``/vsi*`` file exists and can be reached.

    Raises
    ------
    soilmap.errors.InputNotFoundError
        Naming the path and GDAL's reason (HTTP status, DNS failure, no credentials ...).
    """
    lib = _libgdal()
    if lib is None:  # not Linux: GDAL reports a missing file when it opens it
        return
    s = gdal_path(path)
    buf = ctypes.create_string_buffer(512)  # larger than any struct stat
    with gdal_env():
        lib.CPLErrorReset()
        found = lib.VSIStatL(s.encode(), buf) == 0
        reason = (lib.CPLGetLastErrorMsg() or b"").decode(errors="replace")
    if not found:
        if reason.rstrip().endswith(": 0"):  # curl got no HTTP answer at all
            reason += " (no HTTP answer: the server could not be reached)"
        why = reason or (
            "GDAL found no file at this address (e.g. HTTP 404, or no such object or bucket)"
            if is_network(s)
            else "GDAL finds no such file"
        )
        raise InputNotFoundError(
            f"{what} {s!r} cannot be read: {why}. Check the URL or path, the network, and "
            "for object stores the credentials (GDAL's AWS_*, GOOGLE_*, AZURE_* settings); "
            "GDAL_HTTP_* and CPL_VSIL_CURL_* settings are taken from the environment."
        )


def describe_remote(path: str | os.PathLike) -> dict[str, Any]:
    """What identifies a network input without reading it: size, ETag, Last-Modified.

    From the HTTP headers GDAL received for the file (``VSIGetFileMetadata`` in the
    ``HEADERS`` domain), so credentials and settings are GDAL's own.
    """
    s = gdal_path(path)
    out: dict[str, Any] = {"path": s, "size_bytes": None, "etag": None, "last_modified": None}
    lib = _libgdal()
    if lib is None:
        out["note"] = "headers not available (GDAL's C API not found)"
        return out
    with gdal_env():
        res = lib.VSIGetFileMetadata(s.encode(), b"HEADERS", None)
    headers: dict[str, str] = {}
    if res:
        i = 0
        while res[i] is not None:
            key, _, value = res[i].decode(errors="replace").partition("=")
            headers[key.strip().lower()] = value.strip()
            i += 1
        lib.CSLDestroy(res)
    length = headers.get("content-length")
    if "content-range" in headers:  # a ranged answer: "bytes 0-0/12345"
        length = headers["content-range"].rpartition("/")[2]
    out["size_bytes"] = int(length) if length and length.isdigit() else None
    out["etag"] = headers.get("etag") or headers.get("x-ms-version-id")
    out["last_modified"] = headers.get("last-modified")
    return out
