"""The run manifest (``run.json``): inputs, parameters, software and timings."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from soilmap._version import __version__
from soilmap.io.paths import describe_remote, gdal_path, is_network, is_virtual, local_archive

__all__ = ["as_json", "describe_inputs", "software_versions", "write_json"]

_PACKAGES = (
    "numpy",
    "pandas",
    "xarray",
    "dask",
    "distributed",
    "rasterio",
    "rioxarray",
    "geopandas",
    "pyogrio",
    "shapely",
    "pyproj",
    "exactextract",
    "click",
)


def _sidecars(path: Path) -> list[Path]:
    # A shapefile is several files; checksum them all so the manifest identifies it.
    if path.suffix.lower() == ".shp":
        return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())
    return [path]


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def describe_inputs(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Path, size and SHA-256 of each input file (and of a shapefile's side files).

    A network input (URL, ``/vsis3/`` ...) is described by its size, ETag and
    Last-Modified instead (it is not downloaded to be hashed); a file inside a local
    archive by the archive's size and SHA-256.
    """
    out: list[dict[str, Any]] = []
    for p in paths:
        if is_virtual(p):
            out.append(_describe_virtual(p))
            continue
        for f in _sidecars(Path(p)):
            out.append(
                {"path": str(f.resolve()), "size_bytes": f.stat().st_size, "sha256": sha256(f)}
            )
    return out


def _describe_virtual(p: Path) -> dict[str, Any]:
    """A URL by its size, ETag and Last-Modified; a file in a local archive by the archive."""
    archive = local_archive(p)
    if archive is not None:
        return {
            "path": gdal_path(p),
            "archive": str(archive.resolve()),
            "size_bytes": archive.stat().st_size,
            "sha256": sha256(archive),
        }
    if is_network(p):
        return describe_remote(p)
    return {"path": gdal_path(p)}


def software_versions() -> dict[str, str]:
    """Versions of soilmap, Python, GDAL, PROJ and the main libraries."""
    import pyproj
    import rasterio

    versions = {
        "soilmap": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "gdal": rasterio.__gdal_version__,
        "proj": pyproj.proj_version_str,
    }
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def as_json(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as :func:`write_json` writes it and ``json.load`` reads it back."""
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=_default))
    return loaded


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` as indented UTF-8 JSON."""
    path.write_text(
        json.dumps(data, indent=2, default=_default, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path
