"""The earlier twin's (dt4acc) names on this twin: the model's orbit at
every element, per-magnet strengths with their trims, the per-magnet offset
names as the same state as the twin's hidden offsets, all persisted."""
import json
import math

import numpy as np
import pytest

from store_helpers import StoreIoc
from twin_helpers import kick_rad, model

TURNS_RATIO = -2.67857


@pytest.fixture
def ioc(tmp_path):
    env = {"TWIN_STORE_DIR": str(tmp_path / "store")}
    twin = StoreIoc(env, prefix="D:").start()
    twin.env_extra = env
    try:
        yield twin
    finally:
        if twin.ioc.proc.poll() is None:
            assert twin.stop() == 0


def f_rev_khz(ioc):
    return ioc.client([("get", "MCLKHX251C:freq")])[0] / 400


def test_beam_orbit_is_the_closed_orbit_at_every_element(ioc):
    x, y, names, found = ioc.client([("get", "beam:orbit:x"), ("get", "beam:orbit:y"), ("get", "beam:orbit:names"),
                                     ("get", "beam:orbit:found")])
    expected = model("--6d", "--elements")["elements"]
    assert len(x) == len(expected) == 1094 and found == 1
    assert [e["name"] for e in expected] == names
    assert np.max(np.abs(np.array(x) - [e["x"] for e in expected])) < 1e-12
    assert np.max(np.abs(np.array(y) - [e["y"] for e in expected])) < 1e-12
    # after a steerer write too
    assert ioc.client([("put", "HS4P2D1R:set", 0.2)]) == [1]
    (x,) = ioc.client([("get", "beam:orbit:x")])
    steerer, kick = kick_rad("HS4P2D1R", 0.2)
    moved = model("--6d", "--elements", f"--kick={steerer}={kick!r}")["elements"]
    assert np.max(np.abs(np.array(x) - [e["x"] for e in moved])) < 1e-9
    assert np.max(np.abs(np.array(x) - [e["x"] for e in expected])) > 1e-5


def test_a_magnet_strength_write_moves_the_tunes_as_the_engine_predicts_and_is_kept_as_a_trim(ioc, tmp_path):
    k1, unit = ioc.client([("get", "Q1M1D1R:Cm:set"), ("get", "Q1M1D1R:Cm:set.EGU")])
    assert unit == "1/m2" and abs(k1 - 2.436378510478) < 1e-9
    assert ioc.client([("put", "Q1M1D1R:Cm:set", k1 * 1.01)]) == [1]
    qh, qv, rdbk, trim = ioc.client([("get", "TUNEZR:rdH"), ("get", "TUNEZR:rdV"), ("get", "Q1M1D1R:Cm:rdbk"),
                                     ("get", "TWIN:Q1M1D1R:Cm:trim")])
    q = model("--6d", "--k1-scale=Q1M1D1R=1.01")["tunes"]
    f = f_rev_khz(ioc)
    assert abs(qh / f - q[0]) < 1e-6 and abs(qv / f - q[1]) < 1e-6
    assert abs(rdbk - k1 * 1.01) < 1e-12 and abs(trim - 0.01 * k1) < 1e-12
    # the converter moves every magnet of the family; the trim stays
    (i_pc,) = ioc.client([("get", "Q1PDR:set")])
    assert ioc.client([("put", "Q1PDR:set", i_pc * 1.001)]) == [1]
    strength, other, trim_after = ioc.client([("get", "Q1M1D1R:Cm:set"), ("get", "Q1M2D1R:Cm:set"),
                                              ("get", "TWIN:Q1M1D1R:Cm:trim")])
    assert abs(strength - (k1 * 1.001 + 0.01 * k1)) < 1e-9 and abs(other - k1 * 1.001) < 1e-9
    assert trim_after == trim
    # kept across a restart: the converter and the trim
    assert ioc.stop() == 0
    again = StoreIoc(ioc.env_extra, prefix="D:").start()
    try:
        strength_again, trim_again = again.client([("get", "Q1M1D1R:Cm:set"), ("get", "TWIN:Q1M1D1R:Cm:trim")])
    finally:
        assert again.stop() == 0
    assert strength_again == strength and trim_again == trim
    stored = json.loads((tmp_path / "store" / "setpoints.json").read_text())
    assert {d["_id"]: d["value"] for d in stored}["TWIN:Q1M1D1R:Cm:trim"] == trim


def test_magnet_offset_names_are_the_hidden_offsets(ioc):
    assert ioc.client([("put", "Q3M2T8R:x:set", 50e-6), ("put", "TWIN:Q3M2T8R:y:set", -20e-6)]) == [1, 1]
    x_twin, y_dt4acc, x_bpm = ioc.client([("get", "TWIN:Q3M2T8R:x:set"), ("get", "Q3M2T8R:y:set"), ("get", "TWIN:BPM:X")])
    assert (x_twin, y_dt4acc) == (50e-6, -20e-6)
    expected = model("--6d", "--offset=Q3M2T8R=5e-05,-2e-05")["bpms"]
    assert np.max(np.abs(np.array(x_bpm) - [b["x"] for b in expected])) < 1e-9
    # a steering winding's offset is its sextupole's
    assert ioc.client([("put", "HS4M2D1R:x:set", 30e-6)]) == [1]
    assert ioc.client([("get", "TWIN:S4M2D1R:x:set"), ("get", "S4M2D1R:x:set")]) == [30e-6, 30e-6]


def test_coil_current_includes_the_multiplexer(ioc):
    (i_pc,) = ioc.client([("get", "Q1PDR:set")])
    ops = [("put", "PMUXZR:Q1M1D1R", 1), ("put", "QSPAZR:set", 1.0), ("get", "Q1M1D1R:im:I"), ("get", "Q1M2D1R:im:I"),
           ("put", "QSPAZR:set", 0.0), ("put", "PMUXZR:off", 1)]
    out = ioc.client(ops)
    assert abs(out[2] - (i_pc + TURNS_RATIO)) < 1e-9, out
    assert abs(out[3] - i_pc) < 1e-12, "the other magnet of the converter carries no multiplexer current"
    assert not math.isnan(out[2])
