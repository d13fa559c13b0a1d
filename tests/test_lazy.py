"""The pipeline stays lazy until output, and the output compute reads each block once."""

from __future__ import annotations

import dask
import pytest

from soilmap.config import load_config
from soilmap.pipeline import plan
from soilmap.testing import DaskComputeError, raise_if_dask_computes


@pytest.mark.parametrize("chunks", [(64, 64), (110, 200), None])
def test_plan_computes_nothing(sample_dir, chunks):
    cfg = load_config(sample_dir / "tigray.toml")
    if chunks is not None:
        import dataclasses

        cfg = dataclasses.replace(cfg, chunks=chunks)
    with raise_if_dask_computes():
        p = plan(cfg)
        zonal = p.zonal()
        layers = list(p.layers.values())
    assert all(dask.is_dask_collection(lay) for lay in layers)
    assert dask.is_dask_collection(zonal)
    if chunks is not None:
        assert p.stock.chunks[0][0] == chunks[0]


def test_raise_if_dask_computes_catches_a_compute(sample_dir):
    p = plan(load_config(sample_dir / "tigray.toml"))
    with pytest.raises(DaskComputeError), raise_if_dask_computes():
        float(p.stock.mean())


def test_one_compute_reads_each_input_block_once(sample_dir, monkeypatch):
    """Count block reads of every input while all outputs are computed together."""
    import dataclasses

    import rasterio

    reads: dict[tuple, int] = {}
    original = rasterio.io.DatasetReader.read

    def counting_read(self, *args, **kwargs):
        window = kwargs.get("window")
        key = (self.name, str(window))
        reads[key] = reads.get(key, 0) + 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", counting_read)
    cfg = dataclasses.replace(load_config(sample_dir / "tigray.toml"), chunks=(110, 200))
    p = plan(cfg)
    outputs = [lay.data for lay in p.layers.values()]
    dask.compute(*outputs, p.zonal(), scheduler="threads")
    assert reads, "no reads were counted"
    assert max(reads.values()) == 1, {k: v for k, v in reads.items() if v > 1}
    # 9 input rasters x 4 x 2 chunks
    assert len(reads) == 9 * 8
