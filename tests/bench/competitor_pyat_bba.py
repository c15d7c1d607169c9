"""Competitor of bench_bba.py: the same BBA measurement simulated with pyAT,
as a Python twin would do it. Hidden offsets from the benchmark's truth on
every quad; per quad the 6D closed orbit (radiation, fixed RF) at the BPMs
for the five auxiliary-current steps, the model response to a unit kick at
the quad (one more orbit), and the textbook fit in numpy (one offset per
BPM plus one scale of the response). Times the whole loop.

usage: competitor_pyat_bba.py TRUTH_JSON   (prints JSON on stdout)
TRUTH_JSON: {"quads": [names], "dx": [...], "dy": [...]}
"""
import json
import math
import pathlib
import sys
import time

import at
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import make_pyat_reference as ref  # noqa: E402

BRHO = math.sqrt(1.7185e9**2 - 0.51099895069e6**2) / 299792458.0
AUX_TURNS_RATIO = -2.67857
STEPS_A = [0.0, -2.0, 0.0, 2.0, 0.0]
KICK_RAD = 1e-5


def orbit(ring, bpms):
    _, o = ring.find_orbit6(refpts=bpms)
    return o[:, 0], o[:, 2]


def main():
    truth = json.loads(pathlib.Path(sys.argv[1]).read_text())
    magnets = json.loads((ROOT / "config/bessy2/accelerator_setup.json").read_text())
    strength = {m["name"]: m["magnetic_strength"] for m in magnets if m["type"] == "Quadrupole"}
    ring4, _ = ref.build_ring()
    ring = ring4.enable_6d(copy=True)
    index = {e.FamName: i for i, e in enumerate(ring)}
    bpms = [i for i, e in enumerate(ring) if isinstance(e, at.Monitor) and e.FamName.startswith("BPM")]
    for q, dx, dy in zip(truth["quads"], truth["dx"], truth["dy"]):
        at.shift_elem(ring[index[q]], dx, dy)
    displacements = []
    t0 = time.perf_counter()
    for q, dx in zip(truth["quads"], truth["dx"]):
        el = ring[index[q]]
        k0 = el.PolynomB[1]
        dk1_per_a = AUX_TURNS_RATIO * strength[q] / BRHO
        readings = []
        for current in STEPS_A:
            el.PolynomB[1] = k0 + dk1_per_a * current
            readings.append(orbit(ring, bpms)[0])
        el.PolynomB[1] = k0
        base = orbit(ring, bpms)[0]  # (the last step's orbit: the response's reference)
        el.KickAngle = np.array([KICK_RAD, 0.0])
        response = (orbit(ring, bpms)[0] - base) / KICK_RAD
        el.KickAngle = np.array([0.0, 0.0])
        # reading(b, k) = o_b + s·I_k·R_b: least squares for s
        currents = np.array(STEPS_A)
        r = np.array(readings) - np.mean(readings, axis=0)
        di = currents - currents.mean()
        s = np.sum(r * di[:, None] * response[None, :]) / np.sum(di[:, None] ** 2 * response[None, :] ** 2)
        d = -s / (dk1_per_a * el.Length)
        displacements.append(d)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"quads": len(truth["quads"]), "all_quads_s": elapsed, "one_quad_s": elapsed / len(truth["quads"])}))


if __name__ == "__main__":
    main()
