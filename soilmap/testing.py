"""Helpers for testing code that uses soilmap (and for soilmap's own tests).

* :func:`raise_if_dask_computes` proves that a block of code stays lazy.
* :func:`make_grid`, :func:`make_layer` and :func:`write_raster` build small
  georeferenced rasters whose answers can be worked out on paper.
* :func:`count_tiff_reads` tells which resolution level of a GeoTIFF the bytes
  read came from (a report must read overviews only).
* :func:`result_digests` tells whether two result folders are bit-identical but
  for the times they were written.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS

from soilmap.grid import Grid

__all__ = [
    "DaskComputeError",
    "TiffReads",
    "count_tiff_reads",
    "make_fractions",
    "make_grid",
    "make_layer",
    "raise_if_dask_computes",
    "result_digests",
    "write_raster",
]


class DaskComputeError(RuntimeError):
    """Raised by :func:`raise_if_dask_computes` when something computed."""


class _CountingScheduler:
    def __init__(self, max_computes: int):
        self.max_computes = max_computes
        self.total = 0

    def __call__(self, dsk, keys, **kwargs):
        self.total += 1
        if self.total > self.max_computes:
            raise DaskComputeError(
                f"dask computed {self.total} time(s), {self.max_computes} allowed: "
                "something that should stay lazy triggered a computation."
            )
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[_CountingScheduler]:
    """Fail if dask computes more than ``max_computes`` times inside the block.

    Examples
    --------
    >>> import dask.array as da
    >>> with raise_if_dask_computes():
    ...     x = da.ones(10) + 1  # lazy: fine
    """
    scheduler = _CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def make_grid(
    shape: tuple[int, int] = (6, 8),
    *,
    crs: str | int = "EPSG:32637",
    res: float = 250.0,
    origin: tuple[float, float] = (500_000.0, 1_400_000.0),
) -> Grid:
    """A north-up grid with its top-left corner at ``origin``."""
    x0, y0 = origin
    return Grid(
        crs_wkt=CRS.from_user_input(crs).to_wkt(),
        transform=Affine(res, 0, x0, 0, -res, y0),
        shape=shape,
    )


def make_layer(
    values: np.ndarray,
    grid: Grid,
    *,
    units: str = "t C ha-1",
    chunks: tuple[int, int] | None = None,
    name: str = "layer",
) -> xr.DataArray:
    """Wrap ``values`` (shape = ``grid.shape``) as a georeferenced soilmap layer."""
    values = np.asarray(values)
    if values.shape != grid.shape:
        raise ValueError(f"values are {values.shape}, grid is {grid.shape}")
    da = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": grid.ys(), "x": grid.xs()},
        name=name,
        attrs={"units": units, "long_name": name, "history": ""},
    )
    da = da.rio.write_crs(grid.crs_wkt).rio.write_transform(grid.transform)
    return da.chunk({"y": chunks[0], "x": chunks[1]}) if chunks else da


def make_fractions(
    grid: Grid,
    values: np.ndarray,
    groups: list[str],
    *,
    chunks: tuple[int, int] | None = None,
) -> xr.DataArray:
    """Land-use group fractions ``values`` (shape ``(groups, *grid.shape)``) on ``grid``."""
    arr = xr.DataArray(
        np.asarray(values, "float32"),
        dims=("group", "y", "x"),
        coords={"group": groups, "y": grid.ys(), "x": grid.xs()},
    )
    return arr.chunk({"y": chunks[0], "x": chunks[1]}) if chunks else arr


def write_raster(
    path: str | os.PathLike,
    values: np.ndarray,
    grid: Grid | None,
    *,
    nodata: float | None = None,
    units: str | None = None,
    transform: Affine | None = None,
) -> Path:
    """Write a small single-band GeoTIFF (``grid=None`` writes one without a CRS)."""
    values = np.asarray(values)
    profile = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": values.dtype.name,
        "nodata": nodata,
        "transform": grid.transform if grid else (transform or Affine.identity()),
    }
    if grid is not None:
        profile["crs"] = grid.crs_wkt
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        if units:
            dst.set_band_unit(1, units)
    return Path(path)


@dataclass
class TiffReads:
    """Bytes read from one GeoTIFF while :func:`count_tiff_reads` was active.

    Attributes
    ----------
    full_resolution : int
        Bytes that fell inside the tiles (or strips) of the full-resolution image.
    overviews : int
        Bytes inside the tiles of its overview levels.
    other : int
        Headers, tag values and anything between the tiles.
    size : int
        The file's size (bytes).
    reads : list of (int, int)
        Every read as ``(offset, length)``.
    """

    full_resolution: int = 0
    overviews: int = 0
    other: int = 0
    size: int = 0
    reads: list[tuple[int, int]] = field(default_factory=list)


def _tile_ranges(path: str, ovr: int | None) -> list[tuple[int, int]]:
    """``(start, end)`` byte ranges of every block of one level of ``path`` (all bands)."""
    out = []
    with rasterio.open(path) as src:
        h, w = src.block_shapes[0]
        shape = src.shape if ovr is None else _overview_shape(src, ovr)
        rows, cols = -(-shape[0] // h), -(-shape[1] // w)
        for b in range(1, src.count + 1):
            for r in range(rows):
                for c in range(cols):
                    off = src.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=b, ovr=ovr)
                    size = src.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=b, ovr=ovr)
                    if off and size and int(size) > 0:
                        out.append((int(off), int(off) + int(size)))
    return sorted(out)


def _overview_shape(src: rasterio.io.DatasetReader, ovr: int) -> tuple[int, int]:
    f = src.overviews(1)[ovr]
    return -(-src.height // f), -(-src.width // f)


def _overlap(ranges: list[tuple[int, int]], start: int, end: int) -> int:
    """Bytes of ``[start, end)`` inside the sorted, disjoint ``ranges``."""
    i = max(0, bisect.bisect_right(ranges, (start, float("inf"))) - 1)
    total = 0
    while i < len(ranges) and ranges[i][0] < end:
        total += max(0, min(end, ranges[i][1]) - max(start, ranges[i][0]))
        i += 1
    return total


class _RecordingFile(io.FileIO):
    def __init__(self, path: str, mode: str, log: list[tuple[int, int]]):
        super().__init__(path, "rb" if "r" in mode else mode)
        self._log = log

    def read(self, size: int | None = -1) -> bytes:
        at = self.tell()
        data = super().read(size)
        self._log.append((at, len(data)))
        return data

    def readinto(self, buffer: Any) -> int:
        at = self.tell()
        n = super().readinto(buffer) or 0
        self._log.append((at, n))
        return n


@contextlib.contextmanager
def count_tiff_reads() -> Iterator[dict[str, TiffReads]]:
    """Record the bytes every local ``.tif`` opened with ``rasterio.open`` reads.

    Inside the block, ``rasterio.open`` of a local GeoTIFF for reading goes through a
    Python file object that logs each read; at the end each file's reads are split
    into full-resolution tiles, overview tiles and the rest (from the file's own
    ``BLOCK_OFFSET``/``BLOCK_SIZE`` items).  The yielded dict, keyed by the resolved
    path, is filled when the block ends.

    Examples
    --------
    >>> import numpy as np, rasterio, tempfile
    >>> path = tempfile.mkdtemp() + "/a.tif"
    >>> _ = write_raster(path, np.ones((64, 64)), make_grid((64, 64)))
    >>> with count_tiff_reads() as reads:
    ...     with rasterio.open(path) as src:
    ...         _ = src.read(1)
    >>> r = next(iter(reads.values()))
    >>> r.full_resolution >= 64 * 64 * 8, r.overviews  # every strip of float64 values
    (True, 0)
    """
    logs: dict[str, list[tuple[int, int]]] = {}
    real_open = rasterio.open

    def opener(path: str, mode: str = "rb") -> _RecordingFile:
        log: list[tuple[int, int]] = []
        f = _RecordingFile(path, mode, log)  # raises for the side files GDAL probes
        if Path(path).suffix.lower() == ".tif":
            logs.setdefault(str(Path(path).resolve()), []).extend(log)
            f._log = logs[str(Path(path).resolve())]
        return f

    def recording_open(fp: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        local = isinstance(fp, (str, os.PathLike)) and Path(fp).suffix.lower() == ".tif"
        if local and mode == "r" and "opener" not in kwargs and Path(fp).is_file():
            kwargs["opener"] = opener
        return real_open(fp, mode, *args, **kwargs)

    result: dict[str, TiffReads] = {}
    rasterio.open = recording_open
    try:
        yield result
    finally:
        rasterio.open = real_open
    for path, log in logs.items():
        full = _tile_ranges(path, None)
        with rasterio.open(path) as src:
            levels = len(src.overviews(1))
        ovr = sorted(r for k in range(levels) for r in _tile_ranges(path, k))
        counts = TiffReads(size=os.path.getsize(path), reads=list(log))
        for at, n in log:
            in_full, in_ovr = _overlap(full, at, at + n), _overlap(ovr, at, at + n)
            counts.full_resolution += in_full
            counts.overviews += in_ovr
            counts.other += n - in_full - in_ovr
        result[path] = counts


# Times soilmap writes into its files: "2026-12-07T22:41:18Z" (raster history tags,
# GeoPackage), "2026-12-07 22:41 UTC" (report.html); and the staging folder's name,
# which report.html shows.
_STAMPS = (
    rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z| UTC)?",
    rb"\.soilmap-staging-[A-Za-z0-9_]+",
)


def result_digests(folder: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of every file of a result folder, with write times blanked out.

    Two runs of the same inputs write the same bytes except the times the history
    tags, the GeoPackage and ``report.html`` record: each time (and the staging
    folder name) is overwritten by ``#`` of the same length before hashing, so the
    byte offsets stay those of the file.  ``run.json`` is hashed without its
    ``timings_s`` (how long each stage took) and its ``output.dir``; ``report.html``
    without the output folder's path and name.  Hidden files
    (``.soilmap-files``, the lock) are left out.
    """
    import hashlib
    import json
    import re

    root = Path(folder)
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or any(part.startswith(".") for part in Path(rel).parts):
            continue
        data = p.read_bytes()
        if rel == "run.json":
            doc = json.loads(data)
            doc.pop("timings_s", None)
            doc.get("parameters", {}).get("output", {}).pop("dir", None)
            data = json.dumps(doc, sort_keys=True).encode()
        for pattern in _STAMPS:
            data = re.sub(pattern, lambda m: b"#" * len(m.group()), data)
        if rel == "report.html":  # the page's byline names the folder it describes
            data = re.sub(rb'(class="meta">)[^<]*?( \xc2\xb7 )', rb"\1<output folder>\2", data)
        out[rel] = hashlib.sha256(data).hexdigest()
    return out
