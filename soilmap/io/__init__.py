"""Low-level I/O: open rasters lazily (local paths and GDAL /vsi* URLs), read vectors,
the staging folder. Knows no model.
"""
