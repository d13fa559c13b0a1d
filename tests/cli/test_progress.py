"""Progress as events: the library callback and the ``--progress json`` stream."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from soilmap.config import load_config
from soilmap.pipeline.run import run
from soilmap.progress import STAGES, ProgressEvent


def _check_stream(events: list[ProgressEvent]) -> None:
    stages = [e.stage for e in events]
    assert set(stages) <= set(STAGES)
    # Stages come in order, each once as a block.
    order = list(dict.fromkeys(stages))
    assert order == [s for s in STAGES if s in order]
    assert order[0] == "open" and order[-1] == "done"
    for stage in ("compute", "write"):
        steps = [e for e in events if e.stage == stage]
        assert steps, stage
        assert [e.done for e in steps] == list(range(1, len(steps) + 1))
        assert all(e.total == len(steps) for e in steps)


def test_run_reports_every_window_and_file_to_a_callback(sample_dir, tmp_path):
    events: list[ProgressEvent] = []
    cfg = load_config(sample_dir / "tigray.toml").with_output(tmp_path / "out")
    result = run(cfg, progress=events.append)
    _check_stream(events)
    written = [e for e in events if e.stage == "write"]
    assert written[-1].total == len(list(result.out_dir.glob("*.tif")))


def _soilmap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "soilmap", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.realdata
def test_progress_json_is_one_object_per_line_on_stdout(sample_dir, tmp_path):
    done = _soilmap(
        "run", str(sample_dir / "tigray.toml"), "--out", str(tmp_path / "o"), "--progress", "json"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    events = [ProgressEvent(**json.loads(line)) for line in lines]  # nothing else on stdout
    _check_stream(events)
    assert "wrote" in done.stderr  # the human summary moved to stderr


def test_progress_json_reports_an_error_as_an_event(tmp_path):
    done = _soilmap(
        "run",
        "--soc",
        str(tmp_path / "missing.tif"),
        "--soc-units",
        "t C ha-1",
        "--regions",
        str(tmp_path / "r.gpkg"),
        "--region-id",
        "ID",
        "--out",
        str(tmp_path / "o"),
        "--progress",
        "json",
    )
    assert done.returncode == 1
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["stage"] == "error"
    assert "missing.tif" in last["message"]
    assert "Traceback" not in done.stderr
