"""The switch from the earlier result to the new one: one step, nothing stale, user files kept."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from tiny import make_tiny, run_cli, staging_left

from soilmap.io import switch
from soilmap.io.staging import LOCK_NAME, OutputStage, output_lock
from soilmap.io.switch import FILES_NAME, switch_in

NAMES = ["a.tif", "a.qml", "run.json", "figures/map.png"]


def _earlier(out: Path, names=NAMES, version: str = "old") -> None:
    for n in names:
        (out / n).parent.mkdir(parents=True, exist_ok=True)
        (out / n).write_text(version)
    (out / FILES_NAME).write_text(json.dumps(sorted(names)))


def _user_files(out: Path) -> None:
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "deep.csv").write_text("1,2")
    (out / "figures" / "my_own.png").write_text("mine too")
    (out / "link").symlink_to("notes.txt")


def _stage(out: Path, names, version: str = "new") -> OutputStage:
    stage = OutputStage(out, names, overwrite=True)
    for n in names:
        stage.path(n).parent.mkdir(parents=True, exist_ok=True)
        stage.path(n).write_text(version)
    return stage


def _check(out: Path, new: list[str]) -> None:
    for n in new:
        assert (out / n).read_text() == "new", n
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "mine" / "deep.csv").read_text() == "1,2"
    assert (out / "figures" / "my_own.png").read_text() == "mine too"
    assert os.readlink(out / "link") == "notes.txt"
    assert json.loads((out / FILES_NAME).read_text()) == sorted(new)
    assert staging_left(out) == []
    assert not [p for p in out.parent.iterdir() if "soilmap-new" in p.name]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "file-by-file"])
def test_overwrite_drops_the_earlier_runs_other_files_and_keeps_the_users(
    tmp_path, monkeypatch, exchange
):
    out = tmp_path / "out"
    out.mkdir()
    _earlier(out, [*NAMES, "gain_2030.tif", "gain_2030.qml"])
    _user_files(out)
    if not exchange:
        monkeypatch.setattr(switch, "_can_exchange", lambda _out: False)
    new = ["a.tif", "a.qml", "run.json", "figures/map.png", "gain_2040.tif"]
    with output_lock(out) as lock:
        stage = _stage(out, new)
        written = switch_in(stage, lock)
        # The lock file is held all along: another run is refused, also after the swap.
        assert (out / LOCK_NAME).exists()
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(new)
    assert not (out / "gain_2030.tif").exists() and not (out / "gain_2030.qml").exists()
    _check(out, new)
    assert not (out / LOCK_NAME).exists()


def test_a_reader_never_sees_a_mix(tmp_path):
    """A reader holding the folder open sees all-old or all-new files, never both."""
    out = tmp_path / "out"
    out.mkdir()
    names = [f"f{i}.tif" for i in range(30)]
    _earlier(out, names)
    seen: list[set[str]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                fd = os.open(out, os.O_RDONLY)
            except FileNotFoundError:
                seen.append({"folder missing"})
                continue
            try:
                versions = set()
                for n in names:
                    try:
                        with open(os.open(n, os.O_RDONLY, dir_fd=fd)) as f:
                            versions.add(f.read())
                    except FileNotFoundError:
                        versions.add("missing")
                seen.append(versions)
            finally:
                os.close(fd)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(5):
            with output_lock(out) as lock:
                switch_in(_stage(out, names, "new"), lock)
            with output_lock(out) as lock:
                switch_in(_stage(out, names, "old"), lock)
    finally:
        stop.set()
        t.join()
    assert len(seen) > 10
    # "missing": the reader held the replaced folder while it was being removed.
    assert not [v for v in seen if {"old", "new"} <= v]
    assert {"old"} in seen and {"new"} in seen


def test_cli_overwrite_with_other_horizons(tmp_path):
    """The issue's case: gain_2030.tif of the earlier run is gone after --overwrite."""
    cfg = make_tiny(tmp_path / "in")
    out = tmp_path / "out"
    assert run_cli("-q", "run", cfg, "--out", out).exit_code == 0
    assert (out / "gain_2030.tif").exists()
    (out / "my_notes.txt").write_text("kept")
    r = run_cli("-q", "run", cfg, "--out", out, "--overwrite", "--horizon", "2040")
    assert r.exit_code == 0, r.stderr
    assert not (out / "gain_2030.tif").exists() and not (out / "gain_2030.qml").exists()
    assert (out / "gain_2040.tif").exists()
    assert (out / "my_notes.txt").read_text() == "kept"
    assert json.loads((out / "run.json").read_text())["parameters"]["scenarios"][0]["horizons"] == [
        2040
    ]
    assert staging_left(out) == []
