"""The algorithms of the soilmap provider, one module each."""
