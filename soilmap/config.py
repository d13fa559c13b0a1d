"""RunConfig: a whole batch run, from a TOML file or from command-line flags.

Notebooks and the CLI share this one validated, frozen object.  Relative paths in a
config file are taken from the file's folder, so a config travels with its data.

Example (``sample_data/tigray.toml``)::

    [soc.layers]
    kind = "point"
    depths_cm = [0, 5, 15, 30]
    content = ["ORCDRC_sl1.tif", "ORCDRC_sl2.tif", "ORCDRC_sl3.tif", "ORCDRC_sl4.tif"]
    content_units = "g kg-1"
    bulk_density = ["BLDFIE_sl1.tif", ...]
    bulk_density_units = "kg m-3"

    [landcover]
    path = "LC_250m_ESACCI2010.tif"
    scheme = "esa_cci_lc"

    [regions]
    path = "tigray_regions.gpkg"
    id_field = "admin2Pcod"
    name_field = "admin2Name"

    [scenario]
    rate = 0.004
    start_year = 2020
    horizons = [2030, 2050]
    growth = "linear"

    [output]
    dir = "soilmap-demo"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from soilmap.errors import ConfigError, InputNotFoundError
from soilmap.scenario import Scenario

__all__ = [
    "LandcoverConfig",
    "OutputConfig",
    "RegionsConfig",
    "RunConfig",
    "SocConfig",
    "load_config",
]


@dataclass(frozen=True)
class SocConfig:
    """Where the initial SOC stock comes from: a stock raster, or layer properties."""

    stock: Path | None = None
    units: str | None = None
    content: tuple[Path, ...] = ()
    content_units: str | None = None
    bulk_density: tuple[Path, ...] = ()
    bulk_density_units: str | None = None
    coarse_fragments: tuple[Path, ...] = ()
    coarse_fragments_units: str | None = None
    depths_cm: tuple[Any, ...] = ()
    kind: Literal["point", "interval"] = "point"
    top_cm: float = 0.0
    bottom_cm: float = 30.0
    nodata: float | None = None

    def __post_init__(self) -> None:
        if (self.stock is None) == (not self.content):
            raise ConfigError(
                "give the SOC either as a stock raster ([soc] stock = ..., or --soc) or as "
                "layer properties ([soc.layers] content/bulk_density/depths_cm), not both/neither."
            )
        if self.content and not (self.bulk_density and self.depths_cm):
            raise ConfigError("[soc.layers] needs bulk_density and depths_cm next to content.")
        if self.content and not (self.content_units and self.bulk_density_units):
            raise ConfigError(
                "[soc.layers] needs content_units (e.g. 'g kg-1') and bulk_density_units "
                "(e.g. 'kg m-3'): soilmap never guesses units."
            )

    @property
    def paths(self) -> list[Path]:
        if self.stock is not None:
            return [self.stock]
        return [*self.content, *self.bulk_density, *self.coarse_fragments]


@dataclass(frozen=True)
class LandcoverConfig:
    """Land-cover raster and its class table (preset name or table file)."""

    path: Path
    scheme: str
    unknown: Literal["error", "excluded"] = "error"

    def __post_init__(self) -> None:
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


@dataclass(frozen=True)
class OutputConfig:
    """Where and how outputs are written."""

    dir: Path
    overwrite: bool = False
    compress: Literal["deflate", "zstd", "lzw"] = "deflate"

    def __post_init__(self) -> None:
        if self.compress not in ("deflate", "zstd", "lzw"):
            raise ConfigError(f"compress must be deflate, zstd or lzw, not {self.compress!r}.")


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs."""

    soc: SocConfig
    regions: RegionsConfig
    output: OutputConfig
    landcover: LandcoverConfig | None = None
    scenario: Scenario = field(default_factory=Scenario)
    chunks: tuple[int, int] | None = None
    source: Path | None = None

    def with_output(self, dir: str | os.PathLike, *, overwrite: bool | None = None) -> RunConfig:
        """A copy writing into ``dir`` (and, if given, with another overwrite policy)."""
        output = replace(
            self.output,
            dir=Path(dir),
            overwrite=self.output.overwrite if overwrite is None else overwrite,
        )
        return replace(self, output=output)

    def input_paths(self) -> list[Path]:
        paths = [*self.soc.paths, self.regions.path]
        if self.landcover is not None:
            paths.insert(len(self.soc.paths), self.landcover.path)
        return paths

    def check_inputs_exist(self) -> None:
        """Raise :class:`~soilmap.errors.InputNotFoundError` naming every missing input."""
        missing = [str(p) for p in self.input_paths() if not Path(p).exists()]
        if missing:
            base = f" (relative to {self.source.parent})" if self.source else ""
            raise InputNotFoundError(
                f"input file(s) not found{base}: {', '.join(missing)}. Check the paths."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``run.json``."""

        def clean(v: Any) -> Any:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, Mapping):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            return v

        d = {k: clean(v) for k, v in asdict(self).items() if k != "scenario"}
        d["scenario"] = self.scenario.to_dict()
        return d


def _section(data: Mapping[str, Any], name: str, allowed: set[str], where: str) -> dict:
    sec = data.get(name, {})
    if not isinstance(sec, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table.")
    unknown = set(sec) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)} in [{name}]; allowed: {sorted(allowed)}."
        )
    return dict(sec)


def _paths(base: Path, value: Any) -> tuple[Path, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(base / str(v) for v in values)


def config_from_mapping(data: Mapping[str, Any], *, base: Path, where: str) -> RunConfig:
    """Build a :class:`RunConfig` from parsed TOML (paths relative to ``base``)."""
    top = set(data) - {"soc", "landcover", "regions", "scenario", "output", "run"}
    if top:
        raise ConfigError(f"{where}: unknown section(s) {sorted(top)}.")
    soc = _section(data, "soc", {"stock", "units", "nodata", "layers"}, where)
    layers = soc.pop("layers", {})
    lay_keys = {
        "content",
        "content_units",
        "bulk_density",
        "bulk_density_units",
        "coarse_fragments",
        "coarse_fragments_units",
        "depths_cm",
        "kind",
        "top_cm",
        "bottom_cm",
    }
    if not isinstance(layers, Mapping) or set(layers) - lay_keys:
        raise ConfigError(f"{where}: [soc.layers] allows {sorted(lay_keys)}.")
    try:
        soc_cfg = SocConfig(
            stock=base / soc["stock"] if "stock" in soc else None,
            units=soc.get("units"),
            nodata=soc.get("nodata"),
            content=_paths(base, layers["content"]) if "content" in layers else (),
            content_units=layers.get("content_units"),
            bulk_density=_paths(base, layers.get("bulk_density", [])) if layers else (),
            bulk_density_units=layers.get("bulk_density_units"),
            coarse_fragments=_paths(base, layers["coarse_fragments"])
            if "coarse_fragments" in layers
            else (),
            coarse_fragments_units=layers.get("coarse_fragments_units"),
            depths_cm=tuple(
                tuple(d) if isinstance(d, list) else d for d in layers.get("depths_cm", [])
            ),
            kind=layers.get("kind", "point"),
            top_cm=float(layers.get("top_cm", 0.0)),
            bottom_cm=float(layers.get("bottom_cm", 30.0)),
        )
        lc = _section(data, "landcover", {"path", "scheme", "unknown"}, where)
        lc_cfg = None
        if lc:
            if "path" not in lc or "scheme" not in lc:
                raise ConfigError(f"{where}: [landcover] needs path and scheme.")
            scheme = str(lc["scheme"])
            # A scheme that names a table file is relative to the config too.
            if Path(scheme).suffix.lower() in (".csv", ".yaml", ".yml"):
                scheme = str(base / scheme)
            lc_cfg = LandcoverConfig(
                path=base / lc["path"], scheme=scheme, unknown=lc.get("unknown", "error")
            )
        rg = _section(
            data, "regions", {"path", "id_field", "name_field", "layer", "crs", "invalid"}, where
        )
        if "path" not in rg or "id_field" not in rg:
            raise ConfigError(f"{where}: [regions] needs path and id_field.")
        rg_cfg = RegionsConfig(
            path=base / rg["path"],
            id_field=rg["id_field"],
            name_field=rg.get("name_field"),
            layer=rg.get("layer"),
            crs=rg.get("crs"),
            invalid=rg.get("invalid", "repair"),
        )
        sc = _section(
            data,
            "scenario",
            {"name", "rate", "start_year", "horizons", "growth", "eligible", "co2e_factor"},
            where,
        )
        if "horizons" in sc:
            sc["horizons"] = tuple(sc["horizons"])
        if "eligible" in sc:
            sc["eligible"] = tuple(sc["eligible"])
        scenario = Scenario(**sc)
        out = _section(data, "output", {"dir", "overwrite", "compress"}, where)
        if "dir" not in out:
            raise ConfigError(f"{where}: [output] needs dir.")
        out_cfg = OutputConfig(
            dir=base / out["dir"],
            overwrite=bool(out.get("overwrite", False)),
            compress=out.get("compress", "deflate"),
        )
        run = _section(data, "run", {"chunks"}, where)
        chunks = tuple(run["chunks"]) if "chunks" in run else None
    except (TypeError, ValueError, KeyError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from exc
    return RunConfig(
        soc=soc_cfg,
        landcover=lc_cfg,
        regions=rg_cfg,
        scenario=scenario,
        output=out_cfg,
        chunks=chunks,
    )  # type: ignore[arg-type]


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a TOML run configuration.

    Raises
    ------
    soilmap.errors.InputNotFoundError
        The file does not exist.
    soilmap.errors.ConfigError
        The file is not valid TOML or not a valid run description.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"config file {str(p)!r} does not exist.")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}).") from exc
    cfg = config_from_mapping(data, base=p.resolve().parent, where=str(p))
    return replace(cfg, source=p.resolve())
