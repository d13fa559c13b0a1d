"""A run end to end: plan (lazy layers) -> execute (windows, disk and memory budget,
clusters) -> run (atomic writes).
"""
