"""Produces tests/reference/pyat_bessy2.json: reference results of pyAT
(accelerator-toolbox 0.9.0) on the BESSY II lattice in config/bessy2/, for
the engine's validation tests (engine/tests/pyat_parity.rs).

Run:  python3 -m venv .venv-pyat && .venv-pyat/bin/pip install accelerator-toolbox==0.9.0
      .venv-pyat/bin/python tests/reference/make_pyat_reference.py
Not run by the test suite: the committed JSON is the reference.
"""
import json
import pathlib
import sys

import at
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
LATTICE = ROOT / "config" / "bessy2" / "bessy2_storage_ring_reflat.json"
OUT = ROOT / "tests" / "reference" / "pyat_bessy2.json"

# Settings exercised by the orbit references.
KICKS = {"HS4M2D1R": 20e-6, "HS1MT1R": -15e-6, "VS2M1D2R": 10e-6, "VS3M2T4R": -25e-6}
QUAD_OFFSET = ("Q3M1D2R", 100e-6, -50e-6)
ORM_STEP_RAD = 1e-6
RF_SHIFT_HZ = 1e3
TRACK_START = [[1e-3, 0.0, 0.5e-3, 0.0, 0.0, 0.0], [-2e-3, 1e-4, 1e-3, -5e-5, 1e-3, 0.0]]


def magnet_arrays(e):
    me = e["element_configuration"]["magnetic_element"]
    order = me["integration_parameters"]["max_order"]
    b = list(me["coeffs"]["normal_coefficients"]) + [0.0] * (order + 1)
    a = list(me["coeffs"]["skew_coefficients"]) + [0.0] * (order + 1)
    n = max(order + 1, len(me["coeffs"]["normal_coefficients"]))
    return np.array(a[:n]), np.array(b[:n]), order, me["integration_parameters"]["n_steps"]


def build_ring():
    doc = json.loads(LATTICE.read_text())
    energy = doc["default_energy"]
    elems = []
    for e in doc["sequences"]:
        t, n = e["type"], e["name"]
        if t == "Marker":
            el = at.Marker(n)
        elif t == "Monitor":
            el = at.Monitor(n)
        elif t == "Drift":
            el = at.Drift(n, e["length"])
        elif t in ("Quadrupole", "Sextupole"):
            a, b, order, steps = magnet_arrays(e)
            el = at.Quadrupole(n, e["length"], b[1]) if t == "Quadrupole" else at.Sextupole(n, e["length"], b[2])
            el.PassMethod = "StrMPoleSymplectic4Pass"
        elif t == "Dipole":
            a, b, order, steps = magnet_arrays(e)
            el = at.Dipole(n, e["length"], e["bending_angle"], e.get("gradient", 0.0),
                           EntranceAngle=e["entranceangle"], ExitAngle=e["exitangle"])
            if "fullgap" in e:
                el.FullGap = e["fullgap"]
                el.FringeInt1 = e["fringeint1"]
                el.FringeInt2 = e["fringeint2"]
            if e.get("gradient", 0.0):
                b[1] = e["gradient"]
            el.PassMethod = "BndMPoleSymplectic4Pass"
        elif t == "RFCavity":
            c = e["cavity_configuration"]
            el = at.RFCavity(n, e["length"], c["voltage"], c["frequency"], e["harmonic_number"], energy,
                             TimeLag=c["timelag"])
        else:
            raise ValueError(f"unknown element type {t}")
        if t in ("Quadrupole", "Sextupole", "Dipole"):
            el.PolynomA, el.PolynomB = a, b
            el.MaxOrder, el.NumIntSteps = order, steps
            ka = e["element_configuration"].get("kickangle")
            if ka is not None:
                el.KickAngle = np.array([ka["x"], ka["y"]])
        elems.append(el)
    ring = at.Lattice(elems, energy=energy, name="BESSY II", periodicity=1)
    return ring.disable_6d(copy=True), doc


def steerer_element(ring, name):
    """HS4M2D1R -> (index of S4M2D1R, plane 0); VS2M1D1R -> (S2M1D1R, 1)."""
    idx = ring.get_uint32_index(name[1:])
    return int(idx[0]), 0 if name[0] == "H" else 1


def steerer_names(ring, doc):
    names = []
    for e in doc["sequences"]:
        if e["type"] in ("Sextupole", "Quadrupole") and e.get("tags"):
            for tag in e["tags"]:
                names.append(tag + e["name"])
    return names


def orbit_at(ring, refpts, dp=0.0):
    _, orbit = ring.find_orbit4(dp=dp, refpts=refpts)
    return orbit


def main():
    ring, doc = build_ring()
    bpm = [i for i, e in enumerate(doc["sequences"]) if e["type"] == "Monitor" and e.get("group") == "BPM"]
    out = {"tool": f"pyAT {at.__version__}", "python": sys.version.split()[0], "numpy": np.__version__,
           "lattice": LATTICE.name, "bpm_names": [ring[i].FamName for i in bpm]}

    ld0, rd, ld = ring.get_optics(refpts=bpm, get_chrom=True)
    _, _, lall = ring.get_optics(refpts=range(len(ring) + 1))
    lend = lall[-1:]
    out["linear_4d"] = {
        "tunes": list(rd.tune), "tunes_total": list(lend.mu[0] / 2 / np.pi),
        "chromaticity": list(rd.chromaticity), "momentum_compaction": float(ring.get_mcf()),
        "s": list(ring.get_s_pos(bpm)),
        "beta_x": list(ld.beta[:, 0]), "beta_y": list(ld.beta[:, 1]),
        "alpha_x": list(ld.alpha[:, 0]), "alpha_y": list(ld.alpha[:, 1]),
        "mu_x": list(ld.mu[:, 0]), "mu_y": list(ld.mu[:, 1]),
        "eta_x": list(ld.dispersion[:, 0]), "eta_px": list(ld.dispersion[:, 1]),
    }

    kicked = ring.deepcopy()
    for name, kick in KICKS.items():
        i, plane = steerer_element(kicked, name)
        kicked[i].KickAngle = np.array(kicked[i].KickAngle, dtype=float)
        kicked[i].KickAngle[plane] = kick
    orb = orbit_at(kicked, bpm)
    out["orbit_kicks"] = {"kicks_rad": KICKS, "x": list(orb[:, 0]), "y": list(orb[:, 2])}

    shifted = ring.deepcopy()
    qname, dx, dy = QUAD_OFFSET
    qi = int(shifted.get_uint32_index(qname)[0])
    at.shift_elem(shifted[qi], dx, dy)
    orb = orbit_at(shifted, bpm)
    out["orbit_quad_offset"] = {"quad": qname, "dx_m": dx, "dy_m": dy, "x": list(orb[:, 0]), "y": list(orb[:, 2])}

    names = steerer_names(ring, doc)
    rx, ry = [], []
    for name in names:
        i, plane = steerer_element(ring, name)
        cols = []
        for sign in (1, -1):
            r2 = ring.deepcopy()
            r2[i].KickAngle = np.array(r2[i].KickAngle, dtype=float)
            r2[i].KickAngle[plane] = sign * ORM_STEP_RAD
            cols.append(orbit_at(r2, bpm))
        d = (cols[0] - cols[1]) / (2 * ORM_STEP_RAD)
        rx.append(list(d[:, 0]))
        ry.append(list(d[:, 2]))
    out["orm"] = {"correctors": names, "step_rad": ORM_STEP_RAD,
                  "x_by_corrector": rx, "y_by_corrector": ry}

    rp = ring.radiation_parameters()
    out["radiation"] = {"i1": rp.i1, "i2": rp.i2, "i3": rp.i3, "i4": rp.i4, "i5": rp.i5,
                        "energy_loss_ev": rp.U0, "emittance_m": rp.emittances[0],
                        "energy_spread": rp.sigma_e, "damping_partition": list(rp.J)}

    rad = ring.enable_6d(copy=True)
    o6, _ = rad.find_orbit6()
    _, rd6, _ = rad.get_optics(refpts=[0])
    out["six_d_radiation"] = {"orbit0": list(o6), "tunes": list(rd6.tune),
                              "energy_loss_ev": float(rad.energy_loss),
                              "rf_frequency_hz": float(rad.get_rf_frequency()),
                              "harmonic_number": float(rad.harmonic_number)}
    try:
        env = rad.envelope_parameters()
        out["six_d_radiation"]["envelope_emittance_m"] = float(env.emittances[0])
    except Exception as e:  # informational only
        out["six_d_radiation"]["envelope_error"] = str(e)

    nr = ring.enable_6d(copy=True, dipole_pass=None, quadrupole_pass=None, multipole_pass=None,
                        sextupole_pass=None, octupole_pass=None)
    o6n, _ = nr.find_orbit6()
    _, rd6n, _ = nr.get_optics(refpts=[0])
    f0 = nr.get_rf_frequency()
    shifted_rf = nr.deepcopy()
    shifted_rf.set_rf_frequency(f0 + RF_SHIFT_HZ)
    o6s, orb6s = shifted_rf.find_orbit6(refpts=bpm)
    _, orb6 = nr.find_orbit6(refpts=bpm)
    out["six_d"] = {"orbit0": list(o6n), "tunes": list(rd6n.tune), "rf_shift_hz": RF_SHIFT_HZ,
                    "delta_after_shift": float(o6s[4]),
                    "dx_after_shift": list(orb6s[:, 0] - orb6[:, 0])}

    tracks = {}
    for label, r in (("four_d", ring), ("six_d_radiation", rad)):
        start = np.asfortranarray(np.array(TRACK_START).T)
        one = at.lattice_pass(r, start.copy(), nturns=1)[:, :, 0, 0].T
        many = at.lattice_pass(r, start.copy(), nturns=100)[:, :, 0, -1].T
        tracks[label] = {"start": TRACK_START, "one_turn": one.tolist(), "hundred_turns": many.tolist()}
    out["tracking"] = tracks

    OUT.write_text(json.dumps(out, indent=1))
    print(f"wrote {OUT}: tunes {rd.tune}, chrom {rd.chromaticity}")


if __name__ == "__main__":
    main()
