"""Bad input on the writable PVs added for HZB's clients and the earlier
twin's names is refused with an EPICS alarm and changes nothing; the twin
keeps serving. A what-if outside shadow mode is refused the same way."""
import math

import epics
import pytest
from caproto import ChannelType
from caproto.sync import client as caproto_client

from helpers import TIMEOUT_S, get, put


def severity(ioc, name):
    pv = epics.PV(ioc.pv(name), form="time")
    pv.get(use_monitor=False, timeout=TIMEOUT_S)
    return pv.severity


def write(ioc, name, value, data_type=None):
    kw = {"data_type": data_type} if data_type is not None else {}
    return caproto_client.write(ioc.pv(name), value, notify=True, repeater=False, timeout=TIMEOUT_S, **kw)


@pytest.fixture
def twin(selftest_ioc):
    yield selftest_ioc
    put(selftest_ioc, "QSPAZR:set", 0.0)
    put(selftest_ioc, "QSPAZR:cmd1", 1)
    put(selftest_ioc, "PMUXZR:off", 1)
    put(selftest_ioc, "TOPUPCC:selTrgSR", 0)
    assert get(selftest_ioc, "TWIN:MODEL:STATUS", as_string=True) == "VALID"


@pytest.mark.parametrize("bad", [math.nan, math.inf, 25.0, -30.0])
def test_magnet_strength_refuses_non_finite_and_out_of_range(twin, bad):
    k1 = get(twin, "Q2M1D2R:Cm:set")
    recomputes = get(twin, "TWIN:MODEL:RECOMPUTES")
    write(twin, "Q2M1D2R:Cm:set", [bad])
    assert get(twin, "Q2M1D2R:Cm:set") == k1, "the record shows its last good value"
    assert severity(twin, "Q2M1D2R:Cm:set") == 3, "WRITE/INVALID"
    assert get(twin, "Q2M1D2R:Cm:rdbk") == k1 and get(twin, "TWIN:Q2M1D2R:Cm:trim") == 0.0
    assert get(twin, "TWIN:MODEL:RECOMPUTES") == recomputes
    put(twin, "Q2M1D2R:Cm:set", k1)  # a good write clears the alarm
    assert severity(twin, "Q2M1D2R:Cm:set") == 0


def test_non_numeric_strength_is_refused(twin):
    k1 = get(twin, "Q2M1D2R:Cm:set")
    resp = write(twin, "Q2M1D2R:Cm:set", "abc", data_type=ChannelType.STRING)
    assert resp.status.name == "ECA_PUTFAIL"
    assert get(twin, "Q2M1D2R:Cm:set") == k1


def test_trim_and_injection_rate_refuse_bad_values(twin):
    write(twin, "TWIN:Q2M1D2R:Cm:trim", [math.nan])
    assert get(twin, "TWIN:Q2M1D2R:Cm:trim") == 0.0 and severity(twin, "TWIN:Q2M1D2R:Cm:trim") == 3
    write(twin, "TOPUPCC:selTrgSR", [5], data_type=ChannelType.ENUM)
    assert get(twin, "TOPUPCC:selTrgSR") == 0 and severity(twin, "TOPUPCC:selTrgSR") == 3
    put(twin, "TOPUPCC:selTrgSR", 2)
    assert get(twin, "TOPUPCC:selTrgSR", as_string=True) == "0.1 Hz" and severity(twin, "TOPUPCC:selTrgSR") == 0


def test_switching_under_current_is_refused_and_the_supply_switch_stops_the_current(twin):
    put(twin, "PMUXZR:Q1M1D1R", 1)
    put(twin, "QSPAZR:set", 0.5)
    assert get(twin, "QSPAZR:rdbk") == 0.5 and get(twin, "QSPAZR:stat1") == 1
    write(twin, "PMUXZR:Q2M1D2R", [1], data_type=ChannelType.ENUM)
    assert get(twin, "PMUXZR:name") == "Q1M1D1R", "no switch under current"
    assert get(twin, "PMUXZR:Q2M1D2R") == 0 and severity(twin, "PMUXZR:Q2M1D2R") == 3
    put(twin, "QSPAZR:cmd1", 0)  # the supply off: no current flows, whatever its setpoint
    assert get(twin, "QSPAZR:rdbk") == 0.0 and get(twin, "QSPAZR:stat1") == 0 and get(twin, "QSPAZR:set") == 0.5
    put(twin, "PMUXZR:Q2M1D2R", 1)
    assert get(twin, "PMUXZR:name") == "Q2M1D2R" and get(twin, "PMUXZR:Q1M1D1R") == 0


@pytest.mark.parametrize("value", [0.1, math.nan, math.inf])
def test_a_what_if_outside_shadow_mode_is_refused_and_changes_nothing(twin, value):
    """The what-if overlay acts on a followed converter in shadow mode only:
    on a twin that follows nothing, every write is refused with an alarm."""
    recomputes = get(twin, "TWIN:MODEL:RECOMPUTES")
    resp = write(twin, "TWIN:SHADOW:HS1PD1R:whatif", [value])
    assert resp.status.name == "ECA_PUTFAIL"
    assert get(twin, "TWIN:SHADOW:HS1PD1R:whatif") == 0.0
    assert severity(twin, "TWIN:SHADOW:HS1PD1R:whatif") == 3, "INVALID (WRITE) alarm"
    assert get(twin, "TWIN:MODEL:RECOMPUTES") == recomputes
    assert get(twin, "TWIN:SHADOW:STATUS", as_string=True) == "OFF"
    # writing what it is changes nothing and is accepted: the alarm clears
    put(twin, "TWIN:SHADOW:HS1PD1R:whatif", 0.0)
    assert severity(twin, "TWIN:SHADOW:HS1PD1R:whatif") == 0
