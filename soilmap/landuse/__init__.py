"""2 ALIGN + LAND USE: class tables and their presets (``presets/*.csv``), land cover from
any grid as area fractions on the SOC grid, exclusion masks, the land-use value.
"""
