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
from soilmap.pipeline import Plan, RunResult, plan, run
from soilmap.sample import sample_data_dir
from soilmap.scenario import Scenario, project
from soilmap.stock import stock_from_layers
from soilmap.units import convert

__all__ = [
    "ClassTable",
    "Grid",
    "Plan",
    "RunConfig",
    "RunResult",
    "Scenario",
    "__version__",
    "cell_area_ha",
    "convert",
    "dominant_group",
    "errors",
    "fractions_from_classes",
    "list_schemes",
    "load_class_table",
    "load_config",
    "open_categorical",
    "open_raster",
    "plan",
    "project",
    "read_regions",
    "run",
    "sample_data_dir",
    "stock_from_layers",
]
