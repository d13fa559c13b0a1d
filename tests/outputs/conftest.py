"""The QGIS check script runs under Debian's python3 (python3-qgis), never in pytest."""

collect_ignore = ["qgis_open_gpkg.py", "qgis_open_rasters.py"]
