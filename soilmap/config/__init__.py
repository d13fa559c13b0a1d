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

from soilmap.config.run import FLAGS, RunConfig, config_from_mapping, load_config
from soilmap.config.sections import (
    LandcoverConfig,
    OutputConfig,
    RegionsConfig,
    SocConfig,
    soc_paths,
)

__all__ = [
    "FLAGS",
    "LandcoverConfig",
    "OutputConfig",
    "RegionsConfig",
    "RunConfig",
    "SocConfig",
    "config_from_mapping",
    "load_config",
    "soc_paths",
]
