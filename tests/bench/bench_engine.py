"""Benchmark of the tracking engine against pyAT (not a test): the same
operations on the same BESSY II lattice, in one run, with ratios.

The Rust side is engine/examples/engine_timing.rs (median of repeats);
the pyAT side is timed here with the lattice of make_pyat_reference.py.
Run with the pyAT venv:  .venv-pyat/bin/python tests/bench/bench_engine.py
Writes target/bench/engine.json."""
import json
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import make_pyat_reference as ref  # noqa: E402

REPEATS = 10


def median_s(f, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pyat_timings():
    ring, doc = ref.build_ring()
    bpm = [i for i, e in enumerate(doc["sequences"]) if e["type"] == "Monitor" and e.get("group") == "BPM"]
    allpts = range(len(ring) + 1)
    si, plane = ref.steerer_element(ring, "HS4M2D1R")
    ring[si].KickAngle = np.array(ring[si].KickAngle, dtype=float)
    state = {"k": 0.0}

    def update():
        state["k"] += 1e-6
        ring[si].KickAngle[plane] = state["k"]
        ring.get_optics(refpts=allpts)

    out = {"update_kick_orbit_optics_s": median_s(update)}
    ring[si].KickAngle[plane] = 0.0
    out["orbit4_s"] = median_s(lambda: ring.find_orbit4())
    out["optics_chrom_s"] = median_s(lambda: ring.get_optics(refpts=allpts, get_chrom=True))
    rad = ring.enable_6d(copy=True)
    out["orbit6_tunes_s"] = median_s(lambda: rad.get_optics(refpts=[0]))
    names = ref.steerer_names(ring, doc)

    def orm():
        for name in names:
            i, p = ref.steerer_element(ring, name)
            ring[i].KickAngle = np.array(ring[i].KickAngle, dtype=float)
            cols = []
            for sign in (1, -1):
                ring[i].KickAngle[p] = sign * ref.ORM_STEP_RAD
                cols.append(ring.find_orbit4(refpts=bpm)[1])
            ring[i].KickAngle[p] = 0.0

    out["orm_s"] = median_s(orm, repeats=1)

    def full():
        # what the twin computes per write: 4D optics at every element with
        # the chromaticity, the fixed-RF 6D orbit along the ring and the 6D
        # tunes (radiation on), the radiation integrals
        state["k"] += 1e-6
        for lat in (ring, rad):
            lat[si].KickAngle = np.array(lat[si].KickAngle, dtype=float)
            lat[si].KickAngle[plane] = state["k"]
        ring.get_optics(refpts=allpts, get_chrom=True)
        rad.find_orbit6(refpts=allpts)
        rad.get_tune()
        ring.get_radiation_integrals()

    out["full_recompute_s"] = median_s(full)
    for lat in (ring, rad):
        lat[si].KickAngle[plane] = 0.0
    parts = np.zeros((6, 1000))
    parts[0] = 1e-6 * np.arange(1000)
    parts[2] = 1e-6 * (np.arange(1000) % 10)
    out["track_1000p_100t_4d_s"] = median_s(lambda: ring.track(parts.copy(), nturns=100), repeats=1)
    out["track_1000p_100t_6d_s"] = median_s(lambda: rad.track(parts.copy(), nturns=100), repeats=1)
    return out


def rust_timings():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "twin-engine", "--example", "engine_timing"],
                   cwd=ROOT, check=True)
    exe = ROOT / "target" / "release" / "examples" / "engine_timing"
    out = subprocess.run([str(exe), str(ref.LATTICE), str(20)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    rust = rust_timings()
    pyat = pyat_timings()
    print(f"{'operation':32} {'twin-engine ms':>15} {'pyAT ms':>12} {'ratio':>9}")
    rows = {}
    for key in pyat:
        r, p = 1e3 * rust[key], 1e3 * pyat[key]
        rows[key] = {"twin_engine_ms": r, "pyat_ms": p, "ratio": p / r}
        print(f"{key[:-2]:32} {r:15.3f} {p:12.3f} {p / r:8.1f}x")
    scaling = {d: rust[f"track_1000p_100t_{d}_1thread_s"] / rust[f"track_1000p_100t_{d}_s"] for d in ("4d", "6d")}
    for d, x in scaling.items():
        print(f"tracking {d}: 1 thread {1e3 * rust[f'track_1000p_100t_{d}_1thread_s']:.1f} ms, "
              f"{rust['threads']} threads {1e3 * rust[f'track_1000p_100t_{d}_s']:.1f} ms: {x:.2f}x")
    print(f"pyAT {ref.at.__version__}, one thread; twin-engine {rust['threads']} threads; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    out = ROOT / "target" / "bench" / "engine.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"pyat": ref.at.__version__, "rust_threads": rust["threads"], "results": rows,
                               "thread_speedup": scaling}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
