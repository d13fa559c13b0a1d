"""Benchmark: ``soilmap run`` end to end at 1e7–1e9 cells against a plain-rasterio I/O floor.

Usage::

    python benchmarks/bench_scale.py --cells 1e7 [1e8 1e9] [--worldcover PATH]
                                     [--workers N] [--compare-workers] [--profile]
                                     [--pyspy] [--floors gtiff,cog] [--skip-floors]
                                     [--max-rss-gb G] [--out benchmarks/results]

Data (generated deterministically once per size into ``benchmarks/work/scale_<n>/``,
git-ignored, and reused): on a lon/lat EPSG:4326 grid at 1/480° (~250 m), n × n cells
with n = round(sqrt(cells)),

* ``soc.tif``: float32 SOC stock (t C ha-1, band unit set and declared in the config):
  smooth structure (separable sinusoids at continental and regional scales) plus
  per-cell noise, and ~20 % "ocean" nodata;
* ``landcover.tif``: uint8 ESA WorldCover codes (10 … 100) on the same grid: smooth
  class patches with noisy borders, permanent water (80) on the ocean and in lakes;
* ``regions.gpkg``: 500 Voronoi polygons of seeded random points, clipped to the extent;
* ``scale.toml``: the ``soilmap run`` configuration (scenario 4p1000, horizons 2030, 2050).

Inputs are tiled 512 × 512 DEFLATE GeoTIFFs (BIGTIFF=IF_SAFER) written strip by strip.

Measurements per size, each in its own subprocess:

* ``soilmap``: ``soilmap -q run scale.toml --out ... --overwrite`` (the real CLI), default
  local threads, or ``--workers N``; with ``--compare-workers`` also ``--workers 1`` and
  ``--workers 2`` (LocalCluster processes);
* ``floor_gtiff`` (**I/O floor A**): plain rasterio reads every block of every input once
  (row strips of whole 512 × 512 blocks) and writes as many rasters as soilmap wrote, same
  shape, dtype, codec (DEFLATE level 6 + predictor, 512 tiles), as tiled GeoTIFFs, with
  GDAL's multi-threaded encoder; no computation, no overviews;
* ``floor_cog`` (**I/O floor B**): the same reads, block writes into uncompressed tiled
  band-interleaved scratch GeoTIFFs, overviews built into them band by band, then
  ``rasterio.shutil.copy(driver="COG")`` with soilmap's COG options (DEFLATE-6,
  predictor, average/mode overviews, ALL_CPUS), two files at a time like soilmap, i.e.
  the cheapest plain-GDAL path we know to soilmap's actual product (COGs with overviews).

Wall time, CPU time (user + sys of the process and its waited-for children, from
``os.wait4``), peak RSS (largest sum over the process tree, sampled with psutil every
0.1 s; plus ``ru_maxrss`` of the largest single process), cells/s and the ratios to both
floors.  ``--profile`` adds an untimed run of :func:`soilmap.pipeline.run` under dask's
``Profiler`` (thread-seconds per task name, ``<out>/scale_<cells>_dask_profile.json``);
``--pyspy`` one under ``py-spy`` (CPU samples attributed to pipeline stages).

Every measurement runs against a copy of ``soilmap/`` taken once per invocation
(``benchmarks/work/snapshot_<time>/``; its hash is recorded), so edits made to the working
tree during a long benchmark do not mix code versions.  soilmap is skipped at a size where
its peak RSS, projected linearly from the largest smaller size measured, exceeds
``--max-rss-gb`` (the floors still run).

Results: ``<out>/scale_<cells>.json`` and one Markdown line per measurement appended
to ``<out>/scale_results.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _inputs import BLOCK, run_config, tiled_profile, voronoi_cells, write_regions
from _measure import tree_rss, wait_sampled

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"

RES = 1.0 / 480.0  # ~250 m
WEST, NORTH = -10.0, 60.0
NODATA = -9999.0
SEED = 4_1000
N_REGIONS = 500
SOC_UNITS = "t C ha-1"

#: WorldCover classes, ordered along a gradient (dry → wet), with their shares of land.
LC_ORDER = [
    (60, 0.06),  # bare / sparse
    (100, 0.01),  # moss and lichen
    (70, 0.01),  # snow and ice
    (20, 0.10),  # shrubland
    (30, 0.20),  # grassland
    (40, 0.22),  # cropland
    (50, 0.03),  # built-up
    (90, 0.03),  # herbaceous wetland
    (10, 0.32),  # tree cover
    (95, 0.02),  # mangroves
]
WATER = 80


def _python() -> str:
    return sys.executable


#: Folder holding the snapshot of ``soilmap/`` that every run uses (see :func:`snapshot`).
SNAPSHOT: Path | None = None


def _soilmap_cmd() -> list[str]:
    """The ``soilmap`` CLI (from the snapshot when one was taken)."""
    if SNAPSHOT is not None:
        # -P: do not put the current folder (the repository, with its live soilmap/)
        # first on sys.path.
        return [_python(), "-P", "-c", "from soilmap.cli.main import cli; cli()"]
    exe = Path(sys.executable).with_name("soilmap")
    return [str(exe) if exe.exists() else "soilmap"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if SNAPSHOT is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SNAPSHOT), env.get("PYTHONPATH")]))
    return env


def snapshot(wait_s: float = 300.0) -> dict:
    """Copy the working tree's ``soilmap/`` package once it imports, and use the copy.

    Other engineers edit ``soilmap/`` while a long benchmark runs; a copy keeps every
    measurement of one invocation on the same code.  Waits (up to ``wait_s``) while
    the working tree does not import (a half-saved edit).
    """
    import hashlib

    global SNAPSHOT
    deadline = time.monotonic() + wait_s
    check = "import soilmap.pipeline, soilmap.cli.main"
    while True:
        stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
        dest = WORK / f"snapshot_{stamp}"
        shutil.copytree(
            REPO / "soilmap", dest / "soilmap", ignore=shutil.ignore_patterns("__pycache__")
        )
        env = {**os.environ, "PYTHONPATH": str(dest)}
        ok = subprocess.run([_python(), "-P", "-c", check], env=env, capture_output=True, text=True)
        if ok.returncode == 0:
            break
        shutil.rmtree(dest)
        if time.monotonic() > deadline:
            raise RuntimeError(f"soilmap/ does not import: {ok.stderr[-400:]}")
        print("  soilmap/ does not import right now (being edited?); retrying", file=sys.stderr)
        time.sleep(10)
    digest = hashlib.sha256()
    for f in sorted((dest / "soilmap").rglob("*")):
        if f.is_file():
            digest.update(str(f.relative_to(dest)).encode() + f.read_bytes())
    SNAPSHOT = dest
    return {"path": str(dest.relative_to(REPO)), "sha256": digest.hexdigest()[:16]}


# --------------------------------------------------------------------------- data


class _Field:
    """A smooth deterministic field in about [-1, 1]: a sum of separable sinusoids.

    ``cos(kx x + a) · cos(ky y + b)`` is evaluated as an outer product, so a strip of
    ``rows × n`` cells costs two float32 passes per wave.

    Parameters
    ----------
    seed : int
        Seed of the wave numbers, phases and amplitudes.
    span : float
        Extent of the grid (degrees); wave numbers are in cycles per span.
    cycles : tuple of float
        Range of cycles per span.
    waves : int
        Number of waves.
    """

    def __init__(self, seed: int, span: float, cycles: tuple[float, float], waves: int = 6):
        rng = np.random.default_rng(seed)
        self.k = 2 * np.pi * rng.uniform(*cycles, (waves, 2)) / span
        self.phase = rng.uniform(0, 2 * np.pi, (waves, 2))
        self.amp = rng.uniform(0.4, 1.0, waves)
        self.amp *= 1.6 / self.amp.sum() * np.sqrt(waves)
        self.waves = waves

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values at the outer product of ``y`` (rows) and ``x`` (columns), float32."""
        out = np.zeros((y.size, x.size), dtype="float32")
        for w in range(self.waves):
            cx = np.cos(self.k[w, 0] * x + self.phase[w, 0]).astype("float32")
            cy = (self.amp[w] * np.cos(self.k[w, 1] * y + self.phase[w, 1])).astype("float32")
            out += cy[:, None] * cx[None, :]
        return out / self.waves


def _fields(span: float) -> dict[str, _Field]:
    return {
        "soc_large": _Field(SEED + 1, span, (0.5, 3.0)),
        "soc_medium": _Field(SEED + 2, span, (8.0, 40.0)),
        "ocean": _Field(SEED + 3, span, (0.4, 2.0), waves=4),
        "lc_large": _Field(SEED + 4, span, (1.0, 5.0)),
        "lc_medium": _Field(SEED + 5, span, (15.0, 80.0)),
        "lakes": _Field(SEED + 6, span, (20.0, 60.0), waves=4),
    }


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre longitudes (n) and latitudes (n) of the n × n grid."""
    x = WEST + RES * (np.arange(n) + 0.5)
    y = NORTH - RES * (np.arange(n) + 0.5)
    return x, y


def _thresholds(n: int, f: dict[str, _Field]) -> dict[str, object]:
    """Quantile cuts from a coarse sample: 20 % ocean, class shares, 3 % lakes."""
    x, y = _grid(n)
    xs, ys = x[:: max(1, n // 600)], y[:: max(1, n // 600)]
    ocean = f["ocean"](xs, ys)
    cut_ocean = float(np.quantile(ocean, 0.20))
    land = ocean >= cut_ocean
    v = (0.6 * f["lc_large"](xs, ys) + 0.4 * f["lc_medium"](xs, ys))[land]
    shares = np.cumsum([s for _, s in LC_ORDER])[:-1] / sum(s for _, s in LC_ORDER)
    return {
        "ocean": cut_ocean,
        "classes": np.quantile(v, shares).astype("float32"),
        "lakes": float(np.quantile(f["lakes"](xs, ys)[land], 0.97)),
    }


def _profile(n: int, dtype: str, nodata: float) -> dict:
    predictor = 3 if dtype == "float32" else 2
    return tiled_profile(
        n, n, dtype, west=WEST, north=NORTH, res=RES, nodata=nodata, compress="deflate",
        zlevel=6, predictor=predictor,
    )  # fmt: skip


def make_rasters(soc_path: Path, lc_path: Path, n: int) -> None:
    """Write the SOC and land-cover rasters strip by strip (memory ~ a few strips).

    Parameters
    ----------
    soc_path, lc_path : Path
        Output GeoTIFFs (written under a temporary name, then renamed).
    n : int
        Rows and columns.
    """
    import rasterio
    from rasterio.windows import Window

    span = n * RES
    f = _fields(span)
    cuts = _thresholds(n, f)
    codes = np.array([c for c, _ in LC_ORDER], dtype="uint8")
    x, y = _grid(n)
    tmp_soc, tmp_lc = soc_path.with_suffix(".part.tif"), lc_path.with_suffix(".part.tif")
    with (
        rasterio.Env(GDAL_PAM_ENABLED="NO"),
        rasterio.open(tmp_soc, "w", **_profile(n, "float32", NODATA)) as soc_dst,
        rasterio.open(tmp_lc, "w", **_profile(n, "uint8", 0)) as lc_dst,
    ):
        soc_dst.set_band_unit(1, SOC_UNITS)
        soc_dst.set_band_description(1, "synthetic SOC stock 0-30 cm")
        soc_dst.update_tags(units=SOC_UNITS, long_name="synthetic SOC stock 0-30 cm")
        lc_dst.set_band_description(1, "synthetic ESA WorldCover classes")
        for r0 in range(0, n, BLOCK):
            rows = min(BLOCK, n - r0)
            ys = y[r0 : r0 + rows]
            rng = np.random.default_rng([SEED, r0])
            ocean = f["ocean"](x, ys) < cuts["ocean"]
            soc = f["soc_large"](x, ys)
            soc *= 25.0
            soc += 55.0
            soc += 10.0 * f["soc_medium"](x, ys)
            soc += rng.standard_normal(soc.shape, dtype="float32") * np.float32(3.0)
            np.maximum(soc, 0.5, out=soc)
            soc[ocean] = NODATA
            win = Window(0, r0, n, rows)
            soc_dst.write(soc, 1, window=win)
            del soc
            v = f["lc_large"](x, ys)
            v *= 0.6
            v += 0.4 * f["lc_medium"](x, ys)
            v += rng.standard_normal(v.shape, dtype="float32") * np.float32(0.03)
            lc = codes[np.searchsorted(cuts["classes"], v)]
            lc[f["lakes"](x, ys) > cuts["lakes"]] = WATER
            lc[ocean] = WATER
            lc_dst.write(lc, 1, window=win)
    os.replace(tmp_soc, soc_path)
    os.replace(tmp_lc, lc_path)


def make_regions(path: Path, n: int, count: int = N_REGIONS) -> None:
    """Voronoi polygons of ``count`` seeded random points, clipped to the raster extent."""
    import shapely

    span = n * RES
    bounds = (WEST, NORTH - span, WEST + span, NORTH)
    cells = voronoi_cells(np.random.default_rng(SEED + 7), count, bounds)
    cells = shapely.intersection(cells, shapely.box(*bounds))
    cells = shapely.segmentize(cells, span / 2000)  # a vertex every few cells, like real borders
    order = np.lexsort(
        (shapely.get_x(shapely.centroid(cells)), shapely.get_y(shapely.centroid(cells)))
    )
    write_regions(path, cells[order], ids="R{:04d}", names="Region {}")


CONFIG = run_config(
    """\
# soilmap run configuration written by benchmarks/bench_scale.py
[soc]
stock = "soc.tif"
units = "{units}"

[landcover]
path = "{landcover}"
scheme = "esa_worldcover"
""",
    horizons=[2030, 2050],
    compress="deflate",
)


def prepare(cells: float) -> dict:
    """Generate (once) the inputs of one size; return their paths and generation time."""
    n = round(math.sqrt(cells))
    d = WORK / f"scale_{n}"
    d.mkdir(parents=True, exist_ok=True)
    paths = {
        "dir": d,
        "soc": d / "soc.tif",
        "landcover": d / "landcover.tif",
        "regions": d / "regions.gpkg",
        "config": d / "scale.toml",
    }
    gen: dict[str, float | None] = {"rasters_s": None, "regions_s": None}
    if not (paths["soc"].exists() and paths["landcover"].exists()):
        t = time.perf_counter()
        make_rasters(paths["soc"], paths["landcover"], n)
        gen["rasters_s"] = round(time.perf_counter() - t, 1)
        print(f"  generated rasters {n}² in {gen['rasters_s']} s", file=sys.stderr)
    if not paths["regions"].exists():
        t = time.perf_counter()
        make_regions(paths["regions"], n)
        gen["regions_s"] = round(time.perf_counter() - t, 1)
    paths["config"].write_text(CONFIG.format(units=SOC_UNITS, landcover="landcover.tif"))
    # Generation times are kept beside the data, so a later run still reports them.
    record = d / "generation.json"
    if gen["rasters_s"] is not None:
        record.write_text(json.dumps(gen))
    elif record.exists():
        gen = {**json.loads(record.read_text()), "cached": True}
    return {"n": n, "paths": paths, "generation": gen}


# --------------------------------------------------------------------------- measuring


def measure(cmd: list[str], *, label: str, env: dict | None = None, check: bool = True) -> dict:
    """Run ``cmd``; wall, CPU (user + sys of the tree), peak RSS of the tree, load.

    CPU and ``ru_maxrss`` come from ``os.wait4`` (the child and the descendants it
    waited for); the tree's peak RSS is the largest sum of RSS over the process and
    its descendants, sampled every 0.1 s with psutil.  The child's stderr goes to
    ``WORK/<label>.stderr.txt``; a failure raises, or with ``check=False`` is returned
    as ``{"failed": ...}``.
    """
    import psutil

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    log = WORK / f"{label}.stderr.txt"
    with log.open("w") as err:
        child = subprocess.Popen(cmd, env=env or _env(), cwd=REPO, stderr=err)
    ps = psutil.Process(child.pid)
    peak = [0]

    def sample() -> bool:
        peak[0] = max(peak[0], tree_rss(ps))
        return True

    child.returncode, ru, wall = wait_sampled(child, t0, sample, 0.1)
    if child.returncode != 0:
        tail = log.read_text()[-1500:]
        if check:
            raise RuntimeError(f"{label}: {' '.join(cmd)} exited with {child.returncode}:\n{tail}")
        return {"label": label, "command": " ".join(cmd), "failed": tail, "wall_s": wall}
    out = {
        "label": label,
        "command": " ".join(cmd),
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_rss_tree_mb": round(peak[0] / 2**20, 1),
        # Includes the forked benchmark process's pages before exec: an upper bound.
        "max_rss_single_process_mb": round(ru.ru_maxrss / 1024, 1),
        "loadavg_before": [round(v, 2) for v in load0],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
    }
    print(
        f"  {label}: {out['wall_s']} s wall, {out['cpu_s']} s CPU, "
        f"{out['peak_rss_tree_mb']:.0f} MB peak RSS",
        file=sys.stderr,
    )
    return out


def soilmap_outputs(out_dir: Path) -> list[dict]:
    """Every raster soilmap wrote: name, dtype, codec, predictor, overviews."""
    import rasterio

    specs = []
    for tif in sorted(out_dir.rglob("*.tif")):
        with rasterio.open(tif) as src:
            specs.append(
                {
                    "name": str(tif.relative_to(out_dir)),
                    "dtype": src.dtypes[0],
                    "count": src.count,
                    "nodata": src.nodata,
                    "compress": (src.compression.name if src.compression else "none").lower(),
                    "predictor": src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR"),
                    "blocks": src.block_shapes[0],
                    "overviews": len(src.overviews(1)),
                    "layout": src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"),
                    "bytes": tif.stat().st_size,
                }
            )
    return specs


def _overview_count(n: int, smallest: int = 256) -> int:
    # Same rule as soilmap.io.raster.overview_count (not imported: keeps the floor's
    # process free of soilmap's imports).
    return max(0, math.ceil(math.log2(n / smallest))) if n > smallest else 0


def floor_child(spec_path: str) -> None:
    """The I/O floor program (run in a fresh process by :func:`run_floor`).

    Reads every block of every input once, in row strips of whole 512 × 512 blocks
    (so GDAL decodes a strip's blocks on all cores), and writes each strip, or a cheap
    scaling of it, to every output; then (``cog`` mode) converts each scratch file
    to a COG with overviews.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    spec = json.loads(Path(spec_path).read_text())
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    cog = spec["mode"] == "cog"
    env = {"GDAL_PAM_ENABLED": "NO", "GDAL_NUM_THREADS": "ALL_CPUS"}
    timings = {}
    t0 = time.perf_counter()
    with rasterio.Env(**env):
        srcs = [rasterio.open(p) for p in spec["inputs"]]
        base = srcs[0].profile
        n_rows, n_cols = base["height"], base["width"]
        dsts = []
        for i, o in enumerate(spec["outputs"]):
            prof = {
                **base,
                "count": o.get("count", 1),
                "dtype": o["dtype"],
                "nodata": o["nodata"],
                "tiled": True,
                "blockxsize": BLOCK,
                "blockysize": BLOCK,
                "bigtiff": "if_safer",
                "num_threads": "all_cpus",
            }
            if cog:
                prof.update(compress="none", sparse_ok=True, interleave="band")
                prof.pop("predictor", None)
                prof.pop("zlevel", None)
            else:
                prof.update(
                    compress="deflate", zlevel=6, predictor=3 if o["dtype"] == "float32" else 2
                )
            suffix = ".blocks.tif" if cog else ".tif"
            dsts.append(rasterio.open(out_dir / f"out_{i:02d}{suffix}", "w", **prof))
        for r0 in range(0, n_rows, BLOCK):
            win = Window(0, r0, n_cols, min(BLOCK, n_rows - r0))
            blocks = [s.read(1, window=win) for s in srcs]
            floats = next(b for b in blocks if b.dtype == np.float32)
            ints = next((b for b in blocks if b.dtype == np.uint8), None)
            for k, (o, dst) in enumerate(zip(spec["outputs"], dsts, strict=True)):
                if o.get("count", 1) > 1 and ints is not None:
                    # A multi-band layer (land-use group fractions): 0/1 planes.
                    for band in range(o["count"]):
                        plane = (ints == LC_ORDER[band % len(LC_ORDER)][0]).astype(o["dtype"])
                        dst.write(plane, band + 1, window=win)
                elif o["dtype"] == "uint8" and ints is not None:
                    dst.write(ints, 1, window=win)
                elif k == 0:
                    dst.write(floats, 1, window=win)
                else:  # a cheap transform, so each output holds different numbers
                    scaled = np.where(floats == NODATA, floats, floats * np.float32(0.004 * k))
                    dst.write(scaled.astype(o["dtype"], copy=False), 1, window=win)
        for d in dsts:
            d.close()
        for s in srcs:
            s.close()
        timings["blocks_s"] = round(time.perf_counter() - t0, 2)
        if cog:
            t1 = time.perf_counter()

            def to_cog(i: int) -> None:
                o = spec["outputs"][i]
                tmp = out_dir / f"out_{i:02d}.blocks.tif"
                mode = o["dtype"] == "uint8"
                with rasterio.Env(**env):
                    # Overviews in the uncompressed scratch, band by band, then the COG
                    # driver only encodes: the cheapest GDAL path (as soilmap does).
                    levels = [2**k for k in range(1, _overview_count(max(n_rows, n_cols)) + 1)]
                    if levels:
                        with rasterio.open(tmp, "r+") as scratch:
                            scratch.build_overviews(
                                levels, Resampling.mode if mode else Resampling.average
                            )
                    rasterio.shutil.copy(
                        tmp,
                        out_dir / f"out_{i:02d}.tif",
                        driver="COG",
                        compress="DEFLATE",
                        level=6,
                        predictor="YES",
                        blocksize=BLOCK,
                        overviews="AUTO",
                        overview_resampling="MODE" if mode else "AVERAGE",
                        resampling="MODE" if mode else "AVERAGE",
                        num_threads="ALL_CPUS",
                        bigtiff="IF_SAFER",
                    )
                tmp.unlink()

            # Two files at a time, largest first, as soilmap does: one COG copy keeps
            # only ~1.3 of 2 cores busy.
            sizes = [o.get("count", 1) * np.dtype(o["dtype"]).itemsize for o in spec["outputs"]]
            order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(to_cog, order))
            timings["cog_copy_s"] = round(time.perf_counter() - t1, 2)
    Path(spec["timings"]).write_text(json.dumps(timings))


def run_floor(mode: str, inputs: list[Path], outputs: list[dict], out_dir: Path) -> dict:
    """Measure the I/O floor (``mode`` ``"gtiff"`` or ``"cog"``) in a fresh process."""
    shutil.rmtree(out_dir, ignore_errors=True)
    spec = {
        "mode": mode,
        "inputs": [str(p) for p in inputs],
        "outputs": outputs,
        "out_dir": str(out_dir),
        "timings": str(out_dir.with_suffix(".timings.json")),
    }
    spec_path = out_dir.with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec))
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_scale as b; "
        f"b.floor_child({str(spec_path)!r})"
    )
    res = measure([_python(), "-c", code], label=f"floor_{mode}")
    res["stages_s"] = json.loads(Path(spec["timings"]).read_text())
    res["output_bytes"] = sum(p.stat().st_size for p in out_dir.glob("*.tif"))
    shutil.rmtree(out_dir, ignore_errors=True)
    return res


def run_soilmap(config: Path, out_dir: Path, *, workers: int | None, label: str) -> dict:
    """Measure ``soilmap -q run CONFIG --out OUT --overwrite [--workers N]``."""
    cmd = [*_soilmap_cmd(), "-q", "run", str(config), "--out", str(out_dir), "--overwrite"]
    if workers:
        cmd += ["--workers", str(workers)]
    res = measure(cmd, label=label)
    manifest = json.loads((out_dir / "run.json").read_text())
    res["timings_s"] = manifest.get("timings_s")
    res["compute"] = manifest.get("compute")
    res["output_bytes"] = sum(p.stat().st_size for p in out_dir.rglob("*.tif"))
    return res


# --------------------------------------------------------------------------- profile

#: Stage of a sampled stack: the first rule whose pattern appears in the stack
#: (innermost frames are checked first).
STAGES = [
    ("COG copy (overviews + compression)", ("_finish_cog", "shutil.py", "copy (rasterio")),
    ("scratch block write", ("_BlockWriter", "__setitem__")),
    ("zonal coverage / sums", ("zonal",)),
    ("cell areas", ("areas.py",)),
    ("land-use one-hot", ("_one_hot",)),
    ("dominant group (landuse)", ("_dominant_block",)),
    ("nodata fill / cast", ("_fill_nodata",)),
    ("scenario projection", ("scenario.py",)),
    ("min/max ranges", ("nanmin", "nanmax", "reduction.py")),
    ("input read + decode", ("rioxarray", "_io.py", "read (rasterio")),
    ("plan / graph build / optimisation", ("pipeline.py:plan", "optimization", "blockwise")),
]


def profile_soilmap(config: Path, out_dir: Path, raw: Path) -> dict:
    """Run soilmap once more under ``py-spy record`` and attribute samples to stages."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists() and not shutil.which("py-spy"):
        return {"skipped": "py-spy not installed (pip install py-spy)"}
    cmd = [
        spy,
        "record",
        "--format",
        "raw",
        "--rate",
        "50",
        "--subprocesses",
        "-o",
        str(raw),
        "--",
        *_soilmap_cmd(),
        "-q",
        "run",
        str(config),
        "--out",
        str(out_dir),
        "--overwrite",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not (out_dir / "run.json").exists():
        return {"skipped": f"py-spy or soilmap failed: {proc.stderr[-500:]}"}
    return {"wall_s_under_py_spy": round(wall, 1), **summarise_profile(raw)}


def summarise_profile(raw: Path) -> dict:
    """Sampled CPU per stage from py-spy's collapsed stacks (``frame;frame;... count``)."""
    stages: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        leaf[frames[-1]] += c
        inner_first = ";".join(reversed(frames))
        name = "other"
        for label, pats in STAGES:
            if any(p in inner_first for p in pats):
                name = label
                break
        stages[name] += c
    return {
        "samples": total,
        "stage_share": {k: round(v / total, 3) for k, v in stages.most_common()},
        "top_leaf_frames": [[k, round(v / total, 3)] for k, v in leaf.most_common(15)],
    }


def dask_profile_child(config: str, out_dir: str, result: str) -> None:
    """Run :func:`soilmap.pipeline.run` under dask's Profiler; write task times by name.

    Run in a fresh process by :func:`dask_profile` (with the soilmap snapshot on
    ``sys.path``).  Task time is thread-seconds spent inside tasks of each name
    (``key_split`` of the key, e.g. ``_chunk_stats``, ``_finish_cog``, ``mul``),
    with the first start and last end relative to the first task.
    """
    import resource

    from dask.diagnostics import Profiler
    from dask.utils import key_split

    from soilmap.config import load_config
    from soilmap.pipeline.run import run

    cfg = load_config(config).with_output(out_dir, overwrite=True)
    t0 = time.perf_counter()
    with Profiler() as prof:
        res = run(cfg, progress=False)
    wall = time.perf_counter() - t0
    start = min(r.start_time for r in prof.results)
    names: dict[str, dict] = {}
    for r in prof.results:
        d = names.setdefault(
            key_split(r.key), {"task_s": 0.0, "tasks": 0, "first": 1e18, "last": 0.0}
        )
        d["task_s"] += r.end_time - r.start_time
        d["tasks"] += 1
        d["first"] = min(d["first"], r.start_time - start)
        d["last"] = max(d["last"], r.end_time - start)
    total = sum(d["task_s"] for d in names.values())
    ordered = dict(sorted(names.items(), key=lambda kv: -kv[1]["task_s"]))
    Path(result).write_text(
        json.dumps(
            {
                "wall_s": round(wall, 2),
                "timings_s": res.manifest.get("timings_s"),
                "task_thread_s_total": round(total, 2),
                "graph_span_s": round(max(d["last"] for d in names.values()), 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "by_task_name": {
                    k: {
                        "task_s": round(v["task_s"], 2),
                        "share": round(v["task_s"] / total, 3),
                        "tasks": v["tasks"],
                        "first_start_s": round(v["first"], 2),
                        "last_end_s": round(v["last"], 2),
                    }
                    for k, v in ordered.items()
                },
            },
            indent=2,
        )
    )


def dask_profile(config: Path, out_dir: Path, result: Path) -> dict:
    """An extra, untimed soilmap run in a fresh process under dask's Profiler."""
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_scale as b; "
        f"b.dask_profile_child({str(config)!r}, {str(out_dir)!r}, {str(result)!r})"
    )
    proc = subprocess.run(
        [_python(), "-P", "-c", code], env=_env(), cwd=REPO, capture_output=True, text=True
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    if proc.returncode != 0:
        return {"skipped": f"profiled run failed: {proc.stderr[-800:]}"}
    return json.loads(result.read_text())


# --------------------------------------------------------------------------- worldcover


def worldcover_support() -> tuple[bool, str]:
    """Whether ``soilmap run`` regrids a land cover that is on another grid than the SOC.

    Reads the snapshot's code in either layout: the flat one (``soilmap/regrid.py``
    used by ``pipeline.py`` or ``landuse.py``) or the staged one (``landuse/regrid.py``
    used by ``landuse/value.py``, the land-use door of ``pipeline/plan.py``).
    """
    import ast

    root = (SNAPSHOT or REPO) / "soilmap"
    regrid = next((r for r in ("regrid.py", "landuse/regrid.py") if (root / r).exists()), None)
    if regrid is None:
        return False, "neither soilmap/regrid.py nor soilmap/landuse/regrid.py exists"
    users = ("pipeline.py", "landuse.py", "landuse/value.py", "pipeline/plan.py")
    for module in (m for m in users if (root / m).is_file()):
        for node in ast.walk(ast.parse((root / module).read_text())):
            uses = (isinstance(node, ast.ImportFrom) and "regrid" in (node.module or "")) or (
                isinstance(node, ast.Import) and any("regrid" in a.name for a in node.names)
            )
            if uses:
                return True, f"soilmap/{module} imports soilmap/{regrid}"
    return False, (
        f"soilmap/{regrid} exists but no run module imports it: plan() passes the land "
        "cover to fractions_from_classes(reference=grid), which requires the SOC grid"
    )


def run_worldcover(tile: Path, out: Path) -> dict:
    """soilmap end to end: a synthetic ~1 km SOC grid over the tile, the tile as land cover."""
    import rasterio
    from affine import Affine

    ok, why = worldcover_support()
    if not tile.exists():
        return {"skipped": f"tile {tile} not found"}
    if not ok:
        return {"skipped": f"land cover on another grid is not supported by soilmap run: {why}"}
    d = WORK / "scale_worldcover"
    d.mkdir(parents=True, exist_ok=True)
    with rasterio.open(tile) as src:
        b = src.bounds
    res = 1.0 / 120.0
    w, h = round((b.right - b.left) / res), round((b.top - b.bottom) / res)
    soc = d / "soc_1km.tif"
    if not soc.exists():
        f = _Field(SEED + 11, b.right - b.left, (1.0, 6.0))
        x = b.left + res * (np.arange(w) + 0.5)
        y = b.top - res * (np.arange(h) + 0.5)
        vals = (55 + 25 * f(x, y)).astype("float32")
        prof = {**_profile(w, "float32", NODATA), "height": h}
        prof["transform"] = Affine(res, 0, b.left, 0, -res, b.top)
        with rasterio.open(soc, "w", **prof) as dst:
            dst.set_band_unit(1, SOC_UNITS)
            dst.write(vals, 1)
    regions = d / "regions.gpkg"
    if not regions.exists():
        import geopandas as gpd
        import shapely

        cells = voronoi_cells(np.random.default_rng(SEED + 12), 50, tuple(b))
        cells = shapely.intersection(cells, shapely.box(*b))
        gpd.GeoDataFrame(
            {"region_id": [f"W{i:03d}" for i in range(len(cells))]}, geometry=cells, crs=4326
        ).to_file(regions, driver="GPKG", engine="pyogrio")
    out_dir = d / "out"
    cmd = [
        *_soilmap_cmd(),
        "-q",
        "run",
        "--soc",
        str(soc),
        "--soc-units",
        SOC_UNITS,
        "--landcover",
        str(tile),
        "--landcover-scheme",
        "esa_worldcover",
        "--regions",
        str(regions),
        "--region-id",
        "region_id",
        "--out",
        str(out_dir),
        "--overwrite",
    ]
    res = measure(cmd, label="soilmap_worldcover", check=False)
    res["landcover_cells"] = 36000 * 36000
    res["soc_grid"] = [h, w]
    shutil.rmtree(out_dir, ignore_errors=True)
    return res


# --------------------------------------------------------------------------- report


def machine_info() -> dict:
    import psutil
    import rasterio

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "soilmap"],
                cwd=REPO,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", None
    import dask

    return {
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "gdal": rasterio.__gdal_version__,
        "rasterio": rasterio.__version__,
        "dask": dask.__version__,
        "soilmap_commit": commit,
        "soilmap_tree_dirty": dirty,
    }


def _ratio(a: float, b: float | None) -> float | None:
    return round(a / b, 2) if b else None


MD_HEADER = (
    "| date | cells | measurement | wall s | CPU s | peak RSS MB (tree) | Mcells/s | "
    "× floor A (GTiff) | × floor B (COG) | load 1-min before→after | commit |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def rss_guard(cells: int, args: argparse.Namespace) -> dict:
    """Whether soilmap's projected peak RSS at ``cells`` exceeds ``--max-rss-gb``.

    The projection extends the peak RSS of the two largest smaller sizes measured
    earlier (``scale_<cells>.json`` in ``--out``) linearly in the cell count (memory
    that stays flat with size projects flat); with one earlier size it scales that
    size's peak in proportion, the cautious guess.
    """
    import re

    import psutil

    limit = args.max_rss_gb or 0.75 * psutil.virtual_memory().total / 2**30
    known = []
    for f in args.out.glob("scale_*.json"):
        if not re.fullmatch(r"scale_1e\d\d\.json", f.name):
            continue
        try:
            d = json.loads(f.read_text())
            r = d["measurements"][d["main"]]
        except (KeyError, TypeError, ValueError):
            continue
        if d["cells"] < cells:
            known.append((d["cells"], r["peak_rss_tree_mb"] / 1024, d["soilmap_outputs"], f.name))
    if not known or args.max_rss_gb == 0:
        return {"skip": False, "reason": None}
    known.sort()
    best = known[-1]
    if len(known) > 1:
        (c0, m0, *_), (c1, m1, *_) = known[-2], known[-1]
        projected = m1 + max(0.0, (m1 - m0) / (c1 - c0)) * (cells - c1)
    else:
        projected = best[1] * cells / best[0]
    if projected <= limit:
        return {"skip": False, "reason": None}
    return {
        "skip": True,
        "outputs": best[2],
        "reason": (
            f"projected peak RSS {projected:.0f} GB (linear from {best[1]:.1f} GB at "
            f"{best[0]:.0e} cells, {best[3]}) exceeds --max-rss-gb {limit:.0f}; the floors "
            f"write the {len(best[2])} rasters soilmap wrote at {best[0]:.0e} cells"
        ),
    }


def bench_size(cells: float, args: argparse.Namespace, info: dict) -> dict:
    """Generate (once) and measure one size; return the summary."""
    print(f"size {cells:.0e}:", file=sys.stderr)
    prep = prepare(cells)
    n, paths = prep["n"], prep["paths"]
    total = n * n
    runs: dict[str, dict] = {}
    out_dir = paths["dir"] / "out"
    label = f"soilmap_workers{args.workers}" if args.workers else "soilmap_threads"
    main_label = label
    guard = rss_guard(total, args)
    if guard["skip"]:
        # soilmap would not fit in memory: measure the floors only, for the output
        # rasters soilmap wrote at a smaller size (same count and dtypes).
        print(f"  skipping soilmap: {guard['reason']}", file=sys.stderr)
        outputs = guard["outputs"]
    else:
        runs[label] = run_soilmap(paths["config"], out_dir, workers=args.workers, label=label)
        outputs = soilmap_outputs(out_dir)
    runs_profile = {}
    stem = f"scale_{n * n:.0e}".replace("+", "")
    if args.profile and not guard["skip"]:
        runs_profile["dask"] = dask_profile(
            paths["config"], out_dir, args.out / f"{stem}_dask_profile.json"
        )
    if args.pyspy and not guard["skip"]:
        runs_profile["py_spy"] = profile_soilmap(
            paths["config"], out_dir, args.out / f"{stem}_pyspy.txt"
        )
    shutil.rmtree(out_dir, ignore_errors=True)
    float_spec = [
        {"dtype": o["dtype"], "nodata": o["nodata"], "count": o.get("count", 1)} for o in outputs
    ]
    inputs = [paths["soc"], paths["landcover"]]
    floors = [] if args.skip_floors else args.floors.split(",")
    for mode in floors:
        runs[f"floor_{mode}"] = run_floor(mode, inputs, float_spec, paths["dir"] / f"floor_{mode}")
    if args.compare_workers and not guard["skip"]:
        for w in (1, 2):
            lab = f"soilmap_workers{w}"
            if lab not in runs:
                runs[lab] = run_soilmap(paths["config"], out_dir, workers=w, label=lab)
                shutil.rmtree(out_dir, ignore_errors=True)
    fa = runs.get("floor_gtiff", {}).get("wall_s")
    fb = runs.get("floor_cog", {}).get("wall_s")
    floors_from = None
    earlier = args.out / f"{stem}.json"
    if args.skip_floors and earlier.exists():
        # Ratios against the floors measured by an earlier full run of this size.
        old = json.loads(earlier.read_text())
        fa = old["measurements"].get("floor_gtiff", {}).get("wall_s")
        fb = old["measurements"].get("floor_cog", {}).get("wall_s")
        floors_from = f"{earlier.name} ({old['date']})"
    for r in runs.values():
        r["mcells_per_s"] = round(total / r["wall_s"] / 1e6, 2)
        r["ratio_to_floor_gtiff"] = _ratio(r["wall_s"], fa)
        r["ratio_to_floor_cog"] = _ratio(r["wall_s"], fb)
    summary = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cells": total,
        "shape": [n, n],
        "resolution_deg": RES,
        "inputs": {
            k: {"path": str(paths[k].relative_to(REPO)), "bytes": paths[k].stat().st_size}
            for k in ("soc", "landcover", "regions")
        },
        "generation_s": prep["generation"],
        "soilmap_outputs": outputs,
        "floor_notes": {
            "floor_gtiff": "I/O floor A: read every input block once, write "
            f"{len(outputs)} tiled DEFLATE-6 + predictor GeoTIFFs "
            f"({sum(o.get('count', 1) for o in outputs)} bands), no overviews, "
            "multi-threaded GDAL encoder",
            "floor_cog": "I/O floor B: same reads, uncompressed tiled scratch, then COG "
            "copies with overviews (soilmap's COG options)",
        },
        "machine": info,
        "measurements": runs,
        "main": main_label if main_label in runs else None,
        "soilmap_skipped": guard["reason"] if guard["skip"] else None,
        "floors_from": floors_from,
    }
    if runs_profile and not guard["skip"]:
        summary["profile"] = runs_profile
    if "soilmap_workers1" in runs and "soilmap_workers2" in runs:
        summary["speedup_workers2_vs_1"] = round(
            runs["soilmap_workers1"]["wall_s"] / runs["soilmap_workers2"]["wall_s"], 2
        )
    busy = [
        r["label"]
        for r in runs.values()
        if max(r["loadavg_before"][0], r["loadavg_after"][0]) > (os.cpu_count() or 1) + 0.5
    ]
    summary["contention"] = (
        f"1-min load above cores + 0.5 around: {', '.join(busy)} (other processes competed)"
        if busy
        else "none seen (1-min load within cores + 0.5)"
    )
    write_results(summary, args.out, suffix="_extra" if args.skip_floors else "")
    return summary


def write_results(summary: dict, out: Path, suffix: str = "") -> None:
    """``scale_<cells><suffix>.json`` and one Markdown line per measurement."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"scale_{summary['cells']:.0e}{suffix}".replace("+", "")
    (out / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    md = out / "scale_results.md"
    if not md.exists():
        md.write_text(MD_HEADER)
    commit = (summary["machine"]["soilmap_commit"] or "")[:8]
    if summary["machine"]["soilmap_tree_dirty"]:
        commit += "+dirty"
    with md.open("a") as fh:
        for r in summary["measurements"].values():
            fh.write(
                f"| {summary['date'][:16]} | {summary['cells']:.2e} | {r['label']} | "
                f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_tree_mb']:.0f} | "
                f"{r['mcells_per_s']:.2f} | {r['ratio_to_floor_gtiff']} | "
                f"{r['ratio_to_floor_cog']} | {r['loadavg_before'][0]:.1f}→"
                f"{r['loadavg_after'][0]:.1f} | {commit} |\n"
            )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=float, nargs="+", default=[1e7])
    ap.add_argument("--worldcover", type=Path, default=None, help="ESA WorldCover tile")
    ap.add_argument("--workers", type=int, default=None, help="soilmap --workers N")
    ap.add_argument(
        "--compare-workers", action="store_true", help="also --workers 1 and --workers 2"
    )
    ap.add_argument(
        "--profile", action="store_true", help="an extra soilmap run under dask's Profiler"
    )
    ap.add_argument(
        "--max-rss-gb",
        type=float,
        default=None,
        help="skip soilmap where its projected peak RSS exceeds this (default 75 %% of "
        "RAM; 0: never skip)",
    )
    ap.add_argument("--pyspy", action="store_true", help="an extra soilmap run under py-spy")
    ap.add_argument("--skip-floors", action="store_true", help="only soilmap (and the profiles)")
    ap.add_argument(
        "--floors", default="gtiff,cog", help="floors to measure: gtiff (A), cog (B) or both"
    )
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    info["soilmap_snapshot"] = snapshot()
    summaries = [bench_size(c, args, info) for c in args.cells]
    if args.worldcover is not None:
        wc = run_worldcover(args.worldcover, args.out)
        print(f"  worldcover: {wc.get('skipped', 'done')}", file=sys.stderr)
        path = args.out / "scale_worldcover.json"
        path.write_text(json.dumps({"machine": info, **wc}, indent=2, default=str) + "\n")
    print(json.dumps([{k: s[k] for k in ("cells", "measurements")} for s in summaries], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
