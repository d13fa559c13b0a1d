"""The output stage shared by every command that writes a result folder.

``soilmap run`` and ``soilmap gsocseq`` describe their rasters as
:class:`RasterOutput` values; the pipeline computes them window by window into
scratch files (:func:`create_targets`), and this module then writes what follows
from the computed values: a QGIS style beside each COG (:func:`write_styles`), the
tables (:func:`write_tables`) and ``run.json`` (:func:`write_manifest`), all inside
the run's :class:`~soilmap.io.staging.OutputStage`, so they are moved into place
together or not at all.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from soilmap.errors import OutputSpaceError
from soilmap.io.staging import OutputStage
from soilmap.options import Codec
from soilmap.outputs.cog import FLOAT_NODATA, ScratchRaster, create_scratch
from soilmap.outputs.manifest import write_json
from soilmap.outputs.qml import continuous_style, paletted_style, style_path_for, write_qml
from soilmap.outputs.tables import write_csv, write_gpkg, write_parquet

__all__ = [
    "TABLE_FORMATS",
    "Continuous",
    "Paletted",
    "RasterOutput",
    "Style",
    "create_targets",
    "disk_full_as_space_error",
    "is_disk_full",
    "output_names",
    "write_manifest",
    "write_styles",
    "write_tables",
]

#: Table files written per table stem, in this order.
TABLE_FORMATS = ("gpkg", "csv", "parquet")


@dataclass(frozen=True)
class Continuous:
    """A continuous colour ramp, stretched on the layer's computed range.

    Attributes
    ----------
    ramp : str
        Matplotlib colour map.
    label_unit : str, optional
        Unit shown in the legend (default: the layer's ``units``).
    vmin, vmax : float, optional
        Fixed ends of the ramp; ``None`` takes them from the data (``vmin`` 0 when
        the layer has no negative value).
    vmax_if_empty : float, optional
        ``vmax`` to use when the data's maximum is not positive (an empty layer).
    """

    ramp: str
    label_unit: str | None = None
    vmin: float | None = None
    vmax: float | None = None
    vmax_if_empty: float | None = None

    @property
    def needs_range(self) -> bool:
        """Whether the data's minimum and maximum must be computed for this style."""
        return self.vmin is None or self.vmax is None

    def xml(self, units: str, vmin: float, vmax: float) -> str:
        """The QML document, given the layer's computed range."""
        lo = self.vmin
        if lo is None:
            lo = 0.0 if np.isfinite(vmin) and vmin >= 0 else float(vmin)
        hi = float(vmax) if self.vmax is None else self.vmax
        if self.vmax_if_empty is not None and not hi > 0:
            hi = self.vmax_if_empty
        return continuous_style(lo, hi, ramp=self.ramp, label_unit=self.label_unit or units)


@dataclass(frozen=True)
class Paletted:
    """One colour per class: ``(code, colour, label)`` entries."""

    entries: tuple[tuple[int, str, str], ...]
    needs_range = False

    def xml(self, units: str, vmin: float, vmax: float) -> str:
        """The QML document (the range is not used)."""
        return paletted_style(list(self.entries))


Style = Continuous | Paletted


@dataclass(frozen=True)
class RasterOutput:
    """One raster of a result folder: the lazy layer and how to write and style it.

    Attributes
    ----------
    layer : xarray.DataArray
        Lazy layer, dims ``("y", "x")`` or ``(band, "y", "x")``, with ``units``.
    style : Continuous or Paletted
        QGIS style written beside the COG.
    nodata : float
        Value written for NaN (−9999 for float layers).
    dtype : str
        Output data type.
    resampling : str
        Overview resampling (``"average"``, ``"mode"`` for classes).
    tags : mapping
        GeoTIFF dataset tags (scenario, parameters, provenance).
    """

    layer: xr.DataArray
    style: Style
    nodata: float = FLOAT_NODATA
    dtype: str = "float32"
    resampling: str = "average"
    tags: Mapping[str, Hashable] = field(default_factory=dict)


def output_names(
    rasters: Sequence[str], tables: Sequence[str] = (), *, formats: Sequence[str] = TABLE_FORMATS
) -> list[str]:
    """Every file name a result folder gets: rasters with styles, tables, ``run.json``."""
    names = [f"{stem}{ext}" for stem in rasters for ext in (".tif", ".qml")]
    for stem in tables:
        for fmt in formats:
            names += [f"{stem}.csv", f"{stem}.csvt"] if fmt == "csv" else [f"{stem}.{fmt}"]
    return [*names, "run.json"]


def create_targets(
    stage: OutputStage, rasters: Mapping[str, RasterOutput], *, compress: Codec
) -> dict[str, ScratchRaster]:
    """Create the scratch file of every raster in the staging folder (no pixel computed)."""
    targets = {}
    for stem, out in rasters.items():
        path = stage.path(f"{stem}.tif")
        path.parent.mkdir(parents=True, exist_ok=True)
        targets[stem] = create_scratch(
            out.layer,
            path,
            nodata=out.nodata,
            dtype=out.dtype,
            compress=compress,
            resampling=out.resampling,
            tags=out.tags,
        )
    return targets


def write_styles(
    written: Mapping[str, Path],
    rasters: Mapping[str, RasterOutput],
    ranges: Mapping[str, tuple[float, float]],
) -> None:
    """Write the ``.qml`` beside each written COG, from the layers' computed ranges."""
    for stem, out in rasters.items():
        vmin, vmax = ranges.get(stem, (np.nan, np.nan))
        xml = out.style.xml(str(out.layer.attrs.get("units", "")), vmin, vmax)
        write_qml(style_path_for(written[stem]), xml)


def write_tables(
    stage: OutputStage,
    table: gpd.GeoDataFrame,
    stem: str,
    *,
    units: Mapping[str, str],
    metadata: Mapping[str, str],
    formats: Sequence[str] = TABLE_FORMATS,
    style_column: str | None = None,
) -> None:
    """Write one table as ``<stem>.gpkg`` (layer ``stem``), ``.csv`` + ``.csvt``, ``.parquet``."""
    writers: dict[str, Callable[[], Any]] = {
        "gpkg": lambda: write_gpkg(
            table,
            stage.path(f"{stem}.gpkg"),
            layer=stem,
            metadata=dict(metadata),
            units=units,
            style_column=style_column,
        ),
        "csv": lambda: write_csv(table, stage.path(f"{stem}.csv")),
        "parquet": lambda: write_parquet(
            table, stage.path(f"{stem}.parquet"), metadata=metadata, units=units
        ),
    }
    for fmt in formats:
        writers[fmt]()


def write_manifest(stage: OutputStage, manifest: Mapping[str, Any]) -> Path:
    """Write ``run.json`` into the staging folder."""
    return write_json(dict(manifest), stage.path("run.json"))


def is_disk_full(exc: BaseException) -> bool:
    """Whether a write error is the disk running out of space, whatever raised it.

    A full disk comes as ``OSError`` ENOSPC (Python, pyarrow), GDAL's
    ``CPLE_AppDefinedError`` / ``RasterioIOError`` ("No space left on device",
    "Free disk space available is ..."), or pyogrio's ``DataSourceError``
    ("database or disk is full", SQLite under the GeoPackage driver).
    """
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    return any(
        s in text
        for s in ("no space left", "disk is full", "disk full", "free disk space available")
    )


@contextlib.contextmanager
def disk_full_as_space_error(folder: Path, need: str = "") -> Iterator[None]:
    """Turn any full-disk error inside the block into :class:`OutputSpaceError`.

    The message names the folder, the free space and (``need``) what was written.
    """
    try:
        yield
    except OutputSpaceError:
        raise
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        free = shutil.disk_usage(folder).free if folder.exists() else 0
        raise OutputSpaceError(
            f"writing the outputs in {folder} failed: the disk is full ({free / 1e6:.1f} MB "
            f"free{'; ' + need if need else ''}). Free space on that disk, or choose an --out "
            "folder on a disk with more room; the folder is as it was before the run."
        ) from exc
