"""Two runs into one folder at once: one succeeds, the other fails at once with OutputBusyError.

``benchmarks/concurrent_runs.py`` repeats this 20 times and times the loser.
"""

from __future__ import annotations

import pytest
from tiny import make_tiny, one_line_error, staging_left
from two_runs import race, startup_s

from soilmap.testing import result_digests


@pytest.mark.parametrize("trial", [1, 2])
def test_two_runs_into_one_folder(tmp_path, trial):
    cfg = make_tiny(tmp_path / "in")
    out = tmp_path / "out"
    floor = startup_s()
    a, b = race(cfg, out)
    winner, loser = (a, b) if a["exit"] == 0 else (b, a)
    assert winner["exit"] == 0, winner["stderr"]
    assert loser["exit"] == 3, loser["stderr"]
    one_line_error(loser["stderr"], "OutputBusyError", str(out), "PID", "started", "--out")
    # Refused when it tries the lock, not after the other run: the interpreter, the
    # imports and the config are all it spent (the benchmark measures the rest).
    assert loser["s"] < winner["s"]
    assert loser["s"] < floor + 30  # the two start together: each gets half the cores
    assert 0 <= loser["refused_after_s"] < 1
    assert staging_left(out) == []
    assert result_digests(out)["run.json"]
