"""Interrupted runs: what is kept, ``--resume``, stale staging folders, kill -9.

A resumed run must give the files an uninterrupted run gives, bit for bit but for
the times written into them (:func:`soilmap.testing.result_digests`: raster
history tags, GeoPackage and report times blanked, ``run.json`` without its
timings), and must not read the input blocks of the windows it had finished.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from readcount import count_cell_reads
from tiny import make_tiny, run_subprocess, staging_left

from soilmap.cli.main import RunInterruptedError
from soilmap.config import load_config
from soilmap.errors import InputError
from soilmap.io.staging import OutputStage, stale_stages
from soilmap.pipeline import execute as execute_module
from soilmap.pipeline.journal import JOURNAL_NAME, Journal
from soilmap.pipeline.run import run
from soilmap.testing import result_digests


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The tiny inputs (4 windows of 4 chunks) and the digests of an uninterrupted run."""
    d = tmp_path_factory.mktemp("tiny")
    cfg = make_tiny(d)
    run(load_config(cfg).with_output(d / "ref"), progress=False)
    return cfg, result_digests(d / "ref")


def _interrupt_after(monkeypatch, windows: int, exc: BaseException) -> None:
    """Make the run stop (as a signal would) once ``windows`` windows are journaled."""
    original = Journal.record_window

    def record(self, done, totals, flush=()):
        original(self, done, totals, flush)
        if done == windows:
            raise exc

    monkeypatch.setattr(Journal, "record_window", record)


def _count_stock_reads(monkeypatch) -> list[tuple[int, int]]:
    """(row_off, col_off) of every block of stock.tif read while windows are computed."""
    import rasterio

    reads: list[tuple[int, int]] = []
    counting = [False]
    original_read = rasterio.io.DatasetReader.read
    original_windows = execute_module._compute_windows

    def read(self, *args, **kwargs):
        w = kwargs.get("window")
        if counting[0] and self.name.endswith("stock.tif") and w is not None:
            (r, _), (c, _) = w if isinstance(w, tuple) else w.toranges()
            reads.append((int(r), int(c)))
        return original_read(self, *args, **kwargs)

    def compute_windows(*args, **kwargs):
        counting[0] = True
        try:
            return original_windows(*args, **kwargs)
        finally:
            counting[0] = False

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", read)
    monkeypatch.setattr(execute_module, "_compute_windows", compute_windows)
    return reads


def _interrupted(monkeypatch, cfg, out: Path, windows: int, exc: BaseException) -> Path:
    """Run until ``exc`` after ``windows`` windows; the staging folder it keeps (if any)."""
    with monkeypatch.context() as m:
        _interrupt_after(m, windows, exc)
        with pytest.raises(KeyboardInterrupt) as info:
            run(cfg.with_output(out), progress=False)
    assert not (out / "run.json").exists()
    left = staging_left(out)
    info.value.staging = [out / n for n in left]  # type: ignore[attr-defined]
    _interrupted.note = getattr(info.value, "soilmap_note", "")  # type: ignore[attr-defined]
    return out / left[0] if left else out


def test_sigterm_keeps_the_windows_and_resume_is_bit_identical(tiny, tmp_path, monkeypatch):
    cfg_path, ref = tiny
    cfg = load_config(cfg_path)
    out = tmp_path / "out"
    stage = _interrupted(monkeypatch, cfg, out, 2, RunInterruptedError(signal.SIGTERM))
    note = _interrupted.note  # type: ignore[attr-defined]
    assert stage.name.startswith(".soilmap-staging-")
    assert "2 of 4 windows finished kept in" in note and "--resume" in note
    journal = Journal.load(stage)
    assert journal is not None and journal.done == 2 and len(journal.windows) == 4
    done_windows = journal.windows[:2]

    reads = _count_stock_reads(monkeypatch)
    cells = count_cell_reads(monkeypatch)  # the plausibility sample's reads too
    run(cfg.with_output(out), progress=False, resume=True)
    assert result_digests(out) == ref
    assert staging_left(out) == []
    # The windows' pass read no block of the two finished windows, and none twice.
    assert len(reads) == len(set(reads))
    for r, c in reads:
        assert not any(r0 <= r < r1 and c0 <= c < c1 for r0, r1, c0, c1 in done_windows)
    # The unit check's sample (before the pass) read this small raster whole, and the
    # pass took the cells of the two unfinished windows from it: over the resumed run,
    # every cell of stock.tif was read once.
    assert (cells[str(cfg_path.parent / "stock.tif")] == 1).all()


def test_ctrl_c_removes_the_staging_folder(tiny, tmp_path, monkeypatch):
    cfg = load_config(tiny[0])
    out = tmp_path / "out"
    _interrupted(monkeypatch, cfg, out, 1, KeyboardInterrupt())
    assert staging_left(out) == []
    assert _interrupted.note == "its staging folder was removed"  # type: ignore[attr-defined]
    assert not out.exists()  # the run made the folder: it is gone with the run


def test_resume_refused_when_an_input_changed(tmp_path, monkeypatch, caplog):
    d = tmp_path / "in"
    cfg_path = make_tiny(d)
    cfg = load_config(cfg_path)
    out = tmp_path / "out"
    stage = _interrupted(monkeypatch, cfg, out, 1, RunInterruptedError(signal.SIGHUP))
    st = os.stat(d / "stock.tif")
    os.utime(d / "stock.tif", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(InputError, match=r"cannot be continued.*stock\.tif.*mtime_ns") as info:
        run(cfg.with_output(out), progress=False, resume=True)
    assert "without --resume" in str(info.value)
    assert stage.exists()  # kept: the user may restore the file
    # Without --resume the stale folder is removed, and the log says so.
    run(cfg.with_output(out), progress=False)
    assert "removed the staging folder of an interrupted run" in caplog.text
    assert str(stage) in caplog.text and "1 of 4 windows finished" in caplog.text
    assert staging_left(out) == []
    assert (out / "run.json").exists()


def test_resume_refused_when_the_configuration_changed(tiny, tmp_path, monkeypatch):
    cfg = load_config(tiny[0])
    out = tmp_path / "out"
    _interrupted(monkeypatch, cfg, out, 1, RunInterruptedError(signal.SIGTERM))
    other = cfg.with_flags(rate="0.005")
    with pytest.raises(InputError, match=r"cannot be continued.*rate.*0\.004.*0\.005"):
        run(other.with_output(out), progress=False, resume=True)


def test_resume_without_an_interrupted_run_starts_afresh(tiny, tmp_path, caplog):
    cfg_path, ref = tiny
    out = tmp_path / "out"
    run(load_config(cfg_path).with_output(out), progress=False, resume=True)
    assert "holds no interrupted run to continue" in caplog.text
    assert result_digests(out) == ref


def test_stale_folders_and_live_ones(tmp_path):
    """A folder without owner lock (older soilmap) is stale; one a live run holds is not."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".soilmap-staging-old").mkdir()
    (out / ".soilmap-staging-old" / ".x.blocks.tif").write_bytes(b"\0" * 1000)
    live = OutputStage(out, ["a.tif"], overwrite=False)
    found = stale_stages(out)
    assert [s.dir.name for s in found] == [".soilmap-staging-old"]
    assert found[0].owner == "unknown" and found[0].size == 1000
    live.abort()
    assert not live.dir.exists()


def _observe_and_kill(args: list[str], out: Path, at: int) -> int:
    """Start ``soilmap ARGS``, kill -9 it once its journal records ``at`` windows."""
    code = "from soilmap.cli.main import cli; cli()"
    p = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    done = 0
    while p.poll() is None:
        for j in out.glob(f".soilmap-staging-*/{JOURNAL_NAME}"):
            try:
                done = json.loads(j.read_text())["done"]
            except (OSError, ValueError):
                continue
        if done >= at:
            p.kill()
            break
        time.sleep(0.005)
    p.wait()
    assert p.returncode == -signal.SIGKILL, p.stderr.read() if p.stderr else ""
    return done


@pytest.mark.parametrize("resume", [True, False], ids=["resume", "no-resume"])
def test_kill_9_then_rerun(tmp_path, resume):
    """kill -9 at a journal-observed window: --resume is bit-identical; else removed."""
    cfg = make_tiny(tmp_path / "in", chunk=50)  # 64 chunks, 16 windows on 2 cores
    ref = tmp_path / "ref"
    run(load_config(cfg).with_output(ref), progress=False)
    out = tmp_path / "out"
    done = _observe_and_kill(["-q", "run", str(cfg), "--out", str(out)], out, 3 if resume else 5)
    assert done >= 3
    [stage] = staging_left(out)
    r = run_subprocess("run", cfg, "--out", out, *(["--resume"] if resume else []))
    assert r.returncode == 0, r.stderr
    if resume:
        assert "resuming the interrupted run" in r.stderr
        assert f"{done} of " in r.stderr
    else:
        assert "removed the staging folder of an interrupted run" in r.stderr
        assert stage in r.stderr and "--resume" in r.stderr
    assert staging_left(out) == []
    assert result_digests(out) == result_digests(ref)


@pytest.mark.parametrize("recorded", [True, False], ids=["cog-journaled", "cog-not-journaled"])
def test_stopped_while_finishing_cogs(tiny, tmp_path, monkeypatch, recorded):
    """A signal once the first COG is written: journaled, or written but not journaled."""
    cfg_path, ref = tiny
    cfg = load_config(cfg_path)
    out = tmp_path / "out"
    original = Journal.record_cog
    calls = []

    def record_cog(self, stem):
        calls.append(stem)
        if recorded or len(calls) > 1:
            original(self, stem)

    def progress(event):
        # Where a signal lands: the main thread, waiting for the COGs.
        if event.stage == "write" and event.done == 1:
            raise RunInterruptedError(signal.SIGTERM)

    with monkeypatch.context() as m:
        m.setattr(Journal, "record_cog", record_cog)
        with pytest.raises(KeyboardInterrupt):
            run(cfg.with_output(out), progress=progress)
    [stage] = staging_left(out)
    journal = Journal.load(out / stage)
    assert journal is not None and journal.done == len(journal.windows) == 4
    # The COGs queued behind the ones in progress were cancelled.
    assert (1 if recorded else 0) <= len(journal.cogs) < 5
    assert list((out / stage).glob("*.tif"))  # at least one COG was written
    reads = _count_stock_reads(monkeypatch)
    run(cfg.with_output(out), progress=False, resume=True)
    assert reads == []  # every window was done: no input block read again
    assert result_digests(out) == ref
    assert staging_left(out) == []


@pytest.mark.parametrize("stage", ["tables", "report"])
def test_stopped_while_writing_tables_or_report(tiny, tmp_path, stage):
    """Files written after the last journal record (tables, report) are made again."""
    cfg_path, ref = tiny
    cfg = load_config(cfg_path)
    out = tmp_path / "out"

    def progress(event):
        if event.stage == stage:
            raise RunInterruptedError(signal.SIGHUP)

    with pytest.raises(KeyboardInterrupt):
        run(cfg.with_output(out), progress=progress)
    [left] = staging_left(out)
    assert (out / left / "zonal_stats.gpkg").exists()  # written before the signal
    run(cfg.with_output(out), progress=False, resume=True)
    assert result_digests(out) == ref
    assert staging_left(out) == []
