"""``soilmap zonal``: exact zonal statistics of any single-band raster with a unit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import dask.array as dsa
import numpy as np
import rioxarray
import xarray as xr

from soilmap.cli.options import duplicate_ids_option, regions_crs_option
from soilmap.errors import InputError, OutputExistsError
from soilmap.io.raster import open_raster, read_layout, tile_aligned_chunks
from soilmap.io.staging import OutputStage
from soilmap.io.vector import read_regions, write_table
from soilmap.landuse import NODATA_CODE
from soilmap.zonal import zonal_statistics

_SUFFIXES = (".gpkg", ".csv", ".parquet", ".geoparquet")


def landuse_codes(path: Path) -> dict[str, int]:
    """Group name → class code of a soilmap ``landuse.tif``.

    Read from the paletted ``<stem>.qml`` style soilmap writes beside it, else from
    the ``run.json`` of the same folder.

    Raises
    ------
    soilmap.errors.InputError
        If neither tells the codes.
    """
    qml = path.with_suffix(".qml")
    if qml.exists():
        entries = ET.parse(qml).getroot().iter("paletteEntry")
        codes = {e.get("label", ""): int(e.get("value", "0")) for e in entries}
        if codes:
            return codes
    manifest = path.parent / "run.json"
    if manifest.exists():
        codes = json.loads(manifest.read_text()).get("landcover", {}).get("group_codes")
        if codes:
            return {str(k): int(v) for k, v in codes.items()}
    raise InputError(
        f"land use {str(path)!r}: cannot tell which group each class code is (no "
        f"{qml.name} style or run.json beside it). Pass the landuse.tif of a soilmap run "
        "with its .qml, or a multi-band raster of group fractions (one band per group, "
        "band descriptions = group names)."
    )


def _class_fractions(codes: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    return np.stack([(codes == v).astype("float32") for v in values])


def open_landuse(path: Path, chunks: tuple[int, int] | None = None) -> xr.DataArray:
    """Land-use group fractions ``("group", "y", "x")`` from a fractions or class raster.

    A multi-band raster holds one group fraction (0–1) per band, named by the band
    descriptions; a single-band integer raster holds soilmap group codes (see
    :func:`landuse_codes`).  Lazy.
    """
    layout = read_layout(path, what="land use")
    chunks = chunks or tile_aligned_chunks(layout.block_shape, layout.grid.shape)
    da = rioxarray.open_rasterio(
        path, chunks={"band": -1, "y": chunks[0], "x": chunks[1]}, masked=False, lock=False
    )
    if layout.count > 1:
        names = da.attrs.get("long_name")
        names = list(names) if isinstance(names, tuple) else []
        if len(names) != layout.count or len(set(names)) != layout.count:
            names = [f"band{i + 1}" for i in range(layout.count)]
        frac = da.astype("float32")
        if layout.nodata is not None:
            frac = frac.where(da != layout.nodata)
        return frac.rename(band="group").assign_coords(group=names)
    if not np.issubdtype(np.dtype(layout.dtype), np.integer):
        raise InputError(
            f"land use {str(path)!r} is one band of {layout.dtype}: pass soilmap's landuse.tif "
            "(integer group codes) or a multi-band raster of group fractions."
        )
    codes = landuse_codes(path)
    codes = {g: c for g, c in codes.items() if c != NODATA_CODE}
    data = da.isel(band=0, drop=True).data
    values = tuple(codes.values())
    frac = dsa.map_blocks(
        _class_fractions,
        data,
        values,
        new_axis=0,
        chunks=((len(values),), *data.chunks),
        dtype="float32",
    )
    coords = {"group": list(codes), "y": da["y"], "x": da["x"], "spatial_ref": da["spatial_ref"]}
    return xr.DataArray(frac, dims=("group", "y", "x"), coords=coords)


def _layer_names(paths: tuple[Path, ...]) -> list[str]:
    names: list[str] = []
    for p in paths:
        name, k = p.stem, 2
        while name in names:
            name, k = f"{p.stem}_{k}", k + 1
        names.append(name)
    return names


@click.command("zonal")
@click.argument("rasters", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--regions",
    required=True,
    type=click.Path(path_type=Path),
    help="Region polygons (any vector format, any CRS).",
)
@click.option("--region-id", help="Field with a unique region id [default: the feature id].")
@click.option("--region-name", help="Field with the region name.")
@click.option("--regions-layer", help="Layer of a multi-layer vector file.")
@regions_crs_option
@click.option(
    "--invalid",
    type=click.Choice(["repair", "error"]),
    default="repair",
    show_default=True,
    help="Invalid region geometries: repair (and report) or fail.",
)
@duplicate_ids_option()
@click.option(
    "--landuse",
    type=click.Path(path_type=Path),
    help="soilmap's landuse.tif (group codes) or a multi-band group-fraction raster, "
    "on the rasters' grid: rows per region x land-use group.",
)
@click.option("--units", help="Units of rasters that do not state theirs (e.g. 't C ha-1').")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Table to write: .gpkg, .csv (+ .csvt) or .parquet.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing table.")
@click.option("--style-column", help="Column the GeoPackage's default QGIS style is graduated by.")
def command(
    rasters: tuple[Path, ...],
    regions: Path,
    region_id: str | None,
    region_name: str | None,
    regions_layer: str | None,
    regions_crs: str | None,
    invalid: str,
    duplicate_ids: str,
    landuse: Path | None,
    units: str | None,
    out: Path,
    overwrite: bool,
    style_column: str | None,
) -> None:
    """Exact zonal statistics of RASTER(s) per region (and land-use group).

    Per-hectare rasters (units '... ha-1 ...', e.g. soilmap's soc_stock.tif) are
    totalled as the sum of value x true cell area (<name>_sum); every raster gets its
    area with data, area-weighted mean, min and max. Border cells count by the exact
    share inside each region; regions outside the raster are reported with area 0.
    """
    if out.suffix.lower() not in _SUFFIXES:
        raise InputError(f"--out {str(out)!r}: use a .gpkg, .csv or .parquet file name.")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists. Pass --overwrite to replace it.")
    names = _layer_names(rasters)
    layers = {
        n: open_raster(p, units=units if not read_layout(p).units else None, what="raster")
        for n, p in zip(names, rasters, strict=True)
    }
    fractions = open_landuse(landuse) if landuse is not None else None
    table_regions, report = read_regions(
        regions,
        id_field=region_id,
        name_field=region_name,
        layer=regions_layer,
        crs=regions_crs,
        invalid=invalid,  # type: ignore[arg-type]
        duplicate_ids=duplicate_ids,  # type: ignore[arg-type]
    )
    for rid, why in zip(report.repaired, report.invalid_reasons, strict=True):
        click.echo(f"repaired invalid geometry of region {rid}: {why}", err=True)
    table, col_units = zonal_statistics(
        layers, table_regions, fractions=fractions, what=repr(str(regions))
    )
    meta = {
        "software": "soilmap zonal",
        "rasters": "; ".join(str(p) for p in rasters),
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
    if not (click.get_current_context().find_root().obj or {}).get("quiet"):
        click.echo(f"wrote {len(table)} rows to {out}")
