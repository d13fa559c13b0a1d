"""``soilmap zonal``: exact zonal statistics of any single-band raster with a unit."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from soilmap.cli.file_options import input_option, out_options
from soilmap.cli.options import duplicate_ids_option, regions_crs_option
from soilmap.zonal.files import zonal_statistics_to_file


@click.command("zonal")
@click.argument("rasters", nargs=-1, required=True, type=click.Path(path_type=Path))
@input_option("--regions", "Region polygons (any vector format, any CRS).")
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
@out_options(folder=False)
@click.option("--style-column", help="Column the GeoPackage's default QGIS style is graduated by.")
def command(
    rasters: tuple[Path, ...],
    regions: Path,
    region_id: str | None,
    region_name: str | None,
    regions_layer: str | None,
    regions_crs: str | None,
    invalid: Literal["repair", "error"],
    duplicate_ids: Literal["error", "suffix", "dissolve"],
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
    table, report = zonal_statistics_to_file(
        rasters,
        regions,
        out,
        region_id=region_id,
        region_name=region_name,
        regions_layer=regions_layer,
        regions_crs=regions_crs,
        invalid=invalid,
        duplicate_ids=duplicate_ids,
        landuse=landuse,
        units=units,
        overwrite=overwrite,
        style_column=style_column,
    )
    for rid, why in zip(report.repaired, report.invalid_reasons, strict=True):
        click.echo(f"repaired invalid geometry of region {rid}: {why}", err=True)
    if not (click.get_current_context().find_root().obj or {}).get("quiet"):
        click.echo(f"wrote {len(table)} rows to {out}")
