"""4 SUMMARISE: exact cell coverage of regions, sums per region x land-use group, regions
on the grid, the zonal statistics table.
"""
