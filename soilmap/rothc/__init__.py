"""The Rothamsted Carbon Model (RothC-26.3), vectorised over cells.

Pools (t C ha-1): DPM (decomposable plant material), RPM (resistant plant material),
BIO (microbial biomass), HUM (humified organic matter) and IOM (inert organic matter).

Modules
-------
modifiers
    Rate modifying factors: temperature, topsoil moisture deficit (standard and the
    Farina et al. 2013 dryland options), soil cover.
model
    The monthly step over an array of cells and the run over a month sequence.
equilibrium
    The official spin-up and the exact equilibrium of the periodic monthly system.
inputfile, results
    The official ``RothC_input.dat`` layouts and ``year_results.csv`` /
    ``month_results.csv``.
point
    A run of one ``RothC_input.dat`` as the official programs do it.
calibrate, cells, grid
    Gridded runs: inputs scaled to the observed stock, the run of an array of cells,
    dask ``map_blocks``.
inputs, params, cellparams, npp
    The ``[rothc]`` rasters (clay, monthly climate stacks, carbon inputs) with units and
    range checks, the land-use groups' parameters and scenario presets, per-cell
    parameters, carbon inputs from the Miami NPP model.
run, table
    ``soilmap rothc run``: the whole gridded run from a run description, written to
    ``<out>/rothc/``, and its regional table.

References
----------
Coleman K., Jenkinson D. S. (1996, 2024) RothC — A model for the turnover of carbon in
soil. Model description and users guide (Rothamsted Research).
Farina R., Coleman K., Whitmore A. P. (2013) Modification of the RothC model for
simulations of soil organic C dynamics in dryland regions. Geoderma 200: 18–30.
Falloon P., Smith P., Coleman K., Marshall S. (1998) Estimating the size of the inert
organic matter pool from total soil organic carbon content for use in the Rothamsted
carbon model. Soil Biol. Biochem. 30: 1207–1211.
"""
