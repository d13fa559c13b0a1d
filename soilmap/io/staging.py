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
from dataclasses import dataclass, field
from pathlib import Path

from soilmap.errors import OutputBusyError, OutputExistsError, OutputPermissionError

__all__ = [
    "LOCK_NAME",
    "OWNER_NAME",
    "STAGING_PREFIX",
    "OutputLock",
    "OutputStage",
    "StaleStage",
    "output_lock",
    "staged_file",
    "stale_stages",
]

_SIDE_FILES = (".aux.xml", ".ovr")

#: Name prefix of every staging folder inside an output folder.
STAGING_PREFIX = ".soilmap-staging-"
#: A staging folder being set up (renamed to STAGING_PREFIX once its owner lock is held).
_NEW_PREFIX = ".soilmap-new-"
#: The lock file inside a staging folder, held by the process writing into it.
OWNER_NAME = "owner.lock"


def _started() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _new_stage(out_dir: Path) -> tuple[Path, int]:
    """A new staging folder in ``out_dir``, with its owner lock held: (folder, lock fd).

    The folder gets its final name only once the lock inside it is held, so a later
    run never takes a folder being set up for a stale one (see :func:`stale_stages`).
    """
    import fcntl

    tmp = Path(tempfile.mkdtemp(prefix=_NEW_PREFIX, dir=out_dir))
    fd = os.open(tmp / OWNER_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"PID {os.getpid()}, started {_started()}\n".encode())
    final = out_dir / f"{STAGING_PREFIX}{tmp.name.removeprefix(_NEW_PREFIX)}"
    os.rename(tmp, final)
    return final, fd


def _take(stage_dir: Path) -> int | None:
    """Hold the owner lock of an existing staging folder; None if a live run holds it."""
    import fcntl

    fd = os.open(stage_dir / OWNER_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@dataclass(frozen=True)
class StaleStage:
    """A staging folder left by a run that died (its owner lock is not held)."""

    dir: Path
    #: "PID ..., started ..." of the run that made it ("unknown" if it did not say).
    owner: str
    #: Bytes of scratch files in it.
    size: int

    def describe(self) -> str:
        """``<folder> (<owner>, <size> MB)`` for messages."""
        return f"{self.dir} (run {self.owner}, {self.size / 1e6:.1f} MB)"


def stale_stages(out_dir: str | os.PathLike) -> list[StaleStage]:
    """The staging folders in ``out_dir`` whose run is dead, most recent first.

    A staging folder is stale when no process holds the lock file inside it (the run
    that made it was killed, or the machine stopped); folders of older soilmap
    versions, which have no lock file, are stale too.  Folders still being set up
    (``.soilmap-new-*``) count only once an hour old.
    """
    import time

    out = Path(out_dir)
    if not out.is_dir():
        return []
    found = []
    for d in out.iterdir():
        if not d.is_dir() or d.is_symlink():
            continue
        if d.name.startswith(_NEW_PREFIX):
            if time.time() - d.stat().st_mtime < 3600:
                continue
        elif not d.name.startswith(STAGING_PREFIX):
            continue
        owner_file = d / OWNER_NAME
        if owner_file.exists():
            fd = _take(d)
            if fd is None:
                continue  # a live run writes into it
            os.close(fd)
            owner = owner_file.read_text().strip() or "unknown"
        else:
            owner = "unknown"
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file() and not f.is_symlink())
        found.append((d.stat().st_mtime, StaleStage(d, owner, size)))
    return [s for _, s in sorted(found, key=lambda t: -t[0])]


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
    adopt : path-like, optional
        An existing staging folder of a dead run to continue (``--resume``); its
        owner lock is taken over.

    Attributes
    ----------
    keep : bool
        Leaving the ``with`` block without :meth:`commit` keeps the staging folder
        (for a later ``--resume``) instead of removing it.

    Raises
    ------
    soilmap.errors.OutputExistsError
        If some of ``names`` exist in ``out_dir`` and ``overwrite`` is false.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        names: Iterable[str],
        *,
        overwrite: bool,
        adopt: str | os.PathLike | None = None,
    ):
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
        self.keep = False
        if adopt is not None:
            fd = _take(Path(adopt))
            if fd is None:
                raise OutputBusyError(
                    f"staging folder {str(adopt)!r} is in use by another soilmap run. Wait "
                    "for it to finish, or choose another --out folder."
                )
            self.dir, self._owner = Path(adopt), fd
            os.ftruncate(fd, 0)
            os.write(fd, f"PID {os.getpid()}, started {_started()}\n".encode())
        else:
            self.dir, self._owner = _new_stage(self.out_dir)
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
        """Remove the staging folder (and the output folder if this run made it empty).

        With :attr:`keep` (and nothing committed) the folder stays for a resume.
        """
        if self._owner < 0:
            return
        if not (self.keep and not self.committed):
            shutil.rmtree(self.dir, ignore_errors=True)
        os.close(self._owner)  # after the removal: no other run takes a half-removed folder
        self._owner = -1
        if self.keep and not self.committed:
            return
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


@dataclass
class OutputLock:
    """The lock a run holds on its output folder (see :func:`output_lock`).

    Attributes
    ----------
    path : pathlib.Path
        The lock file.
    holder : str
        ``PID <pid>, started <time>``, written into the lock file.
    fds : list of int
        Open descriptors holding the lock: the folder's lock file, and that of a new
        folder switched into place (:func:`soilmap.io.switch.switch_in`).
    """

    path: Path
    holder: str
    fds: list[int] = field(default_factory=list)

    def lock_new(self, path: Path) -> None:
        """Create and hold the lock file ``path`` of a folder that replaces the locked one."""
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{self.holder}\n".encode())
        self.fds.append(fd)


@contextlib.contextmanager
def output_lock(out_dir: str | os.PathLike) -> Iterator[OutputLock]:
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
        holder = f"PID {os.getpid()}, started {_started()}"
        os.ftruncate(fd, 0)
        os.write(fd, f"{holder}\n".encode())
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
    held = OutputLock(lock, holder, [fd])
    try:
        yield held
    finally:
        with contextlib.suppress(OSError):
            os.remove(lock)
        for held_fd in held.fds:
            os.close(held_fd)
        if created:  # a failed run leaves no empty folder it made
            with contextlib.suppress(OSError):
                out.rmdir()
