"""Faults a user can cause end in one line naming the file and the fix: the CLI in a subprocess.

Each case asserts the error class, the exit code, that no traceback is printed,
that nothing is left behind, and that an earlier result is sha256-identical.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soilmap.io.staging import output_lock

SOILMAP = [sys.executable, "-m", "soilmap.cli.main"]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    code = "from soilmap.cli.main import cli; cli()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout
    )


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _one_line_error(r: subprocess.CompletedProcess, cls: str, *words: str) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    err = r.stderr.strip()
    assert f"Error: {cls}:" in err, err
    for w in words:
        assert w in err, (w, err)


def test_busy_output_folder_fails_at_once(sample_dir, tmp_path):
    out = tmp_path / "out"
    with output_lock(out):
        t0 = time.perf_counter()
        r = _cli("run", str(sample_dir / "tigray.toml"), "--out", str(out))
        took = time.perf_counter() - t0
    assert r.returncode == 3
    _one_line_error(r, "OutputBusyError", str(out), f"PID {os.getpid()}", "started", "--out")
    # Refused before any input is opened: only the interpreter's start-up.
    assert took < 15
    assert not out.exists()


def test_empty_out(sample_dir):
    r = _cli("run", str(sample_dir / "tigray.toml"), "--out", "")
    assert r.returncode == 2  # a usage error, not the config file's folder
    assert "Traceback" not in r.stderr and "output folder is empty" in r.stderr


def test_dangling_symlink_as_out(sample_dir, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing" / "target")
    r = _cli("run", str(sample_dir / "tigray.toml"), "--out", str(link))
    assert r.returncode == 3
    _one_line_error(r, "OutputPermissionError", "dangling symbolic link", "--out")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only tmpfs needs root")
def test_read_only_file_system(sample_dir, tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mnt)], check=True)
    try:
        r = _cli("run", str(sample_dir / "tigray.toml"), "--out", str(mnt / "out"))
        assert r.returncode == 3
        _one_line_error(r, "OutputPermissionError", "read-only file system", "--out")
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_unreadable_regions_file_keeps_earlier_result(sample_copy, tmp_path):
    out = tmp_path / "out"
    cfg = str(sample_copy / "tigray.toml")
    assert _cli("run", cfg, "--out", str(out)).returncode == 0
    before = _tree(out)
    (sample_copy / "tigray_regions.gpkg").write_bytes(b"SQLite format 3\0 truncated")
    r = _cli("run", cfg, "--out", str(out), "--overwrite")
    assert r.returncode == 1
    _one_line_error(r, "InputError", "tigray_regions.gpkg", "cannot be read")
    assert _tree(out) == before
    assert not [
        p for p in out.iterdir() if p.name.startswith((".soilmap-staging", ".soilmap.lock"))
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
@pytest.mark.parametrize("size", ["600k", "2m", "3m"])
def test_disk_fills_while_writing(sample_dir, tmp_path, size):
    """A real full disk, at different stages of the writes: one line, nothing left."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
    try:
        r = _cli("run", str(sample_dir / "tigray.toml"), "--out", str(mnt / "out"))
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode == 0:
            pytest.skip(f"the run fits in {size}")
        assert r.returncode == 3, r.stderr
        _one_line_error(r, "OutputSpaceError", str(mnt / "out"), "free", "--out")
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--scheduler", "not an address"], ["not an address", "tcp://host:8786"]),
        (["--workers", "0"], ["--workers must be at least 1"]),
        (["--memory-limit", "0"], ["--memory-limit", "at least 64 MB"]),
        (["--memory-limit", "1KB"], ["1,000 bytes", "at least 64 MB"]),
        (["--memory-limit", "lots"], ["'lots'", "2GB"]),
    ],
)
def test_bad_cluster_options(sample_dir, tmp_path, flags, words):
    out = tmp_path / "out"
    r = _cli("run", str(sample_dir / "tigray.toml"), "--out", str(out), *flags)
    assert r.returncode == 2, r.stderr
    _one_line_error(r, "ConfigError", *words)
    assert not out.exists()
