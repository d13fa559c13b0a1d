"""``soilmap data``: the datasets of the registry: list them, describe one, fetch one."""

from __future__ import annotations

import json

import click

from soilmap.cli.options import show_progress
from soilmap.datasets import cache_dir, fetch, get_dataset, list_datasets, mirror_dir


@click.group("data")
def command() -> None:
    """Public datasets for the demo, tests and benchmarks: list, info, fetch.

    Files come from SOILMAP_DATA (a local mirror), the cache, or a checksum-verified
    download from their origin (or from SOILMAP_DATA_URL).
    """


@command.command("list")
def list_command() -> None:
    """List the datasets with their size and licence."""
    for name in list_datasets():
        ds = get_dataset(name)
        click.echo(f"{name:<22} {ds.size / 1e6:7.1f} MB  {len(ds.files):3d} files  {ds.title}")
    mirror = mirror_dir()
    click.echo(f"\nmirror (SOILMAP_DATA): {mirror if mirror else 'not set'}")
    click.echo(f"cache: {cache_dir()}")


@command.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
def info_command(name: str, as_json: bool) -> None:
    """Describe dataset NAME: source, licence, citation and every file."""
    ds = get_dataset(name)
    if as_json:
        click.echo(json.dumps(ds.describe(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{ds.name}: {ds.title}\n")
    click.echo(ds.description + "\n")
    click.echo(f"source:   {ds.source}")
    click.echo(f"licence:  {ds.licence}")
    click.echo(f"citation: {ds.citation}")
    click.echo(f"\n{len(ds.files)} files, {ds.size:,} bytes:")
    for f in ds.files:
        click.echo(f"  {ds.key(f)}  {f.size:,} B  sha256 {f.sha256[:16]}…  {f.url}")


@command.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def fetch_command(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Download (or find) the files of datasets NAMES and print where they are."""
    quiet = bool((ctx.find_root().obj or {}).get("quiet", False))
    for name in names:
        # pooch draws its own download bar: only the yes/no of --progress applies.
        paths = fetch(name, progress=show_progress(ctx) is not False)
        if not quiet:
            for key, path in paths.items():
                click.echo(f"{name}/{key}\t{path}")
