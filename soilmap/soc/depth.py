"""The depth range of a SOC stock raster: declared, from the product preset, the file's
tags or its name; never silently 0–30 cm.

>>> depth_from_name("SOCS_0_200cm_year_2010AD_10km.tif")
(0.0, 200.0)
>>> depth_from_name("stock_0-100cm.tif"), depth_from_name("Bhutan_GSOCseq_T0_Map030.tif")
((0.0, 100.0), (0.0, 30.0))
>>> depth_from_name("soc_2020.tif") is None
True
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

from soilmap.errors import ConfigError, DepthConflictError

__all__ = [
    "ASPIRATION_DEPTH_CM",
    "depth_from_name",
    "depth_from_tags",
    "parse_depth",
    "stock_depth",
]

log = logging.getLogger("soilmap.soc")

#: The 4 per 1000 aspiration concerns the top 30–40 cm of soil.
ASPIRATION_DEPTH_CM = 40.0

# 0_200cm, 0-100cm, 0-30 cm, 0to30cm
_RANGE_CM = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:[_-]|to)\s*(\d+(?:\.\d+)?)\s*cm(?![a-z])", re.I
)
# 030 / 0100 in national names (Map030 = 0–30 cm): a token of "0" + the bottom depth
_COMPACT = re.compile(r"(?<![\d])0(\d{2,3})(?!\d)")
# a bare 0-30 in a dash-separated name (GSOCseq: ...-2021-0-30.tif)
_BARE = re.compile(r"(?<![\d.])(0)-(\d{1,3})(?=[-_.]|$)")


def parse_depth(text: str) -> tuple[float, float]:
    """``"0-30"`` (or ``"0-30cm"``) as ``(0.0, 30.0)``; :class:`ConfigError` otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[-–_]\s*(\d+(?:\.\d+)?)\s*(?:cm)?\s*", str(text))
    if not m or float(m[1]) >= float(m[2]):
        raise ConfigError(
            f"SOC depth {text!r}: give the range in cm as TOP-BOTTOM, e.g. --soc-depth 0-30."
        )
    return float(m[1]), float(m[2])


def depth_from_name(name: str | Path) -> tuple[float, float] | None:
    """The depth range a file name states (``0_200cm``, ``0-100cm``, ``Map030``)."""
    stem = Path(name).name
    for pattern in (_RANGE_CM, _BARE):
        m = pattern.search(stem)
        if m and float(m[1]) < float(m[2]):
            return float(m[1]), float(m[2])
    m = _COMPACT.search(stem)
    if m:
        return 0.0, float(m[1])
    return None


def depth_from_tags(tags: Mapping[str, str]) -> tuple[float, float] | None:
    """The depth range a raster's tags state (keys mentioning ``depth``)."""
    for key, value in tags.items():
        if "depth" in key.lower():
            m = _RANGE_CM.search(str(value)) or re.search(
                r"(\d+(?:\.\d+)?)\s*[-–_]\s*(\d+(?:\.\d+)?)", str(value)
            )
            if m and float(m[1]) < float(m[2]):
                return float(m[1]), float(m[2])
    return None


def stock_depth(
    path: Path,
    *,
    declared: tuple[float, float] | None,
    preset: tuple[float, float] | None,
    tags: Mapping[str, str],
    assumptions: list[str],
) -> tuple[float, float]:
    """The depth range of a stock raster, with the assumption stated when there is one.

    Parameters
    ----------
    path : Path
        The raster (for its name and for messages).
    declared : (float, float), optional
        What the user declared (``--soc-depth``, ``top_cm``/``bottom_cm``).
    preset : (float, float), optional
        What the product preset reads from the file name.
    tags : mapping
        The raster's metadata tags.
    assumptions : list of str
        Where assumptions and notes are appended (``run.json``); they are also logged.

    Raises
    ------
    soilmap.errors.DepthConflictError
        When the file states a depth range other than the declared one.
    """
    stated = [
        (what, d)
        for what, d in (
            ("its product preset", preset),
            ("its tags", depth_from_tags(tags)),
            ("its name", depth_from_name(path)),
        )
        if d is not None
    ]
    if declared is not None:
        for what, d in stated:
            if d != declared:
                raise DepthConflictError(
                    f"SOC stock {str(path)!r} is a {d[0]:g}-{d[1]:g} cm stock by {what}, but "
                    f"{declared[0]:g}-{declared[1]:g} cm was declared. A stock cannot be "
                    f"re-harmonised to another depth: declare --soc-depth {d[0]:g}-{d[1]:g} "
                    "(top_cm/bottom_cm), or give the SOC as layer properties."
                )
        depth = declared
    elif stated:
        depth = stated[0][1]
        assumptions.append(
            f"SOC stock {path.name}: depth {depth[0]:g}-{depth[1]:g} cm, from {stated[0][0]}"
        )
    else:
        depth = (0.0, 30.0)
        text = (
            f"SOC stock {path.name}: no depth stated (no preset, tag or name gives it); "
            "assumed 0-30 cm. Declare --soc-depth TOP-BOTTOM (top_cm/bottom_cm) if it is not."
        )
        assumptions.append(text)
        log.warning(text)
    if depth[1] > ASPIRATION_DEPTH_CM:
        note = (
            f"note: the SOC stock is {depth[0]:g}-{depth[1]:g} cm; the 4 per 1000 aspiration "
            "concerns the top 30-40 cm of soil, so 0.4 % of this deeper stock is not the "
            "initiative's target."
        )
        assumptions.append(note)
        log.warning(note)
    return depth
