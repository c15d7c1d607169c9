"""Hidden BPM errors and BPM faults end to end (pyepics): the published
readings are what BPMs with offsets, gains and rolls read of the engine's
beam orbit; BBA finds the offset of the BPM next to the quad; dead, frozen
and garbage BPMs show as the machine's formats show them."""
import math

import numpy as np
import pytest

from helpers import get, put, wait_for
from test_bba import measure
from twin_helpers import BPM_CONFIG, COUNTS_PER_M, rdpos_by_name

# hidden errors of three BPMs: offset (x, y) [m], gain (x, y), roll [rad]
ERRORS = {
    "BPMZ5D1R": ((150e-6, -80e-6), (1.05, 0.97), 0.02),
    "BPMZ1T1R": ((-300e-6, 40e-6), (0.92, 1.08), -0.03),
    "BPMZ4D3R": ((0.0, 0.0), (1.0, 1.0), 0.05),
}
SLOTS = 128


def set_errors(ioc, bpm, offset, gain, roll):
    for k, axis in enumerate("xy"):
        put(ioc, f"TWIN:{bpm}:offset:{axis}:set", offset[k])
        put(ioc, f"TWIN:{bpm}:gain:{axis}:set", gain[k])
    put(ioc, f"TWIN:{bpm}:roll:set", roll)


def clear_errors(ioc, bpm):
    set_errors(ioc, bpm, (0.0, 0.0), (1.0, 1.0), 0.0)
    put(ioc, f"TWIN:{bpm}:noise:set", 0.0)
    put(ioc, f"TWIN:FAULT:{bpm}:mode", 0)


def expected_reading(beam, errors):
    (ox, oy), (gx, gy), roll = errors
    x, y = beam
    s, c = math.sin(roll), math.cos(roll)
    return ox + gx * (x * c + y * s), oy + gy * (-x * s + y * c)


def readings(ioc):
    return rdpos_by_name(list(get(ioc, "ORBITCC:rdBpmNames")), get(ioc, "ORBITCC:rdPos"))


def beam(ioc):
    names = list(get(ioc, "TWIN:BPM:NAMES"))
    return {n: (x, y) for n, x, y in zip(names, get(ioc, "TWIN:BPM:X"), get(ioc, "TWIN:BPM:Y"))}


def packed_slot(bpm):
    return next(b["idx"] - 1 for b in BPM_CONFIG if b["bpm_name"] == bpm)


@pytest.fixture
def clean(selftest_ioc):
    """Noise off; every BPM error, fault and quad offset a test sets is undone."""
    ioc = selftest_ioc
    put(ioc, "TWIN:BPM:NOISE", 0)
    touched = set()
    ioc.touch = touched.add
    yield ioc
    for bpm in touched:
        clear_errors(ioc, bpm)
    for axis in "xy":
        put(ioc, f"TWIN:Q1M2D1R:{axis}:set", 0.0)
    put(ioc, "TWIN:BPM:NOISE", 0)
    put(ioc, "TWIN:BBA:clear", 1)


def test_readings_are_offset_plus_gain_times_the_rotated_beam(clean):
    ioc = clean
    # a quad offset puts the beam off axis at every BPM (gain and roll act)
    put(ioc, "TWIN:Q1M2D1R:x:set", 100e-6)
    put(ioc, "TWIN:Q1M2D1R:y:set", 60e-6)
    for bpm, errors in ERRORS.items():
        ioc.touch(bpm)
        set_errors(ioc, bpm, *errors)
    shown, truth = readings(ioc), beam(ioc)
    assert len(truth) == 123 and max(abs(y) for _, y in truth.values()) > 10e-6
    worst = 0.0
    for name, b in truth.items():
        want = expected_reading(b, ERRORS.get(name, ((0, 0), (1, 1), 0)))
        worst = max(worst, abs(shown[name][0] - want[0]), abs(shown[name][1] - want[1]))
    print(f"largest |published - (offset + gain x rotated beam)| over 123 BPMs: {worst:.2e} m")
    assert worst < 1e-12
    # the packed vector carries the same readings (x with the newer electronics' sign)
    data = np.asarray(get(ioc, "MDIZ2T5G:bdata"), dtype=float)
    for bpm, errors in ERRORS.items():
        slot, (x, y) = packed_slot(bpm), expected_reading(truth[bpm], errors)
        assert abs(-data[slot] / COUNTS_PER_M - x) <= 0.5 / COUNTS_PER_M
        assert abs(data[SLOTS + slot] / COUNTS_PER_M - y) <= 0.5 / COUNTS_PER_M


def test_bba_returns_the_offset_of_the_bpm_next_to_the_quad(clean):
    """The machine's BBA result: the nearest BPM's reading at which the beam
    passes the quad's centre, i.e. that BPM's offset relative to the quad."""
    ioc, quad = clean, "Q1M2D1R"
    bpm = get(ioc, f"TWIN:BBA:{quad}:bpm", as_string=True)
    assert bpm.startswith("BPM")
    ioc.touch(bpm)
    hidden = (200e-6, -150e-6)
    set_errors(ioc, bpm, hidden, (1.0, 1.0), 0.0)
    put(ioc, "TWIN:BBA:clear", 1)
    r = measure(ioc, quad)
    found = [get(ioc, f"TWIN:BBA:{quad}:bpmOffset{p}") for p in "XY"]
    sigma = [get(ioc, f"TWIN:BBA:{quad}:bpmSigma{p}") for p in "XY"]
    errors = [found[k] - hidden[k] for k in range(2)]
    print(f"BPM offset by BBA without noise: error {[round(e * 1e6, 3) for e in errors]} um;"
          f" the quad's centre in the frame of the BPMs around it: {r['offsetX']:.3e}, {r['offsetY']:.3e} m")
    assert all(abs(e) < 1e-6 for e in errors), errors
    assert all(0 < s < 1e-6 for s in sigma), sigma
    # with 1 um read-out noise: within 3 sigma
    put(ioc, "TWIN:BPM:NOISE_RMS", 1.0)
    put(ioc, "TWIN:BPM:NOISE", 1)
    measure(ioc, quad)
    found = [get(ioc, f"TWIN:BBA:{quad}:bpmOffset{p}") for p in "XY"]
    sigma = [get(ioc, f"TWIN:BBA:{quad}:bpmSigma{p}") for p in "XY"]
    errors = [found[k] - hidden[k] for k in range(2)]
    print(f"with 1 um noise: error {[round(e * 1e6, 3) for e in errors]} um, sigma {[round(s * 1e6, 3) for s in sigma]} um")
    assert all(abs(e) < 3 * s for e, s in zip(errors, sigma)), (errors, sigma)
    assert all(0.05e-6 < s < 3e-6 for s in sigma), sigma


def test_bpm_faults_show_as_the_machine_shows_them(clean):
    ioc, bpm = clean, "BPMZ5D1R"
    ioc.touch(bpm)
    names = list(get(ioc, "ORBITCC:rdBpmNames"))
    i, slot = names.index(bpm), packed_slot(bpm)

    def row(data, k):
        return int(data[k * SLOTS + slot])

    # dead: NaN in rdPos, status 0 (no power, no AGC) and no signal in bdata
    put(ioc, f"TWIN:FAULT:{bpm}:mode", 1)
    assert get(ioc, f"TWIN:FAULT:{bpm}:mode", as_string=True) == "DEAD"
    pos = get(ioc, "ORBITCC:rdPos")
    assert math.isnan(pos[2 * i]) and math.isnan(pos[2 * i + 1])
    data = get(ioc, "MDIZ2T5G:bdata")
    assert [row(data, k) for k in range(5)] == [0, 0, 0, 0, 0]
    assert row(data, 4) != int(data[4 * SLOTS + packed_slot("BPMZ6D1R")]) == 3  # its neighbour is fine
    # garbage: status 2 (powered, AGC lost), positions anywhere, changing with every read-out
    put(ioc, f"TWIN:FAULT:{bpm}:mode", 3)
    first = get(ioc, "MDIZ2T5G:bdata")
    count = get(ioc, "MDIZ2T5G:count")
    wait_for("the next read-out", lambda: get(ioc, "MDIZ2T5G:count") > count + 1)
    second = get(ioc, "MDIZ2T5G:bdata")
    assert row(first, 4) == row(second, 4) == 2
    assert (row(first, 0), row(first, 1)) != (row(second, 0), row(second, 1))
    # frozen: the reading of the moment it froze, whatever the beam does; status looks fine
    put(ioc, f"TWIN:FAULT:{bpm}:mode", 2)
    frozen = readings(ioc)[bpm]
    put(ioc, "TWIN:Q1M2D1R:x:set", 150e-6)
    moved, truth = readings(ioc), beam(ioc)
    assert moved[bpm] == frozen and abs(truth[bpm][0] - frozen[0]) > 1e-6
    assert row(get(ioc, "MDIZ2T5G:bdata"), 4) == 3
    # cleared: the BPM reads the beam again
    put(ioc, f"TWIN:FAULT:{bpm}:mode", 0)
    again, truth = readings(ioc), beam(ioc)
    assert abs(again[bpm][0] - truth[bpm][0]) < 1e-12 and abs(again[bpm][1] - truth[bpm][1]) < 1e-12
    assert get(ioc, "TWIN:MODEL:STATUS", as_string=True) == "VALID"


def test_bba_next_to_a_dead_bpm_completes_without_that_bpms_offset(clean):
    ioc, quad = clean, "Q1M2D1R"
    bpm = get(ioc, f"TWIN:BBA:{quad}:bpm", as_string=True)
    ioc.touch(bpm)
    put(ioc, f"TWIN:FAULT:{bpm}:mode", 1)
    put(ioc, "TWIN:FAULT:BPMZ1T1R:mode", 3)  # and one reading garbage elsewhere
    ioc.touch("BPMZ1T1R")
    r = measure(ioc, quad)
    assert math.isnan(get(ioc, f"TWIN:BBA:{quad}:bpmOffsetX"))
    assert abs(r["offsetX"]) < 1e-6 and abs(r["offsetY"]) < 1e-6  # the quad's centre is still found


def test_errors_drawn_at_startup_and_the_measured_bpm_offsets(tmp_path):
    """[errors]: the machine's measured BPM offsets (bpm_offset.json, mm),
    seeded gains, calibration errors and sextupole offsets at the first
    start; persisted; the readings are what those BPMs read."""
    import json

    from conftest import ROOT
    from store_helpers import StoreIoc

    text = (ROOT / "config" / "twin.toml").read_text()
    defaults = "bpm_offsets_measured = false\n", "bpm_gain_rms = 0.0\n", "calibration_rms = 0.0\n"
    assert all(d in text for d in defaults)
    for d, v in zip(defaults, ("bpm_offsets_measured = true\n", "bpm_gain_rms = 0.01\n", "calibration_rms = 0.002\n")):
        text = text.replace(d, v)
    text = text.replace("sextupole_offset_rms_m = 0.0\n", "sextupole_offset_rms_m = 20e-6\n")
    (tmp_path / "twin.toml").write_text(text)
    env = {"TWIN_CONFIG": str(tmp_path / "twin.toml"), "TWIN_STORE_DIR": str(tmp_path / "store")}
    measured = json.loads((ROOT / "config" / "bessy2" / "bpm_offset.json").read_text())
    ioc = StoreIoc(env).start()
    try:
        names = list(ioc.client([("get", "TWIN:BPM:NAMES")])[0])
        wanted = [r for r in measured if r["bpm_name"] in names]
        assert len(wanted) > 100
        got = ioc.client([("get", f"TWIN:{r['bpm_name']}:offset:{a}:set") for r in wanted for a in "xy"])
        want = [r[f"offset_{a}"] * 1e-3 for r in wanted for a in "xy"]
        assert np.max(np.abs(np.array(got) - want)) < 1e-12
        gains = np.array(ioc.client([("get", f"TWIN:{n}:gain:x:set") for n in names]))
        assert 0.005 < np.std(gains - 1) < 0.015 and len(set(gains)) == len(names)
        calib = ioc.client([("get", "TWIN:Q1M1D1R:calib:set"), ("get", "TWIN:S1MT1R:x:set")])
        assert 0 < abs(calib[0]) <= 0.006 and 0 < abs(calib[1]) <= 60e-6
        x, y, rd, slots = ioc.client(
            [("get", "TWIN:BPM:X"), ("get", "TWIN:BPM:Y"), ("get", "ORBITCC:rdPos"), ("get", "ORBITCC:rdBpmNames")]
        )
        shown = rdpos_by_name(list(slots), rd)
        errors = ioc.client([("get", f"TWIN:{n}:{w}:set") for n in names for w in ("offset:x", "offset:y", "gain:x", "gain:y", "roll")])
        for k, n in enumerate(names):
            ox, oy, gx, gy, roll = errors[5 * k: 5 * k + 5]
            want = expected_reading((x[k], y[k]), ((ox, oy), (gx, gy), roll))
            assert abs(shown[n][0] - want[0]) < 1e-12 and abs(shown[n][1] - want[1]) < 1e-12, n
    finally:
        assert ioc.stop() == 0
    stored = json.loads((tmp_path / "store" / "setpoints.json").read_text())
    assert len([d for d in stored if d["_id"].endswith(":offset:x:set")]) == len(wanted)
