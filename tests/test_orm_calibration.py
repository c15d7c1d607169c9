"""Calibration errors seen through an orbit response measurement: steerer
steps and BPM reads over Channel Access (pyepics), as an ORM script does,
against the engine's response of the erroneous machine (`twin-ioc model
--6d`, the fixed-RF orbit the BPMs see) and of the ideal one."""
import numpy as np
import pytest

from helpers import get, put
from twin_helpers import BRHO_TM, MAGNETS, model_orbit, rdpos_by_name

# hidden calibration errors: quads (their K1) and the measured steerers (their kick)
QUAD_ERRORS = {"Q1M2D1R": 0.04, "Q1M1T1R": -0.03, "Q2M2D3R": 0.05, "Q2M1T3R": -0.04, "Q3M2T7R": 0.03, "Q3M1D8R": -0.05}
STEP_A = 0.2
# steerers with a converter of their own, spread over the ring
MEASURED = [
    next(m for m in MAGNETS if m["name"] == name)
    for name in ("HS4M2D1R", "HS1MD3R", "HS4M1T2R", "VS3M2D1R", "VS2M2D4R", "VS2M1T7R")
]
STEERER_ERRORS = dict(zip((m["name"] for m in MEASURED), (0.03, -0.02, 0.04, -0.03, 0.02, 0.05)))


def measured_orm(ioc):
    """Columns (x and y at every BPM, m/A) from ±STEP_A on each steerer."""
    names = list(get(ioc, "ORBITCC:rdBpmNames"))
    columns = []
    for m in MEASURED:
        pc = m["pc"]
        i0 = get(ioc, f"{pc}:set")
        orbits = []
        for sign in (1, -1):
            put(ioc, f"{pc}:set", i0 + sign * STEP_A)
            orbits.append(rdpos_by_name(names, get(ioc, "ORBITCC:rdPos")))
        put(ioc, f"{pc}:set", i0)
        columns.append({n: [(orbits[0][n][k] - orbits[1][n][k]) / (2 * STEP_A) for k in (0, 1)] for n in orbits[0]})
    return columns


def engine_orm(bpms, with_errors):
    """The engine's columns (m/A) by central differences of the 6D orbit."""
    scales = [f"--k1-scale={q}={1 + e!r}" for q, e in QUAD_ERRORS.items()] if with_errors else []
    columns = []
    for m in MEASURED:
        error = STEERER_ERRORS[m["name"]] if with_errors else 0.0
        kick = (1 + error) * STEP_A * m["magnetic_strength"] / BRHO_TM
        plus, _ = model_orbit(*scales, f"--kick={m['name']}={kick!r}")
        minus, _ = model_orbit(*scales, f"--kick={m['name']}={-kick!r}")
        columns.append({n: [(plus[n][k] - minus[n][k]) / (2 * STEP_A) for k in (0, 1)] for n in bpms})
    return columns


def as_matrix(columns, bpms):
    return np.array([[c[n][k] for n in bpms for k in (0, 1)] for c in columns])


@pytest.fixture
def calibrated(selftest_ioc):
    ioc = selftest_ioc
    put(ioc, "TWIN:BPM:NOISE", 0)
    errors = {**QUAD_ERRORS, **STEERER_ERRORS}
    for magnet, e in errors.items():
        put(ioc, f"TWIN:{magnet}:calib:set", e)
    yield ioc
    for magnet in errors:
        put(ioc, f"TWIN:{magnet}:calib:set", 0.0)


def test_the_measured_orm_is_the_engines_of_the_erroneous_machine(calibrated):
    assert len(MEASURED) == 6 and all(get(calibrated, f"{m['pc']}:set") == 0.0 for m in MEASURED)
    measured = measured_orm(calibrated)
    bpms = sorted(set(measured[0]) & set(model_orbit()[0]))
    assert len(bpms) == 123
    got = as_matrix(measured, bpms)
    erroneous = as_matrix(engine_orm(bpms, True), bpms)
    ideal = as_matrix(engine_orm(bpms, False), bpms)
    largest = np.max(np.abs(erroneous))
    mismatch = np.max(np.abs(got - erroneous)) / largest
    effect = np.max(np.abs(erroneous - ideal)) / largest
    print(f"ORM of 6 steerers x 123 BPMs x 2 planes: largest entry {largest:.4e} m/A; "
          f"|measured - engine (errors)| / largest = {mismatch:.2e}; "
          f"|engine (errors) - engine (ideal)| / largest = {effect:.3e}")
    assert mismatch < 1e-3
    # the errors show: the measurement differs from the ideal ORM by what the engine predicts
    assert effect > 0.02
    assert np.max(np.abs((got - ideal) - (erroneous - ideal))) / largest < 1e-3
