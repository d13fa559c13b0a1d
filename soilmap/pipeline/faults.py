"""What a failed write or read of a run's pass means: a full disk, or a broken input.

GDAL reports both as the same kinds of error (:class:`rasterio.errors.RasterioError`,
``CPLE_*``); :func:`faults_translated` tells them apart and raises the typed error
that names the fix.  :func:`check_disk_space` refuses a run that cannot fit before
anything is computed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from soilmap.errors import InputError, OutputSpaceError
from soilmap.io.staging import OutputStage
from soilmap.outputs.cog import ScratchRaster
from soilmap.outputs.write import is_disk_full

__all__ = ["check_disk_space", "faults_translated"]


def _space_advice(targets: Mapping[str, ScratchRaster]) -> str:
    bands = sum(t.bands for t in targets.values())
    h, w = next(iter(targets.values())).shape
    return (
        f"The run writes {len(targets)} rasters ({bands} bands of {h:,} x {w:,} cells) as "
        "uncompressed scratch files (4 bytes per cell and float band) beside the outputs "
        "before compressing them to COGs. Free space on that disk, or choose an --out "
        "folder on a disk with more room."
    )


def _disk_full(exc: Exception, where: Path) -> bool:
    """Whether a GDAL error is a write that ran out of disk."""
    text = str(exc).lower()
    if "no space left" in text or "disk full" in text:
        return True
    # GDAL does not always say why a write failed: an almost full disk says it.
    return "write" in text and shutil.disk_usage(where).free < 64 * 2**20


def check_disk_space(where: Path, targets: Mapping[str, ScratchRaster]) -> None:
    """Refuse to start a run whose scratch files cannot fit on the disk.

    What the run certainly needs at its peak: every scratch file written in full,
    plus the overviews of the two largest (two COG copies run at a time). The COGs
    themselves need more, so this never refuses a run that could succeed.

    Raises
    ------
    soilmap.errors.OutputSpaceError
        If the disk holding ``where`` has less free space than that.
    """
    if not targets:
        return
    overviews = sorted((t.overview_bytes for t in targets.values()), reverse=True)[:2]
    need = sum(t.scratch_bytes for t in targets.values()) + sum(overviews)
    free = shutil.disk_usage(where).free
    if free < need:
        raise OutputSpaceError(
            f"{where.parent}: the run needs at least {need / 1e9:.1f} GB of free disk, only "
            f"{free / 1e9:.1f} GB are free. {_space_advice(targets)}"
        )


@contextlib.contextmanager
def faults_translated(
    stage: OutputStage, targets: Mapping[str, ScratchRaster], inputs: Sequence[Path]
) -> Iterator[None]:
    """Raise GDAL's errors of the pass and the COG copies as what they mean.

    Raises
    ------
    soilmap.errors.OutputSpaceError
        The disk filled up while writing.
    soilmap.errors.InputError
        An input block cannot be decoded (truncated or corrupted file).
    """
    try:
        yield
    except Exception as exc:
        gdal_error = isinstance(exc, RasterioError | CPLE_BaseError)
        # ("TIFFWriteDirectoryTagData:IO error writing tag data": a scratch file on a
        # full disk, GDAL's own message does not say why.)
        if is_disk_full(exc) or (gdal_error and _disk_full(exc, stage.dir)):
            free = shutil.disk_usage(stage.out_dir).free
            raise OutputSpaceError(
                f"writing the outputs in {stage.out_dir} failed: the disk is full "
                f"({free / 1e6:.1f} MB free; {exc}). {_space_advice(targets)}"
            ) from exc
        if not gdal_error:
            raise
        # A block that GDAL cannot decode shows up only when it is read.
        raise InputError(
            f"reading an input failed while computing the outputs: {exc}. The file "
            "is probably truncated or corrupted: re-download or re-export it. Inputs: "
            f"{', '.join(str(q) for q in inputs)}."
        ) from exc
