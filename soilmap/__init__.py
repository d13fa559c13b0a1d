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
from soilmap.config import RunConfig, load_config
from soilmap.datasets.sample import sample_data_dir
from soilmap.grid import Grid
from soilmap.io.raster import open_categorical, open_raster
from soilmap.io.vector import read_regions
from soilmap.landuse.fractions import dominant_group, fractions_from_classes
from soilmap.landuse.masks import apply_exclusion, raster_mask_fraction, vector_mask_fraction
from soilmap.landuse.regrid import class_fractions
from soilmap.landuse.schemes import list_schemes, load_class_table
from soilmap.landuse.table import ClassTable
from soilmap.landuse.value import LandUse
from soilmap.options import get_options, set_options
from soilmap.pipeline.plan import Plan, plan
from soilmap.pipeline.run import RunResult, run
from soilmap.scenario.model import Saturation, Scenario
from soilmap.scenario.project import project
from soilmap.soc.open import open_soc
from soilmap.soc.spec import SocSpec
from soilmap.soc.stock import stock_from_layers
from soilmap.units import convert
from soilmap.zonal.points import read_points, sample_points, sample_points_to_file
from soilmap.zonal.statistics import zonal_statistics

__all__ = [
    "ClassTable",
    "Grid",
    "LandUse",
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
    "get_options",
    "list_schemes",
    "load_class_table",
    "load_config",
    "open_categorical",
    "open_raster",
    "open_soc",
    "plan",
    "project",
    "raster_mask_fraction",
    "read_points",
    "read_regions",
    "run",
    "sample_data_dir",
    "sample_points",
    "sample_points_to_file",
    "set_options",
    "stock_from_layers",
    "vector_mask_fraction",
    "zonal_statistics",
]
