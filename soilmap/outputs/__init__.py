"""5 WRITE: Cloud-Optimised GeoTIFFs, QGIS styles (raster and vector), tables (GeoPackage,
CSV, Parquet), the run manifest, and the output stage every command shares.
"""
