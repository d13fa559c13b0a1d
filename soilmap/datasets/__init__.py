"""Public datasets soilmap's demo, tests and benchmarks use, fetched on first use.

A registry in the manner of pooch or geodatasets: each dataset has a name, its files
with their origin URLs, SHA-256 and sizes, a licence and a citation
(:mod:`soilmap.datasets.registry`).  :func:`fetch` returns local paths, from a mirror
(``SOILMAP_DATA``), the cache, or a verified download (:mod:`soilmap.datasets.fetch`).

>>> from soilmap import datasets
>>> ds = datasets.get_dataset("tigray")
>>> ds.root, ds.key(ds.files[0])
('soilgrids2017_clips/tigray_ethiopia', 'BLDFIE_sl1.tif')
>>> ds.source
'ISRICWorldSoil/GSIF_tutorials@81baf16d0db8ff8bd5fbb754617db70b86ba3679 (SoilCarbon/)'
"""

from soilmap.datasets.fetch import cache_dir, fetch, mirror_dir
from soilmap.datasets.registry import DataFile, Dataset, get_dataset, list_datasets
from soilmap.datasets.sample import SAMPLE_CONFIG, sample_data_dir

__all__ = [
    "SAMPLE_CONFIG",
    "DataFile",
    "Dataset",
    "cache_dir",
    "fetch",
    "get_dataset",
    "list_datasets",
    "mirror_dir",
    "sample_data_dir",
]
