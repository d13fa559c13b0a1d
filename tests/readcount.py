"""Count how many times each cell of each input raster is read (rasterio reads)."""

from __future__ import annotations

import numpy as np
import rasterio


def count_cell_reads(monkeypatch) -> dict[str, np.ndarray]:
    """From now on, add 1 to every cell of a file each time a read covers it.

    Returns ``{dataset name: counts}`` (one ``int32`` array of the raster's shape per
    file read), filled as reads happen.  Every read soilmap makes of an input is a
    ``DatasetReader.read`` (the plausibility sample's and the lazy pass's alike); what
    GDAL decodes for the nodata mask of that read is not counted separately.
    """
    counts: dict[str, np.ndarray] = {}
    original = rasterio.io.DatasetReader.read

    def counting(self, *args, **kwargs):
        c = counts.setdefault(self.name, np.zeros(self.shape, np.int32))
        w = kwargs.get("window")
        if w is None:
            c += 1
        else:
            r0, c0 = int(w.row_off), int(w.col_off)
            c[r0 : r0 + int(w.height), c0 : c0 + int(w.width)] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", counting)
    return counts
