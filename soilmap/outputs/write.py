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
import functools
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
from soilmap.outputs.regions import INTENSIVE, intensive_unit, regions_layer, regions_units
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
    """A continuous colour ramp, stretched on the layer's 2nd-98th percentile.

    Attributes
    ----------
    ramp : str
        Matplotlib colour map.
    label_unit : str, optional
        Unit shown in the legend (default: the layer's ``units``).
    vmin, vmax : float, optional
        Fixed ends of the ramp; ``None`` takes them from the data: the 2nd and 98th
        percentile when they are known (else the minimum and maximum).
    vmax_if_empty : float, optional
        ``vmax`` to use when the data's maximum is not positive (an empty layer).
    diverging_ramp : str
        Ramp used instead when the values change sign (centred on zero).
    band : int
        1-based band the style draws (a multi-band layer opens on this band).
    """

    ramp: str
    label_unit: str | None = None
    vmin: float | None = None
    vmax: float | None = None
    vmax_if_empty: float | None = None
    diverging_ramp: str = "RdBu"
    band: int = 1

    @property
    def needs_range(self) -> bool:
        """Whether the data's minimum and maximum must be computed for this style."""
        return self.vmin is None or self.vmax is None

    def xml(
        self,
        units: str,
        vmin: float,
        vmax: float,
        stretch: tuple[float, float] | None = None,
    ) -> str:
        """The QML document, given the layer's computed range and percentile stretch."""
        p_lo, p_hi = stretch if stretch is not None else (vmin, vmax)
        if not (np.isfinite(p_lo) and np.isfinite(p_hi) and p_hi > p_lo):
            p_lo, p_hi = vmin, vmax
        unit = self.label_unit or units
        if (
            self.vmin is None
            and self.vmax is None
            and np.isfinite(vmin)
            and np.isfinite(vmax)
            and vmin < 0 < vmax
        ):
            # Gains and losses: a diverging ramp with zero on its centre colour.
            return continuous_style(
                float(p_lo),
                float(p_hi),
                ramp=self.diverging_ramp,
                label_unit=unit,
                diverging=True,
                band=self.band,
            )
        lo = float(p_lo) if self.vmin is None else self.vmin
        hi = float(p_hi) if self.vmax is None else self.vmax
        if self.vmax_if_empty is not None and not hi > 0:
            hi = self.vmax_if_empty
        return continuous_style(lo, hi, ramp=self.ramp, label_unit=unit, band=self.band)


@dataclass(frozen=True)
class Paletted:
    """One colour per class: ``(code, colour, label)`` entries."""

    entries: tuple[tuple[int, str, str], ...]
    needs_range = False

    def xml(self, *_computed: object) -> str:
        """The QML document; takes :meth:`Continuous.xml`'s arguments and uses none."""
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
    stage: OutputStage,
    rasters: Mapping[str, RasterOutput],
    *,
    compress: Codec,
    reuse: bool = False,
) -> dict[str, ScratchRaster]:
    """Create the scratch file of every raster in the staging folder (no pixel computed).

    With ``reuse`` (a resumed run), scratch files already in the folder are kept.
    """
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
            reuse=reuse,
        )
        if isinstance(out.style, Paletted) and not (reuse and targets[stem].reused):
            _embed_palette(targets[stem].scratch, out.style.entries)
    return targets


def _embed_palette(path: Path, entries: tuple[tuple[int, str, str], ...]) -> None:
    """Embed the classes' colour table, and their names as band tags, in the GeoTIFF.

    Any GIS then draws the classes in their colours without the ``.qml``; the COG copy
    keeps both.  ``CLASS_<code>`` band tags (the GDAL_METADATA TIFF tag) name each code:
    GDAL before 3.12 (rasterio 1.4's wheels, QGIS 3.22's GDAL 3.6) keeps a GeoTIFF's
    category names and raster attribute table only in an ``.aux.xml`` side file, which
    a result folder must not hold, so QGIS labels the classes from the ``.qml``
    (tests/outputs/test_landuse_qgis.py shows both in real QGIS).
    """
    import rasterio

    from soilmap.io.raster import gdal_env

    colours = {
        int(code): (int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16), 255)
        for code, c, _ in entries
    }
    with gdal_env(), rasterio.open(path, "r+") as dst:
        dst.write_colormap(1, colours)
        dst.update_tags(1, **{f"CLASS_{code}": label for code, _, label in entries})


def write_styles(
    written: Mapping[str, Path],
    rasters: Mapping[str, RasterOutput],
    ranges: Mapping[str, tuple[float, float]],
    stretches: Mapping[str, tuple[float, float]] | None = None,
) -> None:
    """Write the ``.qml`` beside each written COG, from the layers' computed ranges.

    ``stretches`` gives the 2nd and 98th percentiles the continuous ramps span
    (:attr:`soilmap.pipeline.execute.Executed.stretches`); without them a ramp spans
    the minimum to the maximum.
    """
    for stem, out in rasters.items():
        vmin, vmax = ranges.get(stem, (np.nan, np.nan))
        stretch = (stretches or {}).get(stem)
        xml = out.style.xml(str(out.layer.attrs.get("units", "")), vmin, vmax, stretch)
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
    with_regions: bool = False,
) -> None:
    """Write one table as ``<stem>.gpkg`` (layer ``stem``), ``.csv`` + ``.csvt``, ``.parquet``.

    With ``with_regions`` (a zonal table with ``landuse`` and ``scenario`` rows) the
    GeoPackage also gets layer ``regions`` (:func:`~soilmap.outputs.regions.regions_layer`),
    drawn by potential per hectare of region in quantile classes and labelled with
    region names; layer ``stem`` is then drawn by the same quantity on its ``all``
    rows of the first scenario (one polygon per region, not one per row).
    """

    def gpkg() -> None:
        path = stage.path(f"{stem}.gpkg")
        write_table = functools.partial(
            write_gpkg, table, path, layer=stem, metadata=dict(metadata), units=units
        )
        if not with_regions:
            write_table(style_column=style_column)
            return
        first = str(table["scenario"].iloc[0])
        rows = (table["landuse"] == "all") & (table["scenario"] == first)
        quoted = first.replace("'", "''")
        write_table(
            style_expression=(
                f"CASE WHEN \"landuse\" = 'all' AND \"scenario\" = '{quoted}' "
                'THEN "sequestration_t_per_yr" / "region_area_ha" END'
            ),
            style_values=table.loc[rows, "sequestration_t_per_yr"]
            / table.loc[rows, "region_area_ha"],
            style_unit=intensive_unit(units),
        )
        wide = regions_layer(table)
        style = next(c for c in wide.columns if c.startswith(INTENSIVE))
        write_gpkg(
            wide,
            path,
            layer="regions",
            metadata=dict(metadata),
            units=regions_units(wide, units),
            style_column=style,
            label_field="region_name",
        )

    writers: dict[str, Callable[[], Any]] = {
        "gpkg": gpkg,
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
