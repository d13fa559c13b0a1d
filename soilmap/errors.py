"""Typed errors raised by soilmap.

Every error derives from :class:`SoilmapError` and from the builtin exception a
Python user would expect (``FileNotFoundError``, ``ValueError`` ...), so both
``except SoilmapError`` and ``except ValueError`` work.  Messages name the input,
the problem and the fix.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "ClassTableError",
    "ConfigError",
    "DatasetChecksumError",
    "DatasetDownloadError",
    "DatasetError",
    "GridMismatchError",
    "InputError",
    "InputNotFoundError",
    "NoOverlapError",
    "OutputExistsError",
    "OutputSpaceError",
    "SoilmapError",
    "UnitsError",
    "UnknownClassError",
    "UnknownDatasetError",
    "UnknownSchemeError",
]


class SoilmapError(Exception):
    """Root of every error soilmap raises on purpose."""


class InputError(SoilmapError, ValueError):
    """An input file or value cannot be used as given."""


class InputNotFoundError(InputError, FileNotFoundError):
    """An input path does not exist or cannot be opened."""


class CRSError(InputError):
    """An input has no coordinate reference system, or an unusable one."""


class GridMismatchError(InputError):
    """Rasters that must share a grid do not."""


class NoOverlapError(InputError):
    """Two inputs that must overlap do not share any ground."""


class UnitsError(InputError):
    """Units are missing, unknown, or inconsistent with the values."""


class ClassTableError(InputError):
    """A land-cover class table is malformed (duplicate codes, bad columns ...)."""


class UnknownSchemeError(ClassTableError):
    """A land-cover scheme name is neither a preset nor a readable table file."""


class UnknownClassError(ClassTableError):
    """Land-cover codes occur in the data but not in the class table."""


class ConfigError(InputError):
    """A run configuration is invalid."""


class OutputExistsError(SoilmapError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class OutputSpaceError(SoilmapError, OSError):
    """The output disk has too little free space for the run's files."""


class DatasetError(SoilmapError):
    """A dataset of the registry cannot be had (see :mod:`soilmap.datasets`)."""


class UnknownDatasetError(DatasetError, KeyError):
    """No dataset of that name in the registry."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


class DatasetDownloadError(DatasetError, OSError):
    """A file could not be read from the mirror or downloaded (no network, server down)."""


class DatasetChecksumError(DatasetError, ValueError):
    """A file's SHA-256 is not the registry's (corrupted, truncated or another version)."""


class DepthConflictError(InputError):
    """The depth range a SOC file states (preset, tags, name) differs from the declared one."""
