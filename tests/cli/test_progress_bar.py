"""The progress bar people see: on a real pseudo-terminal, silent with -q or off a
terminal, cells/s and ETA from the cell counts, a widget in a Jupyter kernel."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import click
import nbformat
import pytest
from nbclient import NotebookClient

from soilmap.cli.options import show_progress
from soilmap.progress import STAGES, ProgressEvent, progress_bar

SOILMAP = [sys.executable, "-m", "soilmap"]


def _on_pty(args: list[str], timeout: float = 600) -> tuple[int, str]:
    """Run a command with stdin/stdout/stderr on a 120 x 40 pseudo-terminal; its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.realdata
def test_a_run_on_a_terminal_shows_every_stage_then_the_summary(sample_dir, tmp_path):
    code, out = _on_pty([*SOILMAP, "run", str(sample_dir / "tigray.toml"), "--out", str(tmp_path)])
    assert code == 0, out
    # One bar per stage, in the order of the run, drawn in place (carriage returns).
    shown = [m.group(1) for m in re.finditer(r"\rsoilmap (\w+):", out)]
    stages = list(dict.fromkeys(shown))
    assert stages == [s for s in STAGES if s != "done"], stages
    # The compute bar counts the sample's 372 x 349 = 129,828 cells.
    assert re.search(r"soilmap compute: +\d+%\|.*\| [\d.]+k?/130k \[[\d:]+<[\d:?]+, .*cells/s", out)
    # The bars are cleared; the summary follows on its own lines.
    summary = out[out.index("wrote ") :]
    assert "\rsoilmap" not in summary and "every region, group and scenario" in summary


@pytest.mark.realdata
def test_quiet_on_a_terminal_prints_nothing(sample_dir, tmp_path):
    args = [*SOILMAP, "-q", "run", str(sample_dir / "tigray.toml"), "--out", str(tmp_path)]
    code, out = _on_pty(args)
    assert code == 0, out
    assert "soilmap compute" not in out and "\r" not in out.replace("\r\n", "")
    assert (tmp_path / "report.html").exists()


def test_bar_only_on_a_terminal_and_never_with_quiet(monkeypatch):
    root = click.Context(click.Command("soilmap"), obj={"quiet": False})

    def decision(tty: bool, quiet: bool = False, mode: str = "auto"):
        monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
        root.obj = {"quiet": quiet}
        ctx = click.Context(click.Command("run"), parent=root)
        ctx.meta["soilmap.progress"] = mode
        return show_progress(ctx)

    assert callable(decision(tty=True))
    assert decision(tty=False) is False  # a pipe, a log file, CI
    assert decision(tty=True, quiet=True) is False
    assert decision(tty=True, mode="none") is False
    assert callable(decision(tty=False, mode="bar"))


def test_bar_shows_cells_per_second_and_time_left():
    buf = io.StringIO()
    show = progress_bar(file=buf)
    show(ProgressEvent("open", 1, 1, "inputs"))
    t0 = time.monotonic()
    for n in range(1, 4):
        time.sleep(0.6)  # past tqdm's 0.5 s refresh interval
        show(ProgressEvent("compute", n, 4, "windows", cells=n * 250_000, cells_total=1_000_000))
    elapsed = time.monotonic() - t0
    lines = [s for s in buf.getvalue().split("\r") if s.startswith("soilmap compute")]
    last = lines[-1]
    m = re.search(
        r"(\d+)k/1\.00M \[(\d\d):(\d\d)<(\d\d):(\d\d), ([\d.]+)k cells/s, 3/4 windows\]", last
    )
    assert m, last
    done_k, rate_k = int(m.group(1)), float(m.group(6))
    left = 60 * int(m.group(4)) + int(m.group(5))
    assert done_k == 750
    # Rate ~ 750k cells in ~1.8 s; the time left is the last 250k cells at that rate.
    assert 750 / (elapsed + 0.5) < rate_k < 750 / (elapsed - 0.7)
    assert abs(left - 250 / rate_k) <= 1.0


def test_notebook_gets_a_widget_bar(tmp_path):
    """In a Jupyter kernel, ``tqdm.auto`` gives an ipywidgets bar, not text on stderr."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from soilmap.progress import ProgressEvent, in_notebook, resolve\n"
            "print('in notebook:', in_notebook())\n"
            "show = resolve(None)  # the default of soilmap.run(progress=None)\n"
            "for n in (1, 2):\n"
            "    show(ProgressEvent('compute', n, 2, 'windows', cells=50 * n, cells_total=100))\n"
        )
    ]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "in notebook: True" in text
    assert "IProgress not found" not in text and "soilmap compute" not in text
    widgets = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets, outputs
    assert "soilmap compute" in widgets[0]["data"]["text/plain"]


@pytest.mark.slow
def test_on_a_cluster_the_bar_names_it_and_counts_its_windows(sample_dir, tmp_path):
    """On a Dask cluster the windows are counted as they come back from the workers."""
    import dataclasses

    from soilmap.config import load_config
    from soilmap.pipeline.run import run

    cfg = load_config(sample_dir / "tigray.toml").with_output(tmp_path / "o")
    cfg = dataclasses.replace(cfg, workers=1, chunks=(128, 128))
    events: list[ProgressEvent] = []
    run(cfg, progress=events.append)
    compute = [e for e in events if e.stage == "compute"]
    assert compute[0].detail.startswith("local cluster of 1 processes")
    assert [e.done for e in compute] == list(range(1, len(compute) + 1)) and len(compute) > 1
    assert compute[-1].cells == compute[-1].cells_total == 372 * 349
    buf = io.StringIO()
    show = progress_bar(file=buf)
    for e in events:
        show(e)
    assert "soilmap compute: local cluster of 1 processes" in buf.getvalue()
