"""``soilmap schemes``: list the land-cover class-table presets, or show one."""

from __future__ import annotations

import click

from soilmap.landuse.schemes import list_schemes, load_class_table


@click.command("schemes")
@click.argument("name", required=False)
def command(name: str | None) -> None:
    """List class-table presets, or show the table NAME (a preset or a .csv/.yaml file).

    Each land-cover code maps to a land-use group; the 4 per 1000 rate applies to the
    eligible groups (default: cropland, grassland, pasture, paddy, forest).
    """
    if name is None:
        for scheme in list_schemes():
            table = load_class_table(scheme)
            click.echo(f"{scheme:16s} {len(table.codes):3d} classes  {table.title}")
        click.echo("\nShow one with `soilmap schemes NAME`; pass it as --landcover-scheme NAME.")
        return
    table = load_class_table(name)
    click.echo(f"{table.name}: {table.title}")
    if table.reference:
        click.echo(f"legend: {table.reference}")
    if table.nodata:
        click.echo(f"nodata codes: {', '.join(map(str, table.nodata))}")
    ipcc = table.ipcc or ("",) * len(table.codes)
    click.echo(f"{'code':>6}  {'group':12s} {'IPCC category':13s} label")
    for code, group, cat, label in zip(table.codes, table.groups, ipcc, table.labels, strict=True):
        click.echo(f"{code:>6}  {group:12s} {cat:13s} {label}")
    for code, reason in table.ipcc_exceptions:
        click.echo(f"exception {code}: {reason}")
