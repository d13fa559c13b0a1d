"""A disk that fills during an --overwrite run, on a real small tmpfs, beside an earlier result.

The earlier run fills part of the file system; it is then remounted with a little
more room than the earlier result takes (``remount,size=``), so the new run runs out
of space at different stages: the pre-check of the scratch files, or while the
scratch files are written (``tests/reliability/test_faults.py`` fills it later, in
the COGs and tables, on the sample).  Each time: ``OutputSpaceError`` naming the folder and the free
space, exit code 3, no traceback, no staging folder, and the earlier result
sha256-identical.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from tiny import make_tiny, one_line_error, run_subprocess, staging_left, tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize("room_kb", [600, 5200, 6100])
def test_disk_fills_beside_an_earlier_result(small_disk, tmp_path, room_kb):
    cfg = make_tiny(tmp_path / "in")
    out = small_disk / "out"
    r = run_subprocess("-q", "run", cfg, "--out", out)
    assert r.returncode == 0, r.stderr
    before = tree(out)
    used_kb = -(-shutil.disk_usage(small_disk).used // 1024)
    subprocess.run(
        ["mount", "-o", f"remount,size={used_kb + room_kb}k", str(small_disk)], check=True
    )
    r = run_subprocess("-q", "run", cfg, "--out", out, "--overwrite", "--horizon", "2040")
    assert r.returncode == 3, r.stderr
    one_line_error(r.stderr, "OutputSpaceError", str(out), "free", "--out")
    assert tree(out) == before
    assert staging_left(out) == []
    assert sorted(p.name for p in small_disk.iterdir()) == ["out"]
