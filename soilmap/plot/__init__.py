"""Figures of a result folder: maps from COG overviews and charts of the zonal table.

Every function reads the output files of a run (never the full rasters: maps are
drawn from the overview level that fits the figure) and draws on a matplotlib
``Axes`` (a new figure when none is given), so they serve the report
(:mod:`soilmap.report`), notebooks and scripts alike.

>>> import soilmap.plot as sp
>>> sp.raster_map  # doctest: +ELLIPSIS
<function raster_map at ...>
"""

from soilmap.plot.charts import gsocseq_comparison, horizon_gains, landuse_bars, region_bars
from soilmap.plot.maps import raster_map
from soilmap.plot.read import read_overview, read_regions_layer, read_zonal

__all__ = [
    "gsocseq_comparison",
    "horizon_gains",
    "landuse_bars",
    "raster_map",
    "read_overview",
    "read_regions_layer",
    "read_zonal",
    "region_bars",
]
