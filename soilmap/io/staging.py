"""Atomic output folders.

A run writes every file into a hidden staging folder inside the output folder
(same file system, so :func:`os.replace` is atomic), and moves the finished files
into place only once all of them exist.  A failed or interrupted run leaves the
output folder as it was: no half-written file, no earlier result destroyed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from soilmap.errors import OutputBusyError, OutputExistsError, OutputPermissionError

__all__ = ["LOCK_NAME", "OutputStage", "output_lock", "staged_file"]

_SIDE_FILES = (".aux.xml", ".ovr")


class OutputStage:
    """A staging folder for the outputs of one run.

    Parameters
    ----------
    out_dir : path-like
        Final output folder (created if missing).
    names : iterable of str
        File names the run will write; checked for conflicts before anything runs.
    overwrite : bool
        Replace existing files of the same name (each replaced atomically).

    Raises
    ------
    soilmap.errors.OutputExistsError
        If some of ``names`` exist in ``out_dir`` and ``overwrite`` is false.
    """

    def __init__(self, out_dir: str | os.PathLike, names: Iterable[str], *, overwrite: bool):
        self.out_dir = Path(out_dir)
        self.names = list(dict.fromkeys(names))
        existing = [n for n in self.names if (self.out_dir / n).exists()]
        if existing and not overwrite:
            shown = ", ".join(existing[:6]) + (" ..." if len(existing) > 6 else "")
            raise OutputExistsError(
                f"{self.out_dir} already holds outputs of an earlier run ({shown}). "
                "Pass --overwrite (overwrite=True) to replace them, or choose another --out folder."
            )
        self._created = not self.out_dir.exists()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".soilmap-staging-", dir=self.out_dir))
        self.committed: list[Path] = []

    def path(self, name: str) -> Path:
        """Where to write ``name`` while the run is in progress."""
        if name not in self.names:
            self.names.append(name)
        return self.dir / name

    def commit(self) -> list[Path]:
        """Move every staged file into the output folder; return the final paths."""
        for name in self.names:
            staged = self.dir / name
            if not staged.exists():
                continue
            final = self.out_dir / name
            final.parent.mkdir(parents=True, exist_ok=True)
            for suffix in _SIDE_FILES:
                # A stale .aux.xml would override the new file's statistics in QGIS.
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{final}{suffix}")
            os.replace(staged, final)
            self.committed.append(final)
        self.abort()
        return self.committed

    def abort(self) -> None:
        """Remove the staging folder (and the output folder if this run made it empty)."""
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._created and not self.committed:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()

    def __enter__(self) -> OutputStage:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Commit is explicit: leaving the block without it (error, interrupt) discards.
        self.abort()


@contextlib.contextmanager
def staged_file(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Write one file atomically: yield a temporary path, then rename it to ``path``.

    Raises
    ------
    soilmap.errors.OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    final = Path(path)
    with OutputStage(final.parent, [final.name], overwrite=overwrite) as stage:
        yield stage.path(final.name)
        stage.commit()


#: The lock file of a run, inside its output folder (removed when the run ends).
LOCK_NAME = ".soilmap.lock"


@contextlib.contextmanager
def output_lock(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold the output folder for one run: an exclusive ``fcntl`` lock on a lock file.

    Checks first that the folder can be written (creating it if needed), so a
    read-only or foreign folder fails before any input is opened.  The lock is
    held by this process (the client of a Dask cluster) for the whole ``with``
    block; the lock file names the PID and start time for the run that waits.

    Raises
    ------
    soilmap.errors.OutputPermissionError
        The folder cannot be created or written.
    soilmap.errors.OutputBusyError
        Another run holds the folder.
    """
    import datetime
    import fcntl

    out = Path(out_dir)
    if str(out_dir) == "":
        raise OutputPermissionError("--out is empty: name the output folder.")
    if out.is_symlink() and not out.exists():
        raise OutputPermissionError(
            f"output folder {str(out)!r} is a dangling symbolic link (to "
            f"{os.readlink(out)!r}). Create its target or choose another --out."
        )
    lock = out / LOCK_NAME
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                with open(lock) as f:
                    holder = f.read().strip() or "unknown"
                os.close(fd)
                raise OutputBusyError(
                    f"output folder {str(out)!r} is in use by another soilmap run ({holder}). "
                    "Wait for it to finish, or choose another --out folder."
                ) from None
            # The file may have been removed by the run that held it just before.
            if os.path.exists(lock) and os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, f"PID {os.getpid()}, started {started}\n".encode())
    except PermissionError as exc:
        raise OutputPermissionError(
            f"output folder {str(out)!r} cannot be written ({exc.strerror}). Choose a folder "
            "you can write to (--out), or fix its permissions."
        ) from exc
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise OutputPermissionError(
                f"output folder {str(out)!r} is on a read-only file system. Choose another "
                "--out folder."
            ) from exc
        raise
    try:
        yield lock
    finally:
        with contextlib.suppress(OSError):
            os.remove(lock)
        os.close(fd)
        if created:  # a failed run leaves no empty folder it made
            with contextlib.suppress(OSError):
                out.rmdir()
