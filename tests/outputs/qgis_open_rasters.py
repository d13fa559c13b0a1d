"""Open rasters in real QGIS as a user does (default style from a ``.qml`` beside) as JSON.

Run with Debian's /usr/bin/python3 (python3-qgis), QT_QPA_PLATFORM=offscreen:
``python3 qgis_open_rasters.py A.tif [B.tif ...]``.  For each raster: validity, the
renderer QGIS applied and its band, the paletted classes (value, colour, label), the
colour table GDAL reads from the file itself, and the band's metadata items.  Not a
test module: test_landuse_qgis.py runs it in a subprocess.
"""

import json
import os
import sys

from qgis.core import Qgis, QgsApplication, QgsRasterLayer

app = QgsApplication([], False)
app.initQgis()
out = {"qgis": Qgis.QGIS_VERSION, "rasters": {}}
for path in sys.argv[1:]:
    lyr = QgsRasterLayer(path, os.path.basename(path), "gdal")
    r = lyr.renderer()
    info = {"valid": lyr.isValid(), "renderer": r.type() if r else None}
    if r is not None and r.type() == "paletted":
        info["band"] = r.band()
        info["classes"] = [[c.value, c.color.name(), c.label] for c in r.classes()]
    elif r is not None and r.type() == "singlebandpseudocolor":
        info["band"] = r.band()
        shader = r.shader().rasterShaderFunction()
        info["range"] = [shader.minimumValue(), shader.maximumValue()]
    provider = lyr.dataProvider()
    info["color_table"] = [
        [item.value, item.color.name(), item.label] for item in provider.colorTable(1)
    ]
    # The band's metadata, as the Information tab of the layer properties lists it.
    info["metadata"] = provider.htmlMetadata()
    out["rasters"][path] = info
print(json.dumps(out), flush=True)
# QGIS 3.22's teardown can crash in a headless process; the answer is printed already.
os._exit(0)
