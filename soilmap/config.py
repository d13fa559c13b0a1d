"""RunConfig: a whole batch run, from a TOML file or from command-line flags.

Notebooks and the CLI share this one validated, frozen object.  Relative paths in a
config file are taken from the file's folder, so a config travels with its data.

Example (``soilmap/datasets/tigray.toml``, the sample's config)::

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
from soilmap.options import CODECS, Codec, get_options
from soilmap.scenario.model import Saturation, Scenario
from soilmap.soc.spec import SocSpec

__all__ = [
    "LandcoverConfig",
    "OutputConfig",
    "RegionsConfig",
    "RunConfig",
    "SocConfig",
    "load_config",
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


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs."""

    soc: SocConfig
    regions: RegionsConfig
    output: OutputConfig
    landcover: LandcoverConfig | None = None
    scenarios: tuple[Scenario, ...] = field(default_factory=lambda: (Scenario(),))
    chunks: tuple[int, int] | int | None = None
    source: Path | None = None
    scheduler: str | None = None
    workers: int | None = None
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise ConfigError("give at least one scenario.")
        names = [s.name for s in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"scenario names must be unique; repeated: {', '.join(dupes)}.")

    @property
    def scenario(self) -> Scenario:
        """The scenario of a single-scenario run (the first one otherwise)."""
        return self.scenarios[0]

    def with_output(self, dir: str | os.PathLike, *, overwrite: bool | None = None) -> RunConfig:
        """A copy writing into ``dir`` (and, if given, with another overwrite policy)."""
        output = replace(
            self.output,
            dir=Path(dir),
            overwrite=self.output.overwrite if overwrite is None else overwrite,
        )
        return replace(self, output=output)

    @classmethod
    def from_flags(cls, config_path: str | os.PathLike | None = None, **flags: Any) -> RunConfig:
        """A run from a config file and/or the ``soilmap run`` flags (flags override it).

        Parameters
        ----------
        config_path : path-like, optional
            TOML run configuration.
        **flags
            The flags of ``soilmap run`` by their Python names (``soc``,
            ``soc_units``, ``landcover``, ``region_id``, ``horizon`` ...; see
            :data:`FLAGS`); ``None`` or empty leaves the file's value.

        Raises
        ------
        soilmap.errors.ConfigError
            Neither a file nor the required flags, or flags that do not fit.
        """
        cfg = load_config(config_path) if config_path else None
        return _from_flags(cfg, flags)

    def with_flags(self, **flags: Any) -> RunConfig:
        """This run with ``soilmap run`` flags laid over it (see :meth:`from_flags`)."""
        return _from_flags(self, flags)

    def input_paths(self) -> list[Path]:
        paths = soc_paths(self.soc)
        if self.landcover is not None:
            lc = self.landcover
            paths += [lc.path, *lc.exclude, *lc.exclude_rasters]
        for sc in self.scenarios:
            if sc.rate_raster is not None:
                paths.append(sc.rate_raster)
            if sc.saturation is not None:
                sat = sc.saturation
                paths += [*sat.fine_fraction, *([sat.stock] if sat.stock else [])]
        paths.append(self.regions.path)
        return list(dict.fromkeys(paths))

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

        d = {k: clean(v) for k, v in asdict(self).items() if k != "scenarios"}
        d["scenarios"] = [sc.to_dict() for sc in self.scenarios]
        return d


_SOC_KEYS = {
    "stock",
    "units",
    "product",
    "layer",
    "nodata",
    "sentinels",
    "valid_range",
    "rules",
    "product_rules",
    "lower",
    "upper",
    "sd",
    "z",
    "relative_uncertainty",
    "uncertainty_units",
    "unit_check",
    "sample_cells",
}
_SOC_LAYER_KEYS = {
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
_SCENARIO_KEYS = {
    "name",
    "rate",
    "start_year",
    "horizons",
    "growth",
    "eligible",
    "co2e_factor",
    "rate_raster",
    "saturation",
}
_SATURATION_KEYS = {
    "method",
    "intercept",
    "slope",
    "fine_fraction",
    "fine_fraction_definition",
    "fine_fraction_units",
    "stock",
    "stock_units",
}


def _scenario(table: Any, base: Path, where: str) -> Scenario:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: [scenario] must be a table or an array of tables.")
    sc = _section({"scenario": table}, "scenario", _SCENARIO_KEYS, where)
    for key in ("horizons", "eligible"):
        if key in sc:
            sc[key] = tuple(sc[key])
    if "rate_raster" in sc:
        sc["rate_raster"] = base / sc["rate_raster"]
    if "saturation" in sc:
        sat = _section({"saturation": sc["saturation"]}, "saturation", _SATURATION_KEYS, where)
        if "fine_fraction" in sat:
            sat["fine_fraction"] = _paths(base, sat["fine_fraction"])
        if "stock" in sat:
            sat["stock"] = base / sat["stock"]
        sc["saturation"] = Saturation(**sat)
    return Scenario(**sc)


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


_LANDCOVER_KEYS = {"path", "scheme", "unknown", "method", "exclude", "exclude_rasters"}
_REGIONS_KEYS = {
    "path",
    "id_field",
    "name_field",
    "layer",
    "crs",
    "invalid",
    "emissions_field",
    "duplicate_ids",
}


def _landcover_config(data: Mapping[str, Any], base: Path, where: str) -> LandcoverConfig | None:
    """The ``[landcover]`` section, or None when the file has none."""
    lc = _section(data, "landcover", _LANDCOVER_KEYS, where)
    if not lc:
        return None
    if "path" not in lc or "scheme" not in lc:
        raise ConfigError(f"{where}: [landcover] needs path and scheme.")
    scheme = str(lc["scheme"])
    # A scheme that names a table file is relative to the config too.
    if Path(scheme).suffix.lower() in (".csv", ".yaml", ".yml"):
        scheme = str(base / scheme)
    return LandcoverConfig(
        path=base / lc["path"],
        scheme=scheme,
        unknown=lc.get("unknown", "error"),
        method=lc.get("method", "area"),
        exclude=_paths(base, lc["exclude"]) if "exclude" in lc else (),
        exclude_rasters=_paths(base, lc["exclude_rasters"]) if "exclude_rasters" in lc else (),
    )


def _regions_config(data: Mapping[str, Any], base: Path, where: str) -> RegionsConfig:
    """The ``[regions]`` section (required)."""
    rg = _section(data, "regions", _REGIONS_KEYS, where)
    if "path" not in rg or "id_field" not in rg:
        raise ConfigError(f"{where}: [regions] needs path and id_field.")
    return RegionsConfig(
        path=base / rg["path"],
        id_field=rg["id_field"],
        name_field=rg.get("name_field"),
        layer=rg.get("layer"),
        crs=rg.get("crs"),
        invalid=rg.get("invalid", "repair"),
        emissions_field=rg.get("emissions_field"),
        duplicate_ids=rg.get("duplicate_ids", "error"),
    )


def config_from_mapping(data: Mapping[str, Any], *, base: Path, where: str) -> RunConfig:
    """Build a :class:`RunConfig` from parsed TOML (paths relative to ``base``)."""
    top = set(data) - {"soc", "landcover", "regions", "scenario", "output", "run"}
    if top:
        raise ConfigError(f"{where}: unknown section(s) {sorted(top)}.")
    soc = _section(data, "soc", _SOC_KEYS | {"layers"}, where)
    layers = soc.pop("layers", {})
    if not isinstance(layers, Mapping) or set(layers) - _SOC_LAYER_KEYS:
        raise ConfigError(f"{where}: [soc.layers] allows {sorted(_SOC_LAYER_KEYS)}.")
    try:
        spec = {**soc, **layers}
        for key in ("stock", "lower", "upper", "sd", "relative_uncertainty"):
            if key in spec:
                spec[key] = base / spec[key]
        for key in ("content", "bulk_density", "coarse_fragments"):
            if key in spec:
                spec[key] = _paths(base, spec[key])
        for key in ("sentinels", "valid_range"):
            if key in spec:
                spec[key] = tuple(spec[key])
        soc_cfg = SocSpec(**spec)
        lc_cfg = _landcover_config(data, base, where)
        rg_cfg = _regions_config(data, base, where)
        raw = data.get("scenario", {})
        tables = raw if isinstance(raw, list) else [raw]
        scenarios = tuple(_scenario(t, base, where) for t in tables)
        out = _section(data, "output", {"dir", "overwrite", "compress"}, where)
        if "dir" not in out:
            raise ConfigError(f"{where}: [output] needs dir.")
        out_cfg = OutputConfig(
            dir=base / out["dir"],
            overwrite=bool(out.get("overwrite", False)),
            compress=out.get("compress", get_options()["compress"]),
        )
        run = _section(data, "run", {"chunks", "scheduler", "workers", "memory_limit"}, where)
        chunks = run.get("chunks")
        if isinstance(chunks, list):
            chunks = tuple(chunks)
    except (TypeError, ValueError, KeyError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from exc
    return RunConfig(
        soc=soc_cfg,
        landcover=lc_cfg,
        regions=rg_cfg,
        scenarios=scenarios,
        output=out_cfg,
        chunks=chunks,
        scheduler=run.get("scheduler"),
        workers=run.get("workers"),
        memory_limit=run.get("memory_limit"),
    )


#: The flags of ``soilmap run`` that :meth:`RunConfig.from_flags` maps.
FLAGS = (
    "soc",
    "soc_units",
    "landcover",
    "landcover_scheme",
    "landcover_method",
    "exclude",
    "unknown_classes",
    "regions",
    "region_id",
    "region_name",
    "regions_layer",
    "duplicate_ids",
    "regions_crs",
    "rate",
    "start_year",
    "horizon",
    "growth",
    "eligible",
    "scenario_name",
    "out",
    "overwrite",
    "compress",
    "scheduler",
    "workers",
    "memory_limit",
)
_MULTIPLE = ("exclude", "horizon", "eligible")


def _flag_scenario(base: Scenario, **given: Any) -> Scenario:
    changes = {k: v for k, v in given.items() if v not in (None, ())}
    return replace(base, **changes) if changes else base


def _flag_landcover(cfg: RunConfig | None, o: Mapping[str, Any]) -> LandcoverConfig | None:
    """The land cover: ``--landcover`` replaces the file's, the other flags amend it."""
    landcover = cfg.landcover if cfg else None
    if o["landcover"]:
        if not o["landcover_scheme"]:
            raise ConfigError(
                "--landcover needs --landcover-scheme (a preset name or a table "
                "file; see `soilmap schemes`)."
            )
        return LandcoverConfig(
            path=Path(o["landcover"]),
            scheme=o["landcover_scheme"],
            unknown=o["unknown_classes"] or "error",
            method=o["landcover_method"] or "area",
            exclude=tuple(o["exclude"]),
        )
    if o["landcover_scheme"] or o["unknown_classes"] or o["landcover_method"] or o["exclude"]:
        if landcover is None:
            raise ConfigError("--landcover-scheme/--unknown-classes need --landcover PATH.")
        return replace(
            landcover,
            scheme=o["landcover_scheme"] or landcover.scheme,
            unknown=o["unknown_classes"] or landcover.unknown,
            method=o["landcover_method"] or landcover.method,
            exclude=landcover.exclude + tuple(o["exclude"]),
        )
    return landcover


def _from_flags(cfg: RunConfig | None, flags: Mapping[str, Any]) -> RunConfig:
    """``cfg`` (or nothing) with the ``soilmap run`` flags laid over it."""
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise ConfigError(f"unknown flag(s) {unknown}; the flags are: {', '.join(FLAGS)}.")
    o: dict[str, Any] = {k: flags.get(k) for k in FLAGS}
    o |= {k: tuple(flags.get(k) or ()) for k in _MULTIPLE}
    o["overwrite"] = bool(o["overwrite"])
    if cfg is None:
        missing = [
            f"--{k.replace('_', '-')}" for k in ("soc", "regions", "region_id", "out") if not o[k]
        ]
        if missing:
            raise ConfigError(
                f"give a config file (soilmap run CONFIG.toml) or at least {', '.join(missing)}."
            )
    soc = cfg.soc if cfg else None
    if o["soc"]:
        soc = SocConfig(stock=Path(o["soc"]), units=o["soc_units"])
    elif o["soc_units"] and soc is not None:
        soc = replace(soc, units=o["soc_units"])
    landcover = _flag_landcover(cfg, o)
    regions = cfg.regions if cfg else None
    if o["regions"]:
        regions = RegionsConfig(
            path=Path(o["regions"]),
            id_field=o["region_id"] or "",
            name_field=o["region_name"],
            layer=o["regions_layer"],
            crs=o["regions_crs"],
            duplicate_ids=o["duplicate_ids"] or "error",
        )
        if not o["region_id"]:
            raise ConfigError("--regions needs --region-id FIELD.")
    elif regions is not None:
        regions = replace(
            regions,
            id_field=o["region_id"] or regions.id_field,
            name_field=o["region_name"] or regions.name_field,
            crs=o["regions_crs"] or regions.crs,
            layer=o["regions_layer"] or regions.layer,
            duplicate_ids=o["duplicate_ids"] or regions.duplicate_ids,
        )
    output = cfg.output if cfg else OutputConfig(dir=Path(o["out"]))
    output = replace(
        output,
        dir=Path(o["out"]) if o["out"] else output.dir,
        overwrite=o["overwrite"] or output.overwrite,
        compress=o["compress"] or output.compress,
    )
    given = [o[k] for k in ("rate", "start_year", "growth", "scenario_name")] + [
        o["horizon"],
        o["eligible"],
    ]
    if cfg and len(cfg.scenarios) > 1 and any(v not in (None, ()) for v in given):
        raise ConfigError(
            f"{cfg.source} defines {len(cfg.scenarios)} scenarios; scenario flags (--rate, "
            "--horizon ...) apply to single-scenario runs only. Edit the config file instead."
        )
    scenario = _flag_scenario(
        cfg.scenario if cfg else Scenario(),
        rate=o["rate"],
        start_year=o["start_year"],
        horizons=tuple(o["horizon"]),
        growth=o["growth"],
        eligible=tuple(o["eligible"]),
        name=o["scenario_name"],
    )
    if soc is None or regions is None:  # the checks above make this unreachable
        raise ConfigError("give --soc and --regions, or a config file.")
    run_opts = {
        k: (o[k] if o[k] is not None else getattr(cfg, k, None))
        for k in ("scheduler", "workers", "memory_limit")
    }
    return RunConfig(
        soc=soc,
        landcover=landcover,
        regions=regions,
        output=output,
        scenarios=(scenario,) if not cfg or len(cfg.scenarios) == 1 else cfg.scenarios,
        chunks=cfg.chunks if cfg else None,
        source=cfg.source if cfg else None,
        **run_opts,
    )


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
