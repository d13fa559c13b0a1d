"""``soilmap sample``: the value of rasters at points (soil profiles, plots)."""

from __future__ import annotations

import click

from soilmap.cli.file_options import input_option, out_options
from soilmap.zonal.points import sample_points_to_file


@click.command("sample")
@click.argument("rasters", nargs=-1, required=True, type=click.Path(path_type=str))
@input_option(
    "--points", "Points (any vector format, any CRS; a path, URL or /vsi* path).", path_type=str
)
@click.option("--id", "id_field", help="Field with each point's id [default: the feature id].")
@click.option("--points-layer", help="Layer of a multi-layer vector file.")
@click.option("--points-crs", help="CRS of a points file that has none (e.g. EPSG:4326).")
@click.option(
    "--landcover",
    type=click.Path(path_type=str),
    help="Land-cover class raster: adds each point's class code and land-use group.",
)
@click.option(
    "--landcover-scheme",
    help="Class-table preset (see `soilmap schemes`) or table file, for --landcover.",
)
@out_options(folder=False, path_type=str)
@click.pass_context
def command(
    ctx: click.Context,
    rasters: tuple[str, ...],
    points: str,
    id_field: str | None,
    points_layer: str | None,
    points_crs: str | None,
    landcover: str | None,
    landcover_scheme: str | None,
    out: str,
    overwrite: bool,
) -> None:
    """The value of each RASTER at each point (the cell the point falls in).

    Points outside a raster or on its nodata get an empty value and the status
    'outside' or 'nodata' in <raster>_status; none is dropped.
    """
    table = sample_points_to_file(
        rasters,
        points,
        out,
        id_field=id_field,
        points_layer=points_layer,
        points_crs=points_crs,
        landcover=landcover,
        landcover_scheme=landcover_scheme,
        overwrite=overwrite,
    )
    if not (ctx.find_root().obj or {}).get("quiet", False):
        stats = [c for c in table.columns if c.endswith("_status")]
        summary = ", ".join(
            f"{c[: -len('_status')]}: {int((table[c] == 'ok').sum())} ok" for c in stats
        )
        click.echo(f"wrote {len(table)} points to {out} ({summary})")
