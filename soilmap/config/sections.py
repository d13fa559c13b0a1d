"""The sections of a run description: SOC, land cover, regions, output."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from soilmap.errors import ConfigError
from soilmap.options import CODECS, Codec, get_options
from soilmap.soc.spec import SocSpec

__all__ = ["LandcoverConfig", "OutputConfig", "RegionsConfig", "SocConfig", "soc_paths"]

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
