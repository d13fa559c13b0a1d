"""``soilmap zonal``: exact zonal statistics of any single-band raster with a unit."""

from __future__ import annotations

from pathlib import Path

import click

from soilmap.cli.options import duplicate_ids_option, regions_crs_option
from soilmap.errors import InputError, OutputExistsError
from soilmap.io.raster import open_raster, read_layout
from soilmap.io.staging import OutputStage
from soilmap.io.vector import read_regions
from soilmap.landuse.fractions import open_landuse
from soilmap.outputs.tables import write_table
from soilmap.zonal.statistics import zonal_statistics

_SUFFIXES = (".gpkg", ".csv", ".parquet", ".geoparquet")


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
