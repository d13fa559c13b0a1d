"""Make the small real-data clips in tests/data from the shared data folder.

Run from the repository root:

    python tests/data/make_test_data.py [/path/to/shared/data]

The source folder defaults to ``$SOILMAP_SHARED_DATA``, else ``/work/shared/data``.

Every clip is a rasterio window of an original file, written with the original
values, dtype, CRS, nodata declaration (or its absence) and block layout where it
fits; small files are copied byte for byte.  See tests/data/README.md for sources,
licences and what each clip is for.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window, from_bounds

HERE = Path(__file__).resolve().parent
SHARED = Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SOILMAP_SHARED_DATA", "/work/shared/data")
)

GHANA = SHARED / "soilgrids2017_clips/ghana_soilgrids250m_2017"
BHUTAN = SHARED / "fao_glosis_bhutan"
WHRC = SHARED / "whrc_soil_carbon_debt_global_10km"

# Ghana 1/120° grid: 200 x 200 cells around the south of Lake Volta, where the
# undeclared -32768 sentinel covers the lake (and crfvol has extra gaps).
GHANA_WINDOW = Window(col_off=300, row_off=360, width=200, height=200)
# Bhutan GSNmap 250 m grid: 557 x 223 cells over the west-central valleys, where
# GSOCseq T0 has most of its valid cells.
GSNMAP_WINDOW = Window(col_off=334, row_off=37, width=557, height=223)


def clip(src_path: Path, dst_path: Path, window: Window, **creation) -> None:
    """Write ``window`` of ``src_path`` to ``dst_path`` with the original values."""
    with rasterio.open(src_path) as src:
        data = src.read(window=window)
        profile = src.profile.copy()
        profile.update(
            width=int(window.width),
            height=int(window.height),
            transform=src.window_transform(window),
            **creation,
        )
        if src.nodata is None:
            profile.pop("nodata", None)
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(data)
            dst.update_tags(
                clipped_from=src_path.name,
                clip_window=f"col_off={window.col_off}, row_off={window.row_off}, "
                f"width={window.width}, height={window.height}",
            )


def main() -> None:
    for prop in ("orcdrc", "bldfie", "crfvol"):
        for sl in range(1, 5):
            name = f"{prop}_m_sl{sl}_250m_Ghana.tif"
            # Keep the original strip layout (7-row strips, DEFLATE) and no nodata tag.
            clip(GHANA / name, HERE / "ghana_soilgrids2017" / name, GHANA_WINDOW)
    for prop in ("CORG", "BKD", "CFRAGF"):
        name = f"BT-GSNM-{prop}-2024-0-30-MEAN.tif"
        clip(
            BHUTAN / "gsnmap_soil_properties" / name,
            HERE / "bhutan_gsnmap" / name,
            GSNMAP_WINDOW,
            driver="GTiff",
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
            predictor=3,
            zlevel=9,
        )
    for name in ("BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", "BT-GSOCSEQ-CORGT0-2022-0-30-UNCT.tif"):
        dst = HERE / "bhutan_gsocseq" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BHUTAN / "gsocseq_glosis_cog" / name, dst)  # whole file, unchanged
    name = "SOCS_0_30cm_year_2010AD_10km.tif"
    with rasterio.open(WHRC / name) as src:
        # Ghana's bounding box, with the ocean (declared nodata -32767) to the south.
        window = from_bounds(-3.5, 4.5, 1.5, 11.5, transform=src.transform).round_offsets()
        window = Window(window.col_off, window.row_off, round(window.width), round(window.height))
    clip(WHRC / name, HERE / "whrc2017" / name, window, tiled=False, blockysize=8)


if __name__ == "__main__":
    main()
