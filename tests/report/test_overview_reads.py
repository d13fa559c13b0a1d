"""The report reads the rasters' overviews, never their full-resolution tiles (bytes counted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.transform import Affine

from soilmap.outputs.cog import overview_count
from soilmap.report import write_report
from soilmap.testing import count_tiff_reads

MAPS = ("soc_stock.tif", "landuse.tif", "sequestration_rate.tif")
SCALE = 6  # 372 x 349 cells become 2232 x 2094: 4.7e6 cells, 4 overview levels


def _upsampled_cog(src_path: Path, dst: Path) -> None:
    """``src_path`` at SCALE x the resolution, written as a run writes its COGs."""
    with rasterio.open(src_path) as src:
        shape = (src.height * SCALE, src.width * SCALE)
        data = src.read(1, out_shape=shape, resampling=Resampling.nearest)
        profile = src.profile | {
            "driver": "GTiff",
            "height": shape[0],
            "width": shape[1],
            "transform": src.transform @ Affine.scale(1 / SCALE),
            "tiled": True,
            "blockxsize": 512,
            "blockysize": 512,
            "compress": "none",
        }
        colormap = src.colormap(1) if src.colorinterp[0].name == "palette" else None
        tags, band_tags, unit, desc = src.tags(), src.tags(1), src.units[0], src.descriptions[0]
    tmp = dst.with_suffix(".scratch.tif")
    with rasterio.open(tmp, "w", **profile) as out:
        out.write(data, 1)
        out.update_tags(**tags)
        out.update_tags(1, **band_tags)
        out.set_band_unit(1, unit)
        out.set_band_description(1, desc)
        if colormap:
            out.write_colormap(1, colormap)
    levels = [2**i for i in range(1, overview_count(shape) + 1)]
    resampling = Resampling.mode if colormap else Resampling.average
    with rasterio.open(tmp, "r+") as scratch:
        scratch.build_overviews(levels, resampling)
    rasterio.shutil.copy(tmp, dst, driver="COG", compress="DEFLATE", overviews="AUTO")
    tmp.unlink()


def test_report_reads_overviews_only(sample_run, tmp_path):
    folder = tmp_path / "big"
    shutil.copytree(sample_run.out_dir, folder)
    for name in MAPS:
        _upsampled_cog(sample_run.out_dir / name, folder / name)
    with rasterio.open(folder / "soc_stock.tif") as src:
        assert src.width * src.height > 4.6e6 and src.overviews(1) == [2, 4, 8, 16]

    with count_tiff_reads() as reads:
        write_report(folder)

    assert {Path(p).name for p in reads} == set(MAPS)
    for path, r in reads.items():
        # No byte of a full-resolution tile; the overview level GDAL picks (2x, 1.2e6
        # cells, about the report's 1e6-cell map) is at most a third of the file.
        assert r.full_resolution == 0, path
        assert 0 < r.overviews < r.size / 3, (path, r.overviews, r.size)
    # The figures still show the data: the map of the stock is not blank.
    png = (folder / "figures" / "map_soc_stock.png").read_bytes()
    assert len(png) > 20_000 and np.frombuffer(png[:8], "uint8").tolist()[1:4] == [80, 78, 71]
