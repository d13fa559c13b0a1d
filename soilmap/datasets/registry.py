"""The catalogue of public datasets soilmap's demo, tests and benchmarks use.

Each dataset (``tigray``, ``bhutan_gsocseq`` ...) lists its files with their origin
URL, SHA-256 and size, and says what it is, its licence and how to cite it: the
data belong to their publishers, soilmap only says where they are
(``catalogue.toml`` beside this module; :mod:`soilmap.datasets.fetch` gets them).
A file's ``path`` is its place in a local mirror (``SOILMAP_DATA``) and in the cache.
"""

from __future__ import annotations

import difflib
import posixpath
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from soilmap.errors import UnknownDatasetError

__all__ = ["DataFile", "Dataset", "get_dataset", "list_datasets"]


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    Attributes
    ----------
    path : str
        Place in a mirror and in the cache, e.g.
        ``"soilgrids2017_clips/tigray_ethiopia/ORCDRC_sl1.tif"``.
    url : str
        Where the publisher serves exactly these bytes ("" if the file is derived:
        then only a mirror has it).
    sha256 : str
        SHA-256 of the file, hex.
    size : int
        Bytes.
    derived : str
        How the file is made from its origin file ("" when it is the origin's bytes).
    process : str
        The transform that turns the origin file into this one (``"json"``: parsed
        and written again by Python's ``json``); "" when the origin's bytes are kept.
    origin_sha256 : str
        SHA-256 of the origin file, when ``process`` is set.
    """

    path: str
    url: str
    sha256: str
    size: int
    derived: str = ""
    process: str = ""
    origin_sha256: str = ""

    @property
    def name(self) -> str:
        """The file name."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Dataset:
    """A named set of files with its provenance.

    Attributes
    ----------
    name, title, description, licence, citation : str
    source : str
        The publisher's repository and commit the files come from.
    files : tuple of DataFile
    """

    name: str
    title: str
    description: str
    licence: str
    citation: str
    source: str
    files: tuple[DataFile, ...]

    @property
    def root(self) -> str:
        """The folder all files of the dataset are in (registry path)."""
        return posixpath.commonpath([posixpath.dirname(f.path) for f in self.files])

    def key(self, f: DataFile) -> str:
        """A file's path within the dataset: its registry path less :attr:`root`."""
        return posixpath.relpath(f.path, self.root)

    @property
    def size(self) -> int:
        """Bytes of all files."""
        return sum(f.size for f in self.files)

    def file(self, name: str) -> DataFile:
        """The file with this name (or mirror path)."""
        for f in self.files:
            if name in (f.name, f.path, self.key(f)):
                return f
        raise UnknownDatasetError(
            f"dataset {self.name!r} has no file {name!r}; its files: "
            f"{', '.join(f.name for f in self.files)}."
        )

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (``soilmap data info``)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "licence": self.licence,
            "citation": self.citation,
            "source": self.source,
            "size_bytes": self.size,
            "files": [
                {"path": f.path, "url": f.url, "sha256": f.sha256, "size": f.size}
                | ({"derived": f.derived, "origin_sha256": f.origin_sha256} if f.derived else {})
                for f in self.files
            ],
        }


@cache
def _catalogue() -> dict[str, Dataset]:
    text = resources.files("soilmap.datasets").joinpath("catalogue.toml").read_text("utf-8")
    out = {}
    for name, d in tomllib.loads(text).items():
        files = tuple(
            DataFile(
                path=f["path"],
                url=f.get("url", ""),
                sha256=f["sha256"],
                size=int(f["size"]),
                derived=f.get("derived", ""),
                process=f.get("process", ""),
                origin_sha256=f.get("origin_sha256", ""),
            )
            for f in d["files"]
        )
        out[name] = Dataset(
            name=name,
            title=d["title"],
            description=d.get("description", ""),
            licence=d["licence"],
            citation=d["citation"],
            source=d["source"],
            files=files,
        )
    return out


def list_datasets() -> list[str]:
    """Names of the datasets in the registry.

    >>> "tigray" in list_datasets()
    True
    """
    return sorted(_catalogue())


def get_dataset(name: str) -> Dataset:
    """The dataset called ``name``.

    Raises
    ------
    soilmap.errors.UnknownDatasetError
        No such dataset (the message suggests the closest names).
    """
    catalogue = _catalogue()
    if name not in catalogue:
        close = difflib.get_close_matches(name, catalogue, n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownDatasetError(
            f"no dataset {name!r} in soilmap's registry.{hint} The datasets are: "
            f"{', '.join(sorted(catalogue))} (`soilmap data list`)."
        )
    return catalogue[name]
