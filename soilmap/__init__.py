"""soilmap: map the soil carbon sequestration potential of the 4 per 1000 Initiative.

The public API is a handful of plain functions over lazy, georeferenced
``xarray.DataArray`` layers that carry their units::

    import soilmap

    cfg = soilmap.load_config("tigray.toml")
    plan = soilmap.plan(cfg)  # lazy: nothing read yet
    result = soilmap.run(cfg)  # computes once, writes COGs, tables, run.json
"""

from soilmap import errors
from soilmap._version import __version__
from soilmap.areas import cell_area_ha
from soilmap.classes import ClassTable, list_schemes, load_class_table
from soilmap.config import RunConfig, load_config
from soilmap.grid import Grid
from soilmap.io.raster import open_categorical, open_raster
from soilmap.io.vector import read_regions
from soilmap.landuse import dominant_group, fractions_from_classes
from soilmap.masks import apply_exclusion, raster_mask_fraction, vector_mask_fraction
from soilmap.pipeline import Plan, RunResult, plan, run
from soilmap.regrid import class_fractions
from soilmap.sample import sample_data_dir
from soilmap.scenario import Saturation, Scenario, project
from soilmap.socinputs import SocSpec, open_soc
from soilmap.stock import stock_from_layers
from soilmap.units import convert
from soilmap.zonal import zonal_statistics

__all__ = [
    "ClassTable",
    "Grid",
    "Plan",
    "RunConfig",
    "RunResult",
    "Saturation",
    "Scenario",
    "SocSpec",
    "__version__",
    "apply_exclusion",
    "cell_area_ha",
    "class_fractions",
    "convert",
    "dominant_group",
    "errors",
    "fractions_from_classes",
    "list_schemes",
    "load_class_table",
    "load_config",
    "open_categorical",
    "open_raster",
    "open_soc",
    "plan",
    "project",
    "raster_mask_fraction",
    "read_regions",
    "run",
    "sample_data_dir",
    "stock_from_layers",
    "vector_mask_fraction",
    "zonal_statistics",
]
