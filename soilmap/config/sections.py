"""The sections of a run description: SOC, land cover, regions, output."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from soilmap.errors import ConfigError, CRSError
from soilmap.options import CODECS, Codec, get_options
from soilmap.soc.spec import SocSpec

__all__ = [
    "EXTENT_KEYS",
    "MISSING_IDS",
    "ExtentConfig",
    "LandcoverConfig",
    "OutputConfig",
    "RegionsConfig",
    "SocConfig",
    "extent_config",
    "soc_paths",
]

#: The ``[soc]`` section: see :class:`soilmap.soc.spec.SocSpec`.
SocConfig = SocSpec


def soc_paths(soc: SocSpec) -> list[Path]:
    """Every input file of the SOC section."""
    paths = (
        [soc.stock]
        if soc.stock is not None
        else [*soc.content, *soc.bulk_density, *soc.coarse_fragments]
    )
    paths += [q for q in (soc.lower, soc.upper, soc.sd, soc.relative_uncertainty) if q]
    return [Path(q) for q in paths if q is not None]


@dataclass(frozen=True)
class LandcoverConfig:
    """Land-cover raster and its class table (preset name or table file)."""

    path: Path
    scheme: str
    unknown: Literal["error", "excluded"] = "error"
    #: "area" (area-weighted fractions from any grid) or "nearest" (class under each
    #: cell centre, explicit opt-in).
    method: Literal["area", "nearest"] = "area"
    #: Vector masks (protected areas, peat, urban ...) whose area is excluded.
    exclude: tuple[Path, ...] = ()
    #: Raster masks: non-zero cells are excluded (any grid, as area shares).
    exclude_rasters: tuple[Path, ...] = ()
    #: Custom groups of the class table declared on purpose although within two edits
    #: of a standard name (``[groups] custom = [...]``).
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in ("area", "nearest"):
            raise ConfigError(f"landcover method must be 'area' or 'nearest', not {self.method!r}.")
        if self.unknown not in ("error", "excluded"):
            raise ConfigError(
                f"landcover unknown must be 'error' or 'excluded', not {self.unknown!r}."
            )


@dataclass(frozen=True)
class RegionsConfig:
    """Region polygons for the zonal statistics."""

    path: Path
    id_field: str
    name_field: str | None = None
    layer: str | None = None
    crs: str | None = None
    invalid: Literal["repair", "error"] = "repair"
    #: Numeric field with each region's emissions (t CO2e yr-1), to report the share
    #: the potential would offset.
    emissions_field: str | None = None
    #: Region ids that repeat: "error", "suffix" (ID_1, ID_2 ...) or "dissolve".
    duplicate_ids: Literal["error", "suffix", "dissolve"] = "error"
    #: Features whose id is NULL or empty: "error" (with their rows) or "drop".
    missing_ids: Literal["error", "drop"] = "error"

    def __post_init__(self) -> None:
        if self.missing_ids not in MISSING_IDS:
            raise ConfigError(
                f"regions missing_ids must be 'error' or 'drop', not {self.missing_ids!r}."
            )
        if self.crs is not None:
            _check_crs(self.crs, "--regions-crs (crs under [regions])")


#: The ``missing_ids`` policies of the regions.
MISSING_IDS = ("error", "drop")


def _check_crs(value: str, what: str) -> None:
    """A CRS string of the configuration: pyproj's error text as a ConfigError."""
    from soilmap.io.vector import check_crs

    try:
        check_crs(value, what)
    except CRSError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass(frozen=True)
class OutputConfig:
    """Where and how outputs are written."""

    dir: Path
    overwrite: bool = False
    #: Raster codec; default: the ``compress`` option (:func:`soilmap.set_options`).
    compress: Codec = field(default_factory=lambda: get_options()["compress"])

    def __post_init__(self) -> None:
        if self.compress not in CODECS:
            raise ConfigError(
                f"compress must be one of {', '.join(CODECS)}, not {self.compress!r}."
            )


#: Keys of the ``[run]`` section that set the extent of a run.
EXTENT_KEYS = {"extent", "bbox", "bbox_crs"}


@dataclass(frozen=True)
class ExtentConfig:
    """Which cells a run covers.

    ``"regions"`` (the default): the bounding box of the regions, snapped outward to
    whole SOC cells (the whole raster when a run has no regions); ``"raster"``: the
    whole SOC raster; ``"bbox"``: the window ``bbox`` = (west, south, east, north),
    in the SOC CRS or in ``crs``, snapped outward to whole cells.
    """

    mode: Literal["regions", "raster", "bbox"] = "regions"
    bbox: tuple[float, float, float, float] | None = None
    crs: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("regions", "raster", "bbox"):
            raise ConfigError(f"extent must be 'regions' or 'raster', not {self.mode!r}.")
        if (self.mode == "bbox") != (self.bbox is not None):
            raise ConfigError("give a bbox (W S E N) for a bbox extent, and only then.")
        if self.crs is not None and self.bbox is None:
            raise ConfigError("bbox_crs (--bbox-crs) needs a bbox (--bbox W S E N).")
        if self.crs is not None:
            _check_crs(self.crs, "--bbox-crs (bbox_crs under [run])")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if len(self.bbox) != 4 or not all(math.isfinite(v) for v in self.bbox):
                raise ConfigError(f"bbox must be 4 finite numbers W S E N, not {self.bbox!r}.")
            if not (w < e and s < n):
                raise ConfigError(
                    f"bbox {list(self.bbox)} is empty or inverted: give west < east and "
                    "south < north (W S E N)."
                )


def extent_config(run: Mapping[str, Any], where: str) -> ExtentConfig:
    """The extent from the ``extent``, ``bbox`` and ``bbox_crs`` keys of ``[run]``."""
    bbox = run.get("bbox")
    mode = run.get("extent", "bbox" if bbox is not None else "regions")
    try:
        box = tuple(float(v) for v in bbox) if bbox is not None else None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bbox must be [W, S, E, N] numbers ({exc}).") from exc
    if box is not None and len(box) != 4:
        raise ConfigError(f"{where}: bbox must be [W, S, E, N], not {bbox!r}.")
    return ExtentConfig(mode=mode, bbox=box, crs=run.get("bbox_crs"))
