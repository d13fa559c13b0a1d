"""An unexpected exception: one line, the traceback saved to a file, the project's report URL."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from click.testing import CliRunner

from soilmap.cli import run as run_cmd
from soilmap.cli.main import ISSUES_URL, _issues_url, cli

REPO = Path(__file__).resolve().parents[2]


def test_report_url_is_the_projects(tmp_path, monkeypatch):
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Issues"] == ISSUES_URL == _issues_url()

    def broken(cfg, progress=False, resume=False):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(run_cmd, "run_pipeline", broken)
    r = CliRunner().invoke(
        cli, ["run", "--soc", str(tmp_path / "s.tif"), "--soc-units", "t C ha-1", "--out", "o"]
    )
    assert r.exit_code == 4
    assert "Traceback" not in r.stderr
    [line] = [ln for ln in r.stderr.splitlines() if ln.startswith("Error: ")]
    assert "internal error: ZeroDivisionError: a bug" in line and urls["Issues"] in line
    saved = Path(re.search(r"traceback is in (\S+) ", line).group(1))
    assert "ZeroDivisionError: a bug" in saved.read_text() and "Traceback" in saved.read_text()
    saved.unlink()
