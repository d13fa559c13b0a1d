"""The journal of a run in its staging folder: finished windows and partial sums.

A run computes window by window (:mod:`soilmap.pipeline.execute`).  After each
window it records, in ``journal.json`` inside its staging folder, how many windows
are finished and the running totals they gave (zonal sums, style ranges and
histograms, counts) in ``partials-<n>.npz``; after each COG, that the COG is
finished.  Both are written atomically (a temporary file, ``fsync``, then
``os.replace``), the partial sums before the journal that names them, and the
blocks of a window are flushed to disk before the window is recorded.  A killed run
therefore leaves a journal that describes exactly what its staging folder holds,
and ``soilmap run --resume`` continues from there (:mod:`soilmap.pipeline.resume`).

Totals are combined in window order, and a resumed run starts from the running
totals after the last recorded window, so it adds the same numbers in the same
order as an uninterrupted run: its results are bit-identical.

``fingerprint`` says what the results depend on (the configuration, the size and
modification time of every input file, the chunks, soilmap and GDAL versions);
a journal is continued only under the same fingerprint.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from soilmap.keys import LayerKey
from soilmap.zonal.sums import ZonalSums

__all__ = ["JOURNAL_NAME", "Journal", "Partials", "write_atomic"]

#: The journal file inside a staging folder.
JOURNAL_NAME = "journal.json"

Window = tuple[int, int, int, int]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that it holds either its old content or ``data``, even if killed."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself
    finally:
        os.close(fd)


@dataclass
class Partials:
    """Running totals after some windows (see :func:`soilmap.pipeline.execute.execute`)."""

    sums: ZonalSums | None = None
    lo: dict[str, float] = field(default_factory=dict)
    hi: dict[str, float] = field(default_factory=dict)
    hist: dict[str, np.ndarray] = field(default_factory=dict)
    reduced: dict[str, Any] = field(default_factory=dict)


def _key_to_json(k: Hashable) -> Any:
    if isinstance(k, LayerKey):
        return {"key": [k.quantity, k.scenario, k.bound]}
    if isinstance(k, str):
        return {"str": k}
    raise TypeError(f"layer name {k!r} cannot be journaled")


def _key_from_json(d: Mapping[str, Any]) -> Hashable:
    if "key" in d:
        q, sc, b = d["key"]
        return LayerKey(q, scenario=sc, bound=b)
    return str(d["str"])


class Journal:
    """What a run's staging folder holds: windows done, their totals, COGs finished.

    Parameters
    ----------
    folder : pathlib.Path
        The staging folder.
    fingerprint : mapping
        What the run's results depend on (plain JSON data).
    """

    def __init__(self, folder: Path, fingerprint: Mapping[str, Any]):
        self.folder = folder
        self.fingerprint = dict(fingerprint)
        self.windows: list[Window] = []
        self.done = 0
        self.cogs: set[str] = set()
        self._partials: str | None = None
        self._meta: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Journals nothing once a layer name cannot be written (the run goes on).
        self.enabled = True

    # ------------------------------------------------------------------ reading
    @classmethod
    def load(cls, folder: Path) -> Journal | None:
        """The journal in ``folder``; None if it has none or an unreadable one."""
        try:
            doc = json.loads((folder / JOURNAL_NAME).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("soilmap_journal") != 1:
            return None
        j = cls(folder, doc["fingerprint"])
        j.windows = [tuple(int(v) for v in w) for w in doc["windows"]]  # type: ignore[misc]
        j.done = int(doc["done"])
        j.cogs = set(doc["cogs"])
        j._partials = doc.get("partials")
        j._meta = doc.get("meta", {})
        return j

    def differences(self, fingerprint: Mapping[str, Any]) -> list[str]:
        """What differs between this journal's run and a run of ``fingerprint``."""
        return _differences(self.fingerprint, dict(fingerprint))

    def partials(self) -> Partials:
        """The running totals after the recorded windows (empty before the first)."""
        if self._partials is None:
            return Partials()
        m = self._meta
        with np.load(self.folder / self._partials, allow_pickle=False) as z:
            sums = None
            if "sums_values" in z:
                opt = {k: z.get(f"sums_{k}", None) for k in _OPTIONAL}
                sums = ZonalSums(
                    values=z["sums_values"],
                    groups=tuple(m["groups"]),
                    layers=tuple(_key_from_json(k) for k in m["layers"]),
                    mins=opt["mins"],
                    maxs=opt["maxs"],
                    extent_ha=opt["extent_ha"],
                )
            hist = {s: z[f"hist_{i}"] for i, s in enumerate(m["hist"])}
            reduced = {k: z[f"red_{i}"][()] for i, k in enumerate(m["reduced"])}
        return Partials(sums, dict(m["lo"]), dict(m["hi"]), hist, reduced)

    # ------------------------------------------------------------------ writing
    def start(self, windows: Sequence[Window]) -> None:
        """Record the run's windows (once, before the first is computed)."""
        if not self.windows:
            self.windows = [tuple(int(v) for v in w) for w in windows]  # type: ignore[misc]
            self._write()

    def record_window(self, done: int, totals: Partials, flush: Sequence[Path] = ()) -> None:
        """Record that the first ``done`` windows are finished, with their totals.

        ``flush`` are the scratch files the windows were written into: synced to disk
        first, so the journal never claims blocks that a power cut could lose.
        """
        if not self.enabled:
            return
        try:
            arrays, meta = _encode(totals)
        except TypeError:
            self.enabled = False
            return
        for path in flush:
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        name = f"partials-{done:06d}.npz"
        import io

        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        write_atomic(self.folder / name, buf.getvalue())
        with self._lock:
            old, self._partials, self._meta, self.done = self._partials, name, meta, done
            self._write()
        if old and old != name:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.folder / old)

    def record_cog(self, stem: str) -> None:
        """Record that the COG of ``stem`` is finished (its scratch file is gone)."""
        if not self.enabled:
            return
        with self._lock:
            self.cogs.add(stem)
            self._write()

    def _write(self) -> None:
        doc = {
            "soilmap_journal": 1,
            "fingerprint": self.fingerprint,
            "windows": [list(w) for w in self.windows],
            "done": self.done,
            "cogs": sorted(self.cogs),
            "partials": self._partials,
            "meta": self._meta,
        }
        write_atomic(self.folder / JOURNAL_NAME, json.dumps(doc, indent=1).encode())


_OPTIONAL = ("mins", "maxs", "extent_ha")


def _encode(t: Partials) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"lo": t.lo, "hi": t.hi, "hist": list(t.hist), "reduced": []}
    if t.sums is not None:
        arrays["sums_values"] = t.sums.values
        for k in _OPTIONAL:
            if getattr(t.sums, k) is not None:
                arrays[f"sums_{k}"] = getattr(t.sums, k)
        meta["groups"] = list(t.sums.groups)
        meta["layers"] = [_key_to_json(k) for k in t.sums.layers]
    for i, s in enumerate(t.hist):
        arrays[f"hist_{i}"] = np.asarray(t.hist[s])
    for i, k in enumerate(t.reduced):
        arrays[f"red_{i}"] = np.asarray(t.reduced[k])
        meta["reduced"].append(k)
    return arrays, meta


def _differences(old: Mapping[str, Any], new: Mapping[str, Any], where: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        path = f"{where}.{k}" if where else str(k)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _differences(a, b, path)
        else:
            out.append(f"{path}: {a!r} then, {b!r} now")
    return out
