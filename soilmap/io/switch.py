"""Switch an output folder from its earlier result to the new one in one step.

A run's files are complete in its staging folder before anything in the output
folder changes.  :func:`switch_in` then builds the new folder beside the old one
(same file system): the new files, plus hard links to every file the user added
to the folder (anything that is not a file of the earlier soilmap run), and swaps
the two folders with one ``renameat2(RENAME_EXCHANGE)`` system call.  A reader sees
either the whole earlier result or the whole new one, never a mix; files of the
earlier run that the new run does not write (``gain_2030.tif`` after a run with
other horizons) are gone with the old folder; the user's files are kept.

Where the exchange is not possible (not Linux, a file system without it such as
NFS, an output folder that is a mount point or whose parent cannot be written, or
the process's working directory inside it) the files are moved in one by one, as
before, and the earlier run's files the new run does not write are removed after.

The names of a run's files are kept in ``.soilmap-files`` in the output folder,
so the next run knows which files are soilmap's.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from soilmap.io.staging import LOCK_NAME, STAGING_PREFIX, OutputLock, OutputStage

__all__ = ["FILES_NAME", "previous_files", "switch_in"]

log = logging.getLogger(__name__)

#: The list of files of the last run, in its output folder.
FILES_NAME = ".soilmap-files"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> None:
    """Swap the directory entries ``a`` and ``b`` atomically (Linux ``renameat2``)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def previous_files(out_dir: Path, fallback: Iterable[str]) -> set[str]:
    """Relative paths of the earlier run's files in ``out_dir``.

    From ``.soilmap-files``; a folder written by an older soilmap has none: then
    ``fallback`` (the names this run writes) plus the rasters its ``run.json`` lists,
    with their styles and side files.
    """
    listed = out_dir / FILES_NAME
    if listed.exists():
        with contextlib.suppress(OSError, ValueError):
            return set(json.loads(listed.read_text()))
    names = set(fallback) | {"run.json", "report.html"}
    with contextlib.suppress(OSError, ValueError, AttributeError):
        outputs = json.loads((out_dir / "run.json").read_text()).get("outputs", {})
        for name in outputs:
            if name.endswith(".tif"):
                names |= {name, name[:-4] + ".qml"}
    return names | {f"{n}{s}" for n in names for s in (".aux.xml", ".ovr")}


def _keep_user_files(old: Path, new: Path, soilmap_files: set[str]) -> list[str]:
    """Hard-link into ``new`` every file of ``old`` that is not soilmap's; their paths."""
    kept = []
    for root, dirs, files in os.walk(old):
        rel_root = Path(root).relative_to(old)
        if rel_root == Path("."):
            dirs[:] = [d for d in dirs if not d.startswith((STAGING_PREFIX, ".soilmap-new-"))]
        for name in [*files, *[d for d in dirs if os.path.islink(os.path.join(root, d))]]:
            rel = (rel_root / name).as_posix()
            if rel in soilmap_files or rel in (LOCK_NAME, FILES_NAME) or (new / rel).exists():
                continue
            src, dst = Path(root) / name, new / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
            kept.append(rel)
    return kept


def _can_exchange(out: Path) -> bool:
    if not hasattr(os, "getcwd") or os.uname().sysname != "Linux":
        return False
    with contextlib.suppress(OSError):
        cwd = Path(os.getcwd()).resolve()
        if cwd == out or out in cwd.parents:
            return False  # our own working directory would end up in the removed folder
    try:
        return os.stat(out).st_dev == os.stat(out.parent).st_dev and os.access(out.parent, os.W_OK)
    except OSError:
        return False


def switch_in(
    stage: OutputStage, lock: OutputLock, *, fallback_names: Iterable[str] = ()
) -> list[Path]:
    """Replace the earlier result in ``stage.out_dir`` by the staged files, in one step.

    Parameters
    ----------
    stage : OutputStage
        The finished staging folder.
    lock : OutputLock
        The run's lock on the output folder (the new folder gets its lock file held
        before the swap, so another run stays refused throughout).
    fallback_names : iterable of str
        File names of the earlier run when it left no ``.soilmap-files``.

    Returns
    -------
    list of pathlib.Path
        The new result's files, at their final paths.
    """
    out = stage.out_dir.resolve()
    staged = [n for n in stage.names if (stage.dir / n).exists()]
    earlier = previous_files(out, [*fallback_names, *staged])
    if not _can_exchange(out):
        return _switch_by_moves(stage, out, staged, earlier)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.soilmap-new-", dir=out.parent))
    try:
        for name in staged:
            (new / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage.dir / name, new / name)
        (new / FILES_NAME).write_text(json.dumps(sorted(staged)))
        kept = set(_keep_user_files(out, new, earlier))
        os.chmod(new, stat.S_IMODE(os.stat(out).st_mode))
        lock.lock_new(new / LOCK_NAME)
        _exchange(new, out)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.EOPNOTSUPP):
            raise
        # No exchange on this file system: put the staged files back and move them.
        log.debug("RENAME_EXCHANGE failed (%s): moving the files one by one", exc)
        for name in staged:
            if (new / name).exists():
                os.replace(new / name, stage.dir / name)
        shutil.rmtree(new, ignore_errors=True)
        return _switch_by_moves(stage, out, staged, earlier)
    # `new` now holds the earlier result: rescue files the user added meanwhile.
    for rel in _keep_user_files(new, out, earlier):
        if rel not in kept:
            log.info("kept %s, added to %s during the switch", rel, out)
    shutil.rmtree(new, ignore_errors=True)
    stage.committed = [stage.out_dir / n for n in staged]
    stage.abort()  # the staging folder went with the old folder; this releases its lock
    return stage.committed


def _switch_by_moves(
    stage: OutputStage, out: Path, staged: list[str], earlier: set[str]
) -> list[Path]:
    """Move the staged files in one by one, then remove the earlier run's other files."""
    committed = stage.commit()
    for rel in sorted(earlier - set(staged)):
        with contextlib.suppress(OSError):
            if (out / rel).is_file() or (out / rel).is_symlink():
                os.remove(out / rel)
    for d in sorted({(out / r).parent for r in earlier}, key=lambda p: -len(p.parts)):
        if d != out:
            with contextlib.suppress(OSError):
                d.rmdir()  # only if the earlier run's files were all it held
    with contextlib.suppress(OSError):
        (out / FILES_NAME).write_text(json.dumps(sorted(staged)))
    return committed
