"""1 OPEN the SOC input as it comes: specs, product presets (``presets/*.toml``), cleaning
rules, plausibility checks, stock from layer properties, depth.
"""
