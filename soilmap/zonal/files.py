"""``soilmap zonal`` as a library call: zonal statistics of raster files into a table file.

:func:`zonal_statistics_to_file` opens the rasters (each at the io door, with its unit),
an optional land-use raster and the regions, computes
:func:`~soilmap.zonal.statistics.zonal_statistics` and writes the table atomically as
GeoPackage (with a default QGIS style), CSV (+ ``.csvt``) or Parquet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd

from soilmap.errors import InputError, OutputExistsError
from soilmap.io.raster import open_raster, read_layout
from soilmap.io.staging import OutputStage
from soilmap.io.vector import DuplicatePolicy, InvalidPolicy, RegionsReport, read_regions
from soilmap.landuse.fractions import open_landuse
from soilmap.outputs.tables import write_table
from soilmap.zonal.statistics import zonal_statistics

__all__ = ["TABLE_SUFFIXES", "check_table_out", "layer_names", "zonal_statistics_to_file"]

#: The table formats, by file name suffix.
TABLE_SUFFIXES = (".gpkg", ".csv", ".parquet", ".geoparquet")


def layer_names(paths: Sequence[Path]) -> list[str]:
    """Column prefixes: each file's stem, numbered when two files share one.

    >>> layer_names([Path("a/soc.tif"), Path("b/soc.tif"), Path("gain.tif")])
    ['soc', 'soc_2', 'gain']
    """
    names: list[str] = []
    for p in paths:
        name, k = p.stem, 2
        while name in names:
            name, k = f"{p.stem}_{k}", k + 1
        names.append(name)
    return names


def zonal_statistics_to_file(
    rasters: Sequence[str | os.PathLike],
    regions: str | os.PathLike,
    out: str | os.PathLike,
    *,
    region_id: str | None = None,
    region_name: str | None = None,
    regions_layer: str | None = None,
    regions_crs: str | None = None,
    invalid: InvalidPolicy = "repair",
    duplicate_ids: DuplicatePolicy = "error",
    landuse: str | os.PathLike | None = None,
    units: str | None = None,
    overwrite: bool = False,
    style_column: str | None = None,
) -> tuple[gpd.GeoDataFrame, RegionsReport]:
    """Exact zonal statistics of raster files per region (and land-use group), to a file.

    Parameters
    ----------
    rasters : sequence of path-like
        Single-band rasters on one grid; per-hectare units (``... ha-1 ...``) are
        totalled with true cell areas (``<name>_sum``).
    regions : path-like
        Region polygons (any vector format, any CRS).
    out : path-like
        Table to write: ``.gpkg`` (layer ``zonal_stats``), ``.csv`` (+ ``.csvt``) or
        ``.parquet``.
    region_id, region_name, regions_layer, regions_crs, invalid, duplicate_ids
        As in :func:`soilmap.io.vector.read_regions`.
    landuse : path-like, optional
        soilmap's ``landuse.tif`` or a group-fraction raster on the rasters' grid.
    units : str, optional
        Units of the rasters that do not state theirs.
    overwrite : bool
        Replace an existing table.
    style_column : str, optional
        Column the GeoPackage's default style is graduated by (default: the first
        raster's total, else its mean).

    Returns
    -------
    table : geopandas.GeoDataFrame
    report : RegionsReport
        What was done to the regions (repaired geometries ...).

    Raises
    ------
    soilmap.errors.InputError
        An unknown table suffix, or unusable inputs.
    soilmap.errors.OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    out = check_table_out(out, overwrite)
    paths = [Path(p) for p in rasters]
    names = layer_names(paths)
    layers = {
        n: open_raster(p, units=units if not read_layout(p).units else None, what="raster")
        for n, p in zip(names, paths, strict=True)
    }
    fractions = open_landuse(Path(landuse)) if landuse is not None else None
    table_regions, report = read_regions(
        regions,
        id_field=region_id,
        name_field=region_name,
        layer=regions_layer,
        crs=regions_crs,
        invalid=invalid,
        duplicate_ids=duplicate_ids,
    )
    table, col_units = zonal_statistics(
        layers, table_regions, fractions=fractions, what=repr(str(regions))
    )
    meta = {
        "software": "soilmap zonal",
        "rasters": "; ".join(str(p) for p in paths),
        "regions": str(regions),
        "repaired_regions": ", ".join(report.repaired),
    }
    first = names[0]
    default_style = f"{first}_sum" if f"{first}_sum" in table.columns else f"{first}_mean"
    extra = [".csvt"] if out.suffix.lower() == ".csv" else []
    stage = OutputStage(out.parent, [out.name, *(out.stem + s for s in extra)], overwrite=True)
    with stage:
        write_table(
            table,
            stage.path(out.name),
            layer="zonal_stats",
            metadata=meta,
            units=col_units,
            style_column=style_column or default_style,
        )
        stage.commit()
    return table, report


def check_table_out(out: str | os.PathLike, overwrite: bool) -> Path:
    """``out`` as a path, once its suffix names a table format and it may be written.

    Raises
    ------
    soilmap.errors.InputError
        The suffix is not ``.gpkg``, ``.csv`` or ``.parquet``.
    soilmap.errors.OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    out = Path(out)
    if out.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"--out {str(out)!r}: use a .gpkg, .csv or .parquet file name.")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists. Pass --overwrite to replace it.")
    return out
