"""Produces tests/reference/pyat_bessy2_coupled.json: pyAT (accelerator-
toolbox 0.9.0) normal-mode optics and equilibrium emittances of the BESSY
II lattice with a committed set of errors, for the engine's coupled-optics
tests (engine/tests/coupled_parity.rs).

Errors (seed 16, listed in the output so the tests apply the same):
every quadrupole rolled, roll ~ N(0, 200 µrad); every eighth sextupole
given a skew quadrupole component PolynomA[1] ~ N(0, 0.02 m^-2).

Run:  .venv-pyat/bin/python tests/reference/make_pyat_coupled_reference.py
Not run by the test suite: the committed JSON is the reference.
"""
import json
import pathlib
import sys

import at
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_pyat_reference import ROOT, build_ring  # noqa: E402

OUT = ROOT / "tests" / "reference" / "pyat_bessy2_coupled.json"
SEED = 16
ROLL_RMS_RAD = 200e-6
SKEW_RMS = 0.02  # PolynomA[1] [m^-2]


def errors(ring):
    rng = np.random.default_rng(SEED)
    rolls, skews = [], []
    for i, e in enumerate(ring):
        if isinstance(e, at.Quadrupole) and not isinstance(e, at.Dipole):
            rolls.append({"index": i, "name": e.FamName, "roll_rad": float(rng.normal(0.0, ROLL_RMS_RAD))})
    sextupoles = [i for i, e in enumerate(ring) if isinstance(e, at.Sextupole)]
    for i in sextupoles[::8]:
        skews.append({"index": i, "name": ring[i].FamName, "polynom_a1": float(rng.normal(0.0, SKEW_RMS))})
    return rolls, skews


def apply(ring, rolls, skews):
    r = ring.deepcopy()
    for e in rolls:
        at.tilt_elem(r[e["index"]], e["roll_rad"])
    for e in skews:
        el = r[e["index"]]
        el.PolynomA = np.array(el.PolynomA, dtype=float)
        el.PolynomA[1] = e["polynom_a1"]
    return r


def modes(ring, bpm):
    _, rd, ld = ring.linopt6(refpts=bpm)
    return {"tunes": [float(t) for t in rd.tune],
            "beta_1": list(map(float, ld.beta[:, 0])), "beta_2": list(map(float, ld.beta[:, 1]))}


def envelope(ring4):
    """Normal-mode equilibrium emittances (envelope_parameters, from
    ohmi_envelope's beam matrix and the one-turn matrix's eigenvectors),
    the projected ones at the ring's start, and the 6D tunes."""
    rad = ring4.enable_6d(copy=True)
    params = rad.envelope_parameters()
    data0, _, _ = at.ohmi_envelope(rad, refpts=[0])
    _, rd6, _ = rad.linopt6(refpts=[0])
    return {"mode_emittances_m": [float(x) for x in params.emittances],
            "projected_emittances_m": [float(x) for x in np.ravel(data0.emitXYZ)],
            "sigma_matrix_start": np.asarray(data0.r66).reshape(6, 6).tolist(),
            "tunes_6d": [float(t) for t in rd6.tune]}


def main():
    ring, doc = build_ring()
    bpm = [i for i, e in enumerate(doc["sequences"]) if e["type"] == "Monitor" and e.get("group") == "BPM"]
    rolls, skews = errors(ring)
    bad = apply(ring, rolls, skews)
    out = {"tool": f"pyAT {at.__version__}", "python": sys.version.split()[0], "numpy": np.__version__,
           "seed": SEED, "roll_rms_rad": ROLL_RMS_RAD, "skew_rms": SKEW_RMS,
           "rolls": rolls, "skews": skews, "bpm_names": [ring[i].FamName for i in bpm],
           "ideal": {"linopt6_4d": modes(ring, bpm), "envelope": envelope(ring)},
           "errors": {"linopt6_4d": modes(bad, bpm), "envelope": envelope(bad)}}
    OUT.write_text(json.dumps(out, indent=1))
    print(f"wrote {OUT}: ideal {out['ideal']['envelope']}, with errors {out['errors']['envelope']},"
          f" tunes {out['errors']['linopt6_4d']['tunes']}")


if __name__ == "__main__":
    main()
