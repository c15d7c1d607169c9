"""Writes the small test ring of tests/fodo/: a 4-cell FODO lattice in the
lat2db JSON format with two BPMs, one horizontal and one vertical steerer
(windings on thin corrector sextupoles of zero strength) and one
quadrupole family (QF, four magnets on one converter; the QD quads are
fixed and have no converter), bending by eight 45° dipoles that radiate,
and one RF cavity. Run from the repository root:

    python3 tests/fodo/make_fodo.py
"""
import json
import math
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ENERGY_EV = 1.0e9
SPEED_OF_LIGHT = 299792458.0
K1_QF, K1_QD = 0.6, -0.3
HARMONIC = 64


def multipole(kind, name, length, normal, tags=None, rad=False):
    order = len(normal) - 1
    return {
        "type": kind, "name": name, "length": length, "tags": tags or [],
        "passmethod": "StrMPoleSymplectic4RadPass" if rad else "StrMPoleSymplectic4Pass",
        "element_configuration": {"magnetic_element": {
            "coeffs": {"normal_coefficients": normal, "skew_coefficients": [0.0] * len(normal)},
            "integration_parameters": {"n_steps": 10, "max_order": order}}},
    }


def dipole(name):
    angle = 2 * math.pi / 8
    return {
        "type": "Dipole", "name": name, "length": 1.5, "bending_angle": angle,
        "entranceangle": angle / 2, "exitangle": angle / 2, "gradient": 0.0, "fringeint1": 0.0, "fringeint2": 0.0,
        "fullgap": 0.0, "passmethod": "BndMPoleSymplectic4RadPass",
        "element_configuration": {"magnetic_element": {
            "coeffs": {"normal_coefficients": [0.0, 0.0], "skew_coefficients": [0.0, 0.0]},
            "integration_parameters": {"n_steps": 10, "max_order": 1}}},
    }


def drift(name, length):
    return {"type": "Drift", "name": name, "length": length}


def cell(n):
    """QF - corrector or drift - B - QD - B, about 9.6 m."""
    out = [multipole("Quadrupole", f"QF{n}", 0.3, [0.0, K1_QF], rad=True), drift(f"D{n}A", 0.5)]
    if n == 1:
        out += [{"type": "Monitor", "name": "BPM1", "group": "BPM"},
                multipole("Sextupole", "S1", 0.1, [0.0, 0.0, 0.0], tags=["H"])]
    elif n == 3:
        out += [{"type": "Monitor", "name": "BPM2", "group": "BPM"},
                multipole("Sextupole", "S3", 0.1, [0.0, 0.0, 0.0], tags=["V"])]
    else:
        out += [drift(f"D{n}S", 0.1)]
    out += [drift(f"D{n}B", 0.5), dipole(f"B{n}A"), drift(f"D{n}C", 1.0),
            multipole("Quadrupole", f"QD{n}", 0.3, [0.0, K1_QD], rad=True), drift(f"D{n}D", 1.0),
            dipole(f"B{n}B"), drift(f"D{n}E", 1.0)]
    if n == 4:
        out.append({"type": "Marker", "name": "RING_END"})
    return out


def main():
    seq = [{"type": "Marker", "name": "RING_START"}]
    for n in range(1, 5):
        seq += cell(n)
    circumference = sum(e.get("length", 0.0) for e in seq) + 0.2
    frequency = HARMONIC * SPEED_OF_LIGHT / circumference
    seq.insert(1, {"type": "RFCavity", "name": "CAV", "length": 0.2, "harmonic_number": HARMONIC,
                   "cavity_configuration": {"frequency": frequency, "voltage": 200e3, "energy": ENERGY_EV,
                                            "timelag": 0.0}})
    for i, e in enumerate(seq):
        e["index"] = i
    lattice = {"sequences": seq, "closed": True, "enable_6d": True, "default_energy": ENERGY_EV}
    (HERE / "fodo_lattice.json").write_text(json.dumps(lattice, indent=1) + "\n")
    magnets = [{"type": "Quadrupole", "name": f"QF{n}", "magnetic_strength": 0.05, "pc": "PQF"} for n in range(1, 5)]
    magnets += [{"type": "Steerer", "name": "XS1", "magnetic_strength": 1e-3, "pc": "PXS1"},
                {"type": "Steerer", "name": "YS3", "magnetic_strength": 1e-3, "pc": "PYS3"}]
    (HERE / "magnets.json").write_text(json.dumps(magnets, indent=1) + "\n")
    s, pos = 0.0, {}
    for e in seq:
        if e["type"] == "Monitor":
            pos[e["name"]] = s
        s += e.get("length", 0.0)
    slots = {"col": [{"name": n, "used": True, "longitudinal_position": p} for n, p in pos.items()]}
    (HERE / "orbit_slots.json").write_text(json.dumps(slots, indent=1) + "\n")


if __name__ == "__main__":
    main()
