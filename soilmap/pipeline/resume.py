"""Stale staging folders, ``--resume``, and what an interruption keeps.

A run that dies (``kill -9``, a power cut, a batch job past its time limit) leaves
its staging folder ``.soilmap-staging-*`` in the output folder, with the journal of
the windows it finished (:mod:`soilmap.pipeline.journal`).  The next run into that
folder finds it (its owner lock is not held, :func:`soilmap.io.staging.stale_stages`)
and either removes it, saying so, or, with ``--resume``, continues from it when the
configuration and the input files (size and modification time) are the same.

On SIGTERM and SIGHUP (shutdown, a closed terminal, a scheduler stopping the job)
a run keeps its staging folder when it holds finished windows, so ``--resume`` can
continue; on Ctrl-C (SIGINT, also the QGIS Cancel button) it removes it, unless the
run was started with ``--resume``.  The message of the interruption says which.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from soilmap._version import __version__
from soilmap.errors import InputError
from soilmap.io.paths import is_virtual
from soilmap.io.staging import OWNER_NAME, OutputStage, StaleStage, stale_stages
from soilmap.options import get_options
from soilmap.outputs.manifest import describe_inputs
from soilmap.pipeline.journal import JOURNAL_NAME, Journal

__all__ = ["clear_stale", "fingerprint", "interrupt_policy", "open_stage"]

log = logging.getLogger("soilmap.pipeline")


def _file_state(p: Path) -> list[dict[str, Any]]:
    """Size and modification time of a local input (and a shapefile's side files)."""
    files = [p]
    if p.suffix.lower() == ".shp":
        files = sorted(f for f in p.parent.glob(f"{p.stem}.*") if f.is_file())
    out = []
    for f in files:
        st = f.stat()
        out.append({"path": str(f.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def fingerprint(config: Any, chunks: Sequence[Sequence[int]]) -> dict[str, Any]:
    """What a run's results depend on: a journal is continued only under the same.

    The configuration (without the output folder and ``overwrite``), each input
    file's size and modification time (a network input's size, ETag and
    Last-Modified), the chunks, the options, and the soilmap and GDAL versions.
    """
    import rasterio

    params = config.to_dict()
    params["output"] = {k: v for k, v in params["output"].items() if k not in ("dir", "overwrite")}
    inputs: list[Any] = []
    for p in config.input_paths():
        if is_virtual(p):
            inputs += describe_inputs([p])
        elif Path(p).exists():
            inputs += _file_state(Path(p))
    return {
        "soilmap": __version__,
        "gdal": rasterio.__gdal_version__,
        "config": params,
        "inputs": {d["path"]: {k: v for k, v in d.items() if k != "path"} for d in inputs},
        "chunks": [list(c) for c in chunks],
        "options": {k: v for k, v in get_options().items() if isinstance(v, int | str | float)},
    }


def _windows_note(j: Journal | None) -> str:
    if j is None or not j.windows:
        return "no finished window"
    return f"{j.done} of {len(j.windows)} windows finished"


def clear_stale(out_dir: Path, *, resume: bool) -> StaleStage | None:
    """Remove the staging folders of dead runs in ``out_dir``, saying so on the log.

    With ``resume`` the most recent one that has a journal is kept and returned.
    """
    stale = stale_stages(out_dir)
    keep = None
    if resume:
        keep = next((s for s in stale if Journal.load(s.dir) is not None), None)
    for s in stale:
        if s is keep:
            continue
        note = _windows_note(Journal.load(s.dir))
        shutil.rmtree(s.dir, ignore_errors=True)
        log.warning(
            "removed the staging folder of an interrupted run: %s, %s%s",
            s.describe(),
            note,
            "" if resume else " (`soilmap run --resume` continues such a run instead)",
        )
    if resume and keep is None:
        log.warning("--resume: %s holds no interrupted run to continue; starting afresh", out_dir)
    return keep


def open_stage(
    out_dir: Path,
    names: Sequence[str],
    *,
    overwrite: bool,
    fp: dict[str, Any],
    previous: StaleStage | None,
) -> tuple[OutputStage, Journal]:
    """The run's staging folder and journal: ``previous`` continued, or a new one.

    Raises
    ------
    soilmap.errors.InputError
        ``previous`` was made under another configuration or other input files.
    """
    if previous is not None:
        journal = Journal.load(previous.dir)
        if journal is not None:
            diff = journal.differences(fp)
            if diff:
                shown = "; ".join(diff[:4]) + (" ..." if len(diff) > 4 else "")
                raise InputError(
                    f"--resume: the interrupted run in {previous.dir} cannot be continued: "
                    f"its configuration or inputs differ from this run's ({shown}). Restore "
                    "them, or run without --resume to start afresh (that removes it)."
                )
            stage = OutputStage(out_dir, names, overwrite=overwrite, adopt=previous.dir)
            journal.folder = stage.dir
            _clear_unjournaled(stage.dir, journal)
            log.warning(
                "resuming the interrupted run in %s: %s, %d COGs finished",
                previous.describe(),
                _windows_note(journal),
                len(journal.cogs),
            )
            return stage, journal
    stage = OutputStage(out_dir, names, overwrite=overwrite)
    return stage, Journal(stage.dir, fp)


def _clear_unjournaled(folder: Path, journal: Journal) -> None:
    """Remove what the interrupted run wrote after its journal's last record.

    Kept: the journal and its partial sums, the owner lock, the scratch files (hidden,
    ``.<stem>.blocks.tif``) and the COGs the journal records as finished, or whose
    scratch file is gone (removed only once the COG is complete).  Styles,
    tables, ``run.json``, the report and a COG being written are made again (a table
    written into a half-written GeoPackage would not be the same file).
    """
    keep = {f"{stem}.tif" for stem in journal.cogs}
    for f in sorted(folder.rglob("*"), key=lambda q: -len(q.parts)):
        rel = f.relative_to(folder).as_posix()
        if f.is_dir():
            with contextlib.suppress(OSError):
                f.rmdir()  # only folders left empty
            continue
        if rel in keep or f.name.startswith(".") or rel in (OWNER_NAME, JOURNAL_NAME):
            continue
        if f.suffix == ".tif" and not f.with_name(f".{f.stem}.blocks.tif").exists():
            continue  # a COG finished just before the kill: its scratch goes only after it
        if "/" not in rel and rel.startswith("partials-") and rel.endswith(".npz"):
            continue
        f.unlink()


@contextlib.contextmanager
def interrupt_policy(stage: OutputStage, journal: Journal, *, resume: bool) -> Iterator[None]:
    """Keep or remove the staging folder on an interruption, and say which.

    The note is attached to the exception as ``soilmap_note`` for the one-line
    message of the command.
    """
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        keep = journal.done > 0 and (signum != signal.SIGINT or resume)
        stage.keep = keep
        if keep:
            note = (
                f"{_windows_note(journal)} kept in {stage.dir}: `soilmap run ... --resume` "
                "continues from them, a run without --resume removes them"
            )
        else:
            note = "its staging folder was removed"
        exc.soilmap_note = note  # type: ignore[attr-defined]
        raise
