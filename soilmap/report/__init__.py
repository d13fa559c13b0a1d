"""``report.html``: one self-contained, printable page per result folder.

Built from the files of a result folder only (``run.json``, the zonal table, the COGs'
overviews), so ``soilmap report OUT_DIR`` rebuilds it at any time; a run draws its
charts while GDAL writes the COGs, then its maps, and moves it into place with the rest.
The figures (:mod:`soilmap.plot`) are embedded as data URIs and
also saved as PNG in ``figures/``.
"""

from soilmap.report.build import REPORT, write_report
from soilmap.report.summary import Headline, headline, regions_overlap

__all__ = ["REPORT", "Headline", "headline", "regions_overlap", "write_report"]
