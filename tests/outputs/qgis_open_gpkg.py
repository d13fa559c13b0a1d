"""Open a zonal GeoPackage in real QGIS and print what it shows, as JSON.

Run with Debian's /usr/bin/python3 (python3-qgis), QT_QPA_PLATFORM=offscreen:
``python3 qgis_open_gpkg.py zonal_stats.gpkg``.  Not a test module: the test in
test_gpkg_map.py runs it in a subprocess, so the project's venv never imports qgis.
"""

import json
import os
import sys

from qgis.core import Qgis, QgsApplication, QgsVectorLayer

app = QgsApplication([], False)
app.initQgis()
msgs = []
QgsApplication.messageLog().messageReceived.connect(lambda m, tag, level: msgs.append([tag, m]))
path = sys.argv[1]
out = {"qgis": Qgis.QGIS_VERSION}
for name in ("regions", "zonal_stats"):
    lyr = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    r = lyr.renderer()
    info = {
        "valid": lyr.isValid(),
        "features": lyr.featureCount(),
        "renderer": r.type() if r else None,
    }
    if r and r.type() == "graduatedSymbol":
        info["attr"] = r.classAttribute()
        info["ranges"] = [[x.lowerValue(), x.upperValue(), x.label()] for x in r.ranges()]
    info["labels"] = lyr.labelsEnabled()
    if lyr.labeling():
        info["label_field"] = lyr.labeling().settings().fieldName
    out[name] = info
app.processEvents()
out["messages"] = msgs
print(json.dumps(out), flush=True)
# QGIS 3.22's teardown can crash in a headless process; the answer is printed already.
os._exit(0)
