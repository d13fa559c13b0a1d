"""Window reads: the rest of a window around kept cells, and the sample's cells reused."""

from __future__ import annotations

import numpy as np
import rasterio
from readcount import count_cell_reads

from soilmap.io.blocks import read_ahead, uncovered
from soilmap.io.raster import open_raster
from soilmap.testing import make_grid


def test_uncovered_tiles_the_rest_of_the_box():
    # A 4 x 4 box around a kept 2 x 2 square: a band above, two sides, a band below.
    assert sorted(uncovered((0, 4, 0, 4), [(1, 3, 1, 3)])) == [
        (0, 1, 0, 4),
        (1, 3, 0, 1),
        (1, 3, 3, 4),
        (3, 4, 0, 4),
    ]
    assert uncovered((0, 4, 0, 4), [(0, 4, 0, 4)]) == []
    assert uncovered((2, 5, 1, 3), []) == [(2, 5, 1, 3)]
    # Two kept blocks of a 6 x 9 box: every other cell once, in disjoint rectangles.
    kept = [(0, 2, 3, 6), (2, 6, 6, 9)]
    cells = np.zeros((6, 9), int)
    for r0, r1, c0, c1 in kept + uncovered((0, 6, 0, 9), kept):
        cells[r0:r1, c0:c1] += 1
    assert (cells == 1).all()


def test_the_pass_takes_the_cells_read_ahead(tmp_path, monkeypatch):
    """A 300 x 200 int16 raster in 64 x 64 tiles; 40 cells read ahead inside one tile
    (rows 70-75, columns 10-18): that tile is kept whole, and the pass over 100 x 100
    chunks reads every other cell once, and that tile's cells not again."""
    values = np.arange(300 * 200, dtype="int16").reshape(300, 200) % 1000
    values[0:5, :] = -1  # nodata
    grid = make_grid((300, 200), crs="EPSG:4326", res=0.01, origin=(0.0, 10.0))
    profile = dict(
        driver="GTiff", dtype="int16", count=1, crs="EPSG:4326", transform=grid.transform,
        width=200, height=300, tiled=True, blockxsize=64, blockysize=64, nodata=-1,
    )  # fmt: skip
    path = tmp_path / "soc.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    cells = count_cell_reads(monkeypatch)
    da = open_raster(path, units="t C ha-1", chunks=(100, 100))
    got, kept = read_ahead(str(path), (70, 75, 10, 18), keep_cells=64 * 64)
    np.testing.assert_array_equal(got, values[70:75, 10:18])
    assert kept == 64 * 64  # the tile of rows 64-128, columns 0-64
    (c,) = cells.values()
    assert c.sum() == 64 * 64 and (c[64:128, 0:64] == 1).all()
    out = da.compute().to_numpy()
    np.testing.assert_array_equal(out, np.where(values == -1, np.nan, values).astype("float32"))
    assert (c == 1).all()
