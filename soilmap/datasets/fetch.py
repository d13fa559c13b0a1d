"""Get a dataset's files: from a local mirror, the cache, or their origin, checksum-verified.

Where each file comes from, in this order:

1. ``SOILMAP_DATA``: a local folder laid out like the registry's paths (a mirror on a
   cluster share, a USB stick; e.g. a copy of the project's shared data folder);
2. the cache (``SOILMAP_CACHE``, default the user cache folder, e.g.
   ``~/.cache/soilmap/data``), filled by earlier downloads;
3. a download from the file's origin URL, or from ``SOILMAP_DATA_URL`` + the file's
   path when that is set (a mirror served over HTTP, tests).

Every file is checked against its SHA-256 before it is used (a cached file that
differs is downloaded again); downloads go to a temporary file in the cache folder
and are renamed into place only once verified, so the cache never holds a
half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import platformdirs
import pooch
import requests

from soilmap.datasets.registry import DataFile, Dataset, get_dataset
from soilmap.errors import DatasetChecksumError, DatasetDownloadError

__all__ = ["cache_dir", "fetch", "fetch_file", "mirror_dir", "sha256"]


_FIX = (
    "To run offline, point SOILMAP_DATA to a folder laid out like the registry's paths "
    "(e.g. a copy of the project's shared data folder), or SOILMAP_DATA_URL to a server "
    "that mirrors it."
)


def mirror_dir() -> Path | None:
    """The local mirror, ``SOILMAP_DATA`` (None when unset)."""
    value = os.environ.get("SOILMAP_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where downloaded files are kept: ``SOILMAP_CACHE``, else the user cache folder."""
    value = os.environ.get("SOILMAP_CACHE", "").strip()
    return (
        Path(value).expanduser() if value else Path(platformdirs.user_cache_dir("soilmap")) / "data"
    )


def sha256(path: Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source(f: DataFile) -> tuple[str, str]:
    """Where to download ``f`` from, and the transform its bytes need ("" for none).

    A mirror (``SOILMAP_DATA_URL``) serves the registry's files as they are; an origin
    may serve a file the registry keeps transformed (``DataFile.process``).
    """
    base = os.environ.get("SOILMAP_DATA_URL", "").strip()
    return (f"{base.rstrip('/')}/{f.path}", "") if base else (f.url, f.process)


def fetch_file(ds: Dataset, f: DataFile, *, progress: bool | None = None) -> Path:
    """The local path of one file of ``ds`` (see the module notes for where from).

    Raises
    ------
    soilmap.errors.DatasetChecksumError
        The mirror's copy, or the downloaded file, is not the registry's file.
    soilmap.errors.DatasetDownloadError
        The file is in no mirror or cache and cannot be downloaded.
    """
    what = f"file {f.path!r} of dataset {ds.name!r}"
    looked = []
    mirror = mirror_dir()
    if mirror is not None:
        local = mirror / f.path
        looked.append(f"SOILMAP_DATA ({local})")
        if local.is_file():
            found = sha256(local)
            if found != f.sha256:
                raise DatasetChecksumError(
                    f"{what}: the copy in SOILMAP_DATA ({local}) is not the registry's file "
                    f"(SHA-256 {found}, expected {f.sha256}, {f.size:,} bytes). "
                    "Replace it with the original, or unset SOILMAP_DATA to download it."
                )
            return local
    cached = cache_dir() / f.path
    looked.append(f"the cache ({cached})")
    url, process = _source(f)
    if not url:
        raise DatasetDownloadError(
            f"{what} is derived ({f.derived}) and no origin serves it; looked in "
            f"{', '.join(looked)}. {_FIX}"
        )
    looked.append(url)
    show = sys.stderr.isatty() if progress is None else progress
    # pooch logs every download at INFO; the progress bar (or nothing) says enough.
    pooch.get_logger().setLevel("INFO" if show else "WARNING")
    try:
        got = Path(
            pooch.retrieve(
                url,
                known_hash=f"sha256:{f.origin_sha256 if process else f.sha256}",
                fname=cached.name + (".origin" if process else ""),
                path=cached.parent,
                downloader=pooch.HTTPDownloader(progressbar=show, timeout=60),
                progressbar=show,
            )
        )
    except ValueError as exc:  # pooch's hash mismatch (the download was deleted)
        raise DatasetChecksumError(
            f"{what}: the download from {url} is not the registry's file ({exc}). The "
            f"server may serve another version; nothing was kept in the cache. {_FIX}"
        ) from exc
    except (requests.RequestException, OSError) as exc:
        raise DatasetDownloadError(
            f"{what} could not be had: looked in {', '.join(looked)} and the download "
            f"failed ({exc.__class__.__name__}: {exc}). {_FIX}"
        ) from exc
    if process:
        got = _processed(got, cached, f, what)
    return got


_PROCESSES = {
    # The mirror keeps some JSON files as Python writes them: same content, other bytes.
    "json": lambda raw: json.dumps(json.loads(raw)).encode(),
}


def _processed(origin: Path, target: Path, f: DataFile, what: str) -> Path:
    """The registry's file made from its (verified) origin file, written atomically."""
    if target.is_file() and sha256(target) == f.sha256:
        return target
    data = _PROCESSES[f.process](origin.read_bytes())
    if hashlib.sha256(data).hexdigest() != f.sha256:
        raise DatasetChecksumError(
            f"{what}: made from {f.url} with process {f.process!r}, it is not the registry's "
            f"file (expected SHA-256 {f.sha256}). {_FIX}"
        )
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".tmp-") as tmp:
        tmp.write(data)
    os.replace(tmp.name, target)
    return target


def fetch(name: str, *, progress: bool | None = None) -> dict[str, Path]:
    """The local paths of every file of dataset ``name``, downloaded once if needed.

    Parameters
    ----------
    name : str
        A dataset of the registry (:func:`soilmap.datasets.list_datasets`).
    progress : bool, optional
        Show download progress (default: when stderr is a terminal).

    Returns
    -------
    dict of str to pathlib.Path
        By the file's path within the dataset (``"ORCDRC_sl1.tif"``,
        ``"RothC_Py/year_results.csv"``: its registry path less :attr:`Dataset.root`).

    Raises
    ------
    soilmap.errors.UnknownDatasetError
        No such dataset.
    soilmap.errors.DatasetChecksumError, soilmap.errors.DatasetDownloadError
        A file cannot be had as the registry describes it.
    """
    ds = get_dataset(name)
    return {ds.key(f): fetch_file(ds, f, progress=progress) for f in ds.files}
