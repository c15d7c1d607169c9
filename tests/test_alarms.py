"""Alarm limits from the profile in the records, end to end: the beam
current falls below LOW and LOLO with top-up off (lifetime shortened in the
configuration) and the record alarms MINOR, then MAJOR over CA and PVA,
clearing with hysteresis when top-up refills; an unstable model is INVALID."""
import pathlib
import re

import pytest

from conftest import ROOT
from ops_helpers import OwnIoc, wait_for

CURRENT = "CUMZR:rdCur"


def config_with(tmp_path, beam):
    """config/twin.toml with [beam] keys replaced."""
    text = (ROOT / "config" / "twin.toml").read_text()
    for key, value in beam.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, key
    path = pathlib.Path(tmp_path) / "twin.toml"
    path.write_text(text)
    return path


@pytest.fixture
def fast_beam(tmp_path):
    # 36 s lifetime: 300 -> 295 mA in 0.6 s, -> 250 mA in 6.6 s; 25 mA shots
    # at 1 Hz refill it in a few seconds
    cfg = config_with(tmp_path, {"lifetime_h": 0.01, "topup_shot_ma": 25.0, "update_period_s": 0.1})
    ioc = OwnIoc({"TWIN_CONFIG": str(cfg)}).start()
    yield ioc
    ioc.stop()


def test_beam_current_alarms_minor_then_major_and_clears_with_hysteresis(fast_beam):
    ioc = fast_beam
    ctx = ioc.ca("operator")
    current, low, lolo, hyst, topup = ioc.ca_pvs(ctx, CURRENT, CURRENT + ".LOW", CURRENT + ".LOLO",
                                                  CURRENT + ".HYST", "TOPUPCC:state")
    low, lolo, hyst = (p.read().data[0] for p in (low, lolo, hyst))
    assert (low, lolo, hyst) == (295.0, 250.0, 1.0)
    ca_seen = []  # (value, severity) over CA
    sub = current.subscribe(data_type="time")

    def on_update(_sub, r):
        ca_seen.append((float(r.data[0]), int(r.metadata.severity)))

    sub.add_callback(on_update)  # caproto keeps a weak reference
    pva_seen = []
    mon = ioc.pva().monitor(ioc.pv(CURRENT), lambda v: pva_seen.append((float(v), int(v.severity))))
    wait_for("first updates", lambda: ca_seen and pva_seen)
    assert ca_seen[-1][1] == 0, ca_seen[-1]

    assert topup.write([0], wait=True, timeout=5).status.name == "ECA_NORMAL"
    wait_for("MAJOR over CA and PVA", lambda: any(s == 2 for _, s in ca_seen) and any(s == 2 for _, s in pva_seen),
             timeout=30)
    for seen in (ca_seen, pva_seen):
        severities = [s for _, s in seen]
        first_minor, first_major = severities.index(1), severities.index(2)
        assert first_minor < first_major, severities
        for value, severity in seen[:first_major]:
            # on the way down: NO_ALARM above LOW, MINOR between LOLO and LOW
            assert severity == (0 if value >= low else 1), (value, severity)
    mark_ca, mark_pva = len(ca_seen), len(pva_seen)
    assert topup.write([1], wait=True, timeout=5).status.name == "ECA_NORMAL"
    wait_for("cleared over CA and PVA", lambda: ca_seen[-1][1] == 0 and pva_seen[-1][1] == 0, timeout=30)
    for seen in (ca_seen[mark_ca:], pva_seen[mark_pva:]):
        for value, severity in seen:
            # on the way up an alarm clears only above limit + HYST
            if value < lolo + hyst:
                assert severity == 2, (value, severity)
            elif value < low + hyst:
                assert severity >= 1, (value, severity)
    mon.close()
    sub.clear()


def test_an_unstable_model_is_invalid():
    ioc = OwnIoc().start()
    try:
        ctx = ioc.ca("operator")
        q, drvh, status = ioc.ca_pvs(ctx, "Q1PDR:set", "Q1PDR:set.DRVH", "TWIN:MODEL:STATUS")
        design = q.read().data[0]
        assert q.write([drvh.read().data[0]], wait=True, timeout=10).status.name == "ECA_NORMAL"
        r = status.read(data_type="time")
        assert r.data[0] in (1, 2) and int(r.metadata.severity) == 3, r
        pva = ioc.pva()
        assert pva.get(ioc.pv("TWIN:MODEL:STATUS")).severity == 3
        # the orbit the twin can no longer compute is INVALID too
        (orbit,) = ioc.ca_pvs(ctx, "ORBITCC:rdPos")
        assert int(orbit.read(data_type="time").metadata.severity) == 3
        assert q.write([design], wait=True, timeout=10).status.name == "ECA_NORMAL"
        assert int(status.read(data_type="time").metadata.severity) == 0
    finally:
        ioc.stop()
