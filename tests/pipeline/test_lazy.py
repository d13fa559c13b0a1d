"""The pipeline stays lazy until output, and the output compute reads each block once."""

from __future__ import annotations

import dask
import pytest
from readcount import count_cell_reads

from soilmap.config import load_config
from soilmap.pipeline.plan import plan
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


def _count_reads(monkeypatch) -> dict:
    import rasterio

    reads: dict[tuple, int] = {}
    original = rasterio.io.DatasetReader.read

    def counting_read(self, *args, **kwargs):
        key = (self.name, str(kwargs.get("window")))
        reads[key] = reads.get(key, 0) + 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", counting_read)
    return reads


@pytest.mark.parametrize("scenarios", [1, 2])
def test_a_run_reads_each_input_block_once(sample_copy, tmp_path, monkeypatch, scenarios):
    """Count block reads of every input during a whole run (all outputs and tables)."""
    import dataclasses

    from soilmap.pipeline.run import run
    from soilmap.scenario.model import Scenario

    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "o")
    cfg = dataclasses.replace(cfg, chunks=(110, 200))
    if scenarios == 2:
        cfg = dataclasses.replace(
            cfg,
            scenarios=(
                Scenario(name="a"),
                Scenario(name="b", rate={"cropland": 0.006}, eligible=("cropland",)),
            ),
        )
    p = plan(cfg)  # the plausibility checks may read a sample before this point
    del p
    reads = _count_reads(monkeypatch)
    cells = count_cell_reads(monkeypatch)
    result = run(cfg, progress=False)
    inputs = {k: v for k, v in reads.items() if str(sample_copy) in k[0]}
    assert inputs, "no reads were counted"
    assert max(inputs.values()) == 1, {k: v for k, v in inputs.items() if v > 1}
    # The range check of every SOC layer was computed in that same pass (issue 13).
    ranges = result.manifest["value_checks"]["ranges"]
    assert len(ranges) == len(cfg.soc.content) + len(cfg.soc.bulk_density) > 0
    assert all(r["cells_outside_range"] == 0 for r in ranges)
    # The run's sample and its pass together read every cell of the run's window of
    # every input raster once: what the sample read, the pass took from memory.
    win = result.manifest["extent"]["window"]
    tifs = {name: c for name, c in cells.items() if str(sample_copy) in name}
    assert len(tifs) == 9
    for name, c in tifs.items():
        assert (c[win["row0"] : win["row1"], win["col0"] : win["col1"]] == 1).all(), name
        assert c.max() == 1, name
