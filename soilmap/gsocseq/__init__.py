"""Compare the 4 per 1000 target with FAO's modelled GSOCseq sequestration scenarios.

FAO's GSOCseq maps (RothC per 1 km pixel) give the SOC stock in 2020 (T0, t C ha-1,
0–30 cm), the stock after 20 years and the absolute sequestration rate (ASR, t C
ha-1 yr-1) under business as usual (BAU) and sustainable soil management (SSM1–3:
+5/+10/+20 % carbon inputs), and the rate relative to BAU (RSR).  The 4 ‰ target of
a pixel is ``rate × T0`` (t C ha-1 yr-1); the *share* of it a scenario attains is
``ASR / (rate × T0)``.

:func:`discover_gsocseq` finds the layers of a folder by file name (GloSIS COGs
``XX-GSOC[SEQ]-CORG<code>-<year>-0-30[-MEAN].tif`` and national submissions
``<ISO>_GSOCseq_<layer>_Map030.tif``), opens them lazily with explicit units and
applies FAO's own plausibility rules (FAO-SID/GSOCseq-scripts ``9_MapsCorrection.R``,
e.g. a T0 below 0 or above 800 t C ha-1 is not data).  :func:`compare` and
:func:`check_identities` stay lazy; :func:`run_comparison` computes the rasters, the
zonal sums, the identity checks and the cleaning counts in one dask pass.
"""

# ``X as X`` re-exports names outside __all__ that the single-module soilmap.gsocseq held.
from soilmap.gsocseq.discover import (
    PLAUSIBLE,
    SCENARIOS,
    GsocseqLayers,
    PlausibleRange,
    discover_gsocseq,
)
from soilmap.gsocseq.discover import RATE_UNITS as RATE_UNITS
from soilmap.gsocseq.discover import STOCK_UNITS as STOCK_UNITS
from soilmap.gsocseq.discover import _layer_key as _layer_key
from soilmap.gsocseq.pixels import GSOCSEQ_YEARS as GSOCSEQ_YEARS
from soilmap.gsocseq.pixels import IDENTITY_TOLERANCE as IDENTITY_TOLERANCE
from soilmap.gsocseq.pixels import check_identities, compare
from soilmap.gsocseq.run import TABLE as TABLE
from soilmap.gsocseq.run import TABLE_UNITS as TABLE_UNITS
from soilmap.gsocseq.run import ComparisonResult, run_comparison

__all__ = [
    "PLAUSIBLE",
    "SCENARIOS",
    "ComparisonResult",
    "GsocseqLayers",
    "PlausibleRange",
    "check_identities",
    "compare",
    "discover_gsocseq",
    "run_comparison",
]
