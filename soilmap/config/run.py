"""RunConfig: the whole run, from a TOML file (:func:`load_config`) or flags."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from soilmap.config.read import read_fields, run_fields
from soilmap.config.rothc import RothcConfig
from soilmap.config.sections import (
    ExtentConfig,
    LandcoverConfig,
    OutputConfig,
    RegionsConfig,
    SocConfig,
    soc_paths,
)
from soilmap.config.values import check_flags
from soilmap.errors import ConfigError, InputNotFoundError
from soilmap.io.paths import check_virtual, input_path, is_virtual
from soilmap.scenario.model import Scenario, check_rate_slip
from soilmap.soc.depth import parse_depth
from soilmap.soc.products import identify, map_year
from soilmap.zonal.independent import Aggregation, check_aggregation

__all__ = ["FLAGS", "RunConfig", "config_from_mapping", "load_config"]

log = logging.getLogger("soilmap.config")


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs."""

    soc: SocConfig
    #: None: no zonal regions (maps, and one table row per group for the whole extent).
    regions: RegionsConfig | None
    output: OutputConfig
    landcover: LandcoverConfig | None = None
    scenarios: tuple[Scenario, ...] = field(default_factory=lambda: (Scenario(),))
    chunks: tuple[int, int] | int | None = None
    source: Path | None = None
    scheduler: str | None = None
    workers: int | None = None
    memory_limit: str | None = None
    #: The cells the run covers (default: the regions' bounding box).
    extent: ExtentConfig = field(default_factory=ExtentConfig)
    #: How cell bounds make regional bounds: "correlated" (sums) or "independent".
    uncertainty_aggregation: Aggregation = "correlated"
    #: A gridded RothC run (``soilmap rothc run``), or None.
    rothc: RothcConfig | None = None

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise ConfigError("give at least one scenario.")
        names = [s.name for s in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"scenario names must be unique; repeated: {', '.join(dupes)}.")
        has_bounds = any(
            getattr(self.soc, k, None) is not None
            for k in ("lower", "upper", "sd", "relative_uncertainty")
        )
        check_aggregation(self.uncertainty_aggregation, z=self.soc.z, has_bounds=has_bounds)
        year = _map_year(self.soc)
        if year is not None and any(s.start_year_source == "default" for s in self.scenarios):
            product = str(self.soc.product)
            scenarios = tuple(s.with_map_year(year, product) for s in self.scenarios)
            object.__setattr__(self, "scenarios", scenarios)
            log.warning(
                "start year %d: the map year of the SOC product %r (give start_year or "
                "--start-year to change it)",
                year,
                product,
            )

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
                if sat.fine_fraction_carbon_share_raster is not None:
                    paths.append(sat.fine_fraction_carbon_share_raster)
        if self.regions is not None:
            paths.append(self.regions.path)
        if self.rothc is not None:
            paths += self.rothc.input_paths()
        return list(dict.fromkeys(paths))

    def check_inputs_exist(self) -> None:
        """Raise :class:`~soilmap.errors.InputNotFoundError` naming every missing input."""
        for p in self.input_paths():
            if is_virtual(p):  # URLs and /vsi* paths: GDAL says if they can be read
                check_virtual(p, "input")
        missing = [str(p) for p in self.input_paths() if not is_virtual(p) and not Path(p).exists()]
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


#: The flags of ``soilmap run`` that :meth:`RunConfig.from_flags` maps.
FLAGS = (
    "soc",
    "soc_units",
    "soc_depth",
    "on_implausible",
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
    "missing_ids",
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
    "extent",
    "bbox",
    "bbox_crs",
)
_MULTIPLE = ("exclude", "horizon", "eligible")


def _map_year(soc: SocConfig) -> int | None:
    """The year the SOC stock maps, when its product preset knows it (GSOCseq T0, WHRC)."""
    if soc.product is None or soc.stock is None:
        return None
    match = identify(soc.stock, product=soc.product, role="stock")
    return map_year(match) if match is not None else None


def _flag_scenario(base: Scenario, **given: Any) -> Scenario:
    changes = {k: v for k, v in given.items() if v not in (None, ())}
    if "start_year" in changes:
        changes["start_year_source"] = "given"
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
            path=input_path(o["landcover"]),
            scheme=o["landcover_scheme"],
            unknown=o["unknown_classes"] or "error",
            method=o["landcover_method"] or "area",
            exclude=tuple(input_path(e) for e in o["exclude"]),
            groups=landcover.groups if landcover else (),
        )
    if o["landcover_scheme"] or o["unknown_classes"] or o["landcover_method"] or o["exclude"]:
        if landcover is None:
            raise ConfigError("--landcover-scheme/--unknown-classes need --landcover PATH.")
        return replace(
            landcover,
            scheme=o["landcover_scheme"] or landcover.scheme,
            unknown=o["unknown_classes"] or landcover.unknown,
            method=o["landcover_method"] or landcover.method,
            exclude=landcover.exclude + tuple(input_path(e) for e in o["exclude"]),
        )
    return landcover


def _flag_extent(cfg: RunConfig | None, o: Mapping[str, Any]) -> ExtentConfig:
    """``--extent raster|regions``, ``--bbox W S E N`` and ``--bbox-crs`` over the file's."""
    base = cfg.extent if cfg else ExtentConfig()
    if o["bbox"]:
        box = tuple(float(v) for v in o["bbox"])
        return ExtentConfig(mode="bbox", bbox=box, crs=o["bbox_crs"])  # type: ignore[arg-type]
    if o["bbox_crs"]:
        raise ConfigError("--bbox-crs needs --bbox W S E N.")
    if o["extent"]:
        return ExtentConfig(mode=o["extent"])
    return base


def _from_flags(cfg: RunConfig | None, flags: Mapping[str, Any]) -> RunConfig:
    """``cfg`` (or nothing) with the ``soilmap run`` flags laid over it."""
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise ConfigError(f"unknown flag(s) {unknown}; the flags are: {', '.join(FLAGS)}.")
    o: dict[str, Any] = {k: flags.get(k) for k in FLAGS}
    o |= {k: tuple(flags.get(k) or ()) for k in _MULTIPLE}
    check_flags(o)
    if o["rate"] is not None:
        check_rate_slip(o["rate"], what="command line: --rate")
    o["overwrite"] = bool(o["overwrite"])
    if cfg is None:
        missing = [f"--{k.replace('_', '-')}" for k in ("soc", "out") if not o[k]]
        if missing:
            raise ConfigError(
                f"give a config file (soilmap run CONFIG.toml) or at least {', '.join(missing)}."
            )
    soc = cfg.soc if cfg else None
    if o["soc"]:
        soc = SocConfig(stock=input_path(o["soc"]), units=o["soc_units"])
    elif o["soc_units"] and soc is not None:
        soc = replace(soc, units=o["soc_units"])
    if o.get("soc_depth") and soc is not None:
        top, bottom = parse_depth(o["soc_depth"])
        soc = replace(soc, top_cm=top, bottom_cm=bottom, depth_declared=True)
    if o.get("on_implausible") and soc is not None:
        soc = replace(soc, on_implausible=o["on_implausible"])
    landcover = _flag_landcover(cfg, o)
    regions = cfg.regions if cfg else None
    if o["regions"]:
        regions = RegionsConfig(
            path=input_path(o["regions"]),
            id_field=o["region_id"] or "",
            name_field=o["region_name"],
            layer=o["regions_layer"],
            crs=o["regions_crs"],
            duplicate_ids=o["duplicate_ids"] or "error",
            missing_ids=o["missing_ids"] or "error",
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
            missing_ids=o["missing_ids"] or regions.missing_ids,
        )
    elif o["region_id"] or o["region_name"] or o["regions_layer"] or o["regions_crs"]:
        raise ConfigError("--region-id/--region-name/--regions-layer need --regions PATH.")
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
        cfg.scenario if cfg else Scenario(start_year_source="default"),
        rate=o["rate"],
        start_year=o["start_year"],
        horizons=tuple(o["horizon"]),
        growth=o["growth"],
        eligible=tuple(o["eligible"]),
        name=o["scenario_name"],
    )
    if soc is None:  # the checks above make this unreachable
        raise ConfigError("give --soc, or a config file.")
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
        extent=_flag_extent(cfg, o),
        uncertainty_aggregation=cfg.uncertainty_aggregation if cfg else "correlated",
        rothc=cfg.rothc if cfg else None,
        **run_opts,
    )


def config_from_mapping(data: Mapping[str, Any], *, base: Path, where: str) -> RunConfig:
    """Build a :class:`RunConfig` from parsed TOML (paths relative to ``base``)."""
    return RunConfig(**run_fields(data, base=base, where=where))


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a TOML run configuration.

    Raises
    ------
    soilmap.errors.InputNotFoundError
        The file does not exist.
    soilmap.errors.ConfigError
        The file is not valid TOML or not a valid run description.
    """
    return RunConfig(**read_fields(path))
