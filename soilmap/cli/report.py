"""``soilmap report OUT_DIR``: rebuild ``report.html`` and ``figures/`` of a result folder."""

from __future__ import annotations

from pathlib import Path

import click

from soilmap.report import write_report


@click.command("report")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.pass_context
def command(ctx: click.Context, out_dir: Path) -> None:
    """Rebuild OUT_DIR/report.html (maps, charts, the answer) from the files of a run.

    Reads run.json, the zonal table and the rasters' overviews (never the full rasters);
    the figures are embedded in the page and also written to OUT_DIR/figures/.
    """
    written = write_report(out_dir)
    if not (ctx.find_root().obj or {}).get("quiet", False):
        click.echo(f"wrote {written[0]} and {len(written) - 1} figures in {out_dir / 'figures'}")
