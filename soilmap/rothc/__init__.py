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
calibrate, grid, climate, run
    Gridded runs: inputs scaled to the observed stock, dask ``map_blocks``, monthly
    climate stacks, the ``[rothc]`` configuration.

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
