"""Typed errors raised by soilmap.

Every error derives from :class:`SoilmapError` and from the builtin exception a
Python user would expect (``FileNotFoundError``, ``ValueError`` ...), so both
``except SoilmapError`` and ``except ValueError`` work.  Messages name the input,
the problem and the fix.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "CRSError",
    "ClassTableError",
    "ConfigError",
    "DatasetChecksumError",
    "DatasetDownloadError",
    "DatasetError",
    "GridMismatchError",
    "ImplausibleValuesError",
    "InputError",
    "InputNotFoundError",
    "NoOverlapError",
    "NoValidDataError",
    "OutputBusyError",
    "OutputExistsError",
    "OutputPermissionError",
    "OutputSpaceError",
    "SoilmapError",
    "UnitsError",
    "UnknownClassError",
    "UnknownDatasetError",
    "UnknownSchemeError",
    "exit_code",
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


class ImplausibleValuesError(InputError):
    """Cells of an input lie outside their plausible range (undeclared sentinels, outliers)."""


class NoValidDataError(InputError):
    """An input, or the part of it inside the regions, holds no valid cell."""


class RothCInputError(InputError):
    """A RothC input (``RothC_input.dat``, a climate stack, a ``[rothc]`` value) is invalid."""


class RothCCalibrationError(SoilmapError):
    """RothC inputs cannot be scaled so that the equilibrium equals the observed stock."""


class OutputPermissionError(SoilmapError, PermissionError):
    """The output folder cannot be written (no permission, read-only file system)."""


class OutputBusyError(SoilmapError, RuntimeError):
    """Another run is writing into the same output folder."""


class DepthConflictError(InputError):
    """The depth range a SOC file states (preset, tags, name) differs from the declared one."""


#: Exit code of the ``soilmap`` command per error class (the first match wins).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigError, 2),
    (InputError, 1),
    (DatasetError, 1),
    (OutputExistsError, 3),
    (OutputSpaceError, 3),
    (OutputPermissionError, 3),
    (OutputBusyError, 3),
    (SoilmapError, 1),
)


def exit_code(exc: BaseException) -> int:
    """The ``soilmap`` command's exit code for ``exc`` (4: an internal error)."""
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 4)
