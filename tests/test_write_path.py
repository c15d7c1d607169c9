"""Issue 12, C1-C4, C8, C9: the write path under hostile input. After any
accepted client action every setpoint record holds what the model uses;
configuration fields are out of clients' reach; bad numbers fail the put
with WRITE/INVALID and the record keeps its last good value. Clients:
pyepics, caproto and p4p, over CA and PVA."""
import math

import epics
import pytest
from caproto import ChannelType
from caproto.sync import client as caproto_client
from p4p.client.thread import RemoteError

from helpers import TIMEOUT_S, get, put, wait_for

STEERER = "HS1PD3R"
OTHER_STEERER = "HS1PD2R"
CONFIG_FIELDS = {
    "DISA": 1, "DISP": 1, "OROC": 0.1, "DRVH": 1e6, "DRVL": -1e6, "HOPR": 1e6, "LOPR": -1e6,
    "PROC": 1, "FLNK": "X", "DOL": "X", "OMSL": 1, "SCAN": 9, "OUT": "X", "IVOA": 1, "UDFS": 0,
}


def ca_write(ioc, name, value, data_type=None):
    """A caproto put-callback; returns the server's status name."""
    kw = {"data_type": data_type} if data_type is not None else {}
    resp = caproto_client.write(ioc.pv(name), value, notify=True, repeater=False, timeout=TIMEOUT_S, **kw)
    return resp.status.name


def alarm(ioc, name):
    """(STAT, SEVR, AMSG) of a record, fresh from the server."""
    return (get(ioc, name + ".STAT", as_string=True), get(ioc, name + ".SEVR", as_string=True),
            get(ioc, name + ".AMSG", as_string=True))


def model_holds(ioc, pc, value):
    """The converter's readback (the value the model uses) equals `value`."""
    wait_for(f"{pc} model at {value}", lambda: get(ioc, f"{pc}:rdbk") == pytest.approx(value, abs=1e-12))


@pytest.fixture
def twin(selftest_ioc):
    put(selftest_ioc, f"{STEERER}:set", 0.0)
    put(selftest_ioc, f"{OTHER_STEERER}:set", 0.0)
    yield selftest_ioc
    put(selftest_ioc, f"{STEERER}:set", 0.0)
    put(selftest_ioc, f"{OTHER_STEERER}:set", 0.0)
    put(selftest_ioc, "TWIN:BPM:NOISE_RMS", 1e-6)
    assert get(selftest_ioc, "TWIN:MODEL:STATUS", as_string=True) == "VALID"


@pytest.mark.parametrize("field", sorted(CONFIG_FIELDS))
def test_c1_c2_c9_configuration_fields_refuse_every_client(twin, pva, field):
    """DISA/OROC/DRVH/FLNK/PROC/DOL/DISP/...: CA ECA_NOWTACCESS (pyepics and
    caproto), PVA "Put not permitted"; the field keeps its value."""
    name = f"{STEERER}:set.{field}"
    before = get(twin, name, as_string=True)
    pv = epics.PV(twin.pv(name))
    assert pv.wait_for_connection(TIMEOUT_S) and not pv.write_access
    with pytest.raises(epics.ca.CASeverityException, match="Write access denied"):
        pv.put(CONFIG_FIELDS[field], wait=True, timeout=TIMEOUT_S)
    value = CONFIG_FIELDS[field]
    data_type = ChannelType.STRING if isinstance(value, str) else None
    assert ca_write(twin, name, [value], data_type) == "ECA_NOWTACCESS"
    with pytest.raises(RemoteError, match="Put not permitted"):
        pva.put(twin.pv(name), value, timeout=TIMEOUT_S)
    assert get(twin, name, as_string=True) == before


def test_c1_disabling_cannot_split_the_setpoint_from_the_model(twin):
    assert ca_write(twin, f"{STEERER}:set.DISA", [1]) == "ECA_NOWTACCESS"
    assert ca_write(twin, f"{STEERER}:set", [1.25]) == "ECA_NORMAL"
    assert get(twin, f"{STEERER}:set") == 1.25
    model_holds(twin, STEERER, 1.25)


def test_c2_output_rate_cannot_split_the_setpoint_from_the_model(twin):
    assert ca_write(twin, f"{STEERER}:set.OROC", [0.1]) == "ECA_NOWTACCESS"
    assert ca_write(twin, f"{STEERER}:set", [1.5]) == "ECA_NORMAL"
    assert get(twin, f"{STEERER}:set") == 1.5
    model_holds(twin, STEERER, 1.5)


def test_c3_pva_put_without_processing_is_refused(twin, pva):
    name = f"{OTHER_STEERER}:set"
    put(twin, name, 0.3)
    recomputes = get(twin, "TWIN:MODEL:RECOMPUTES")
    for options in ("process=false", "block=true,process=false"):
        with pytest.raises(RemoteError, match="without processing"):
            pva.put(twin.pv(name), 0.7, request=f"record[{options}]field(value)", timeout=TIMEOUT_S)
    assert get(twin, name) == 0.3
    model_holds(twin, OTHER_STEERER, 0.3)
    assert get(twin, "TWIN:MODEL:RECOMPUTES") == recomputes


@pytest.mark.parametrize("process", ["true", "passive"])
def test_c3_pva_put_with_processing_reaches_the_model(twin, pva, process):
    writes = get(twin, "TWIN:MODEL:RECOMPUTES")
    pva.put(twin.pv(f"{OTHER_STEERER}:set"), 0.7, request=f"record[process={process}]field(value)",
            timeout=TIMEOUT_S)
    model_holds(twin, OTHER_STEERER, 0.7)
    assert get(twin, f"{OTHER_STEERER}:set") == 0.7
    assert get(twin, "TWIN:MODEL:RECOMPUTES") > writes


def test_c4_non_finite_noise_setting_is_refused_over_ca_and_pva(twin, pva):
    put(twin, "TWIN:BPM:NOISE_RMS", 2e-6)
    assert ca_write(twin, "TWIN:BPM:NOISE_RMS", [math.nan]) == "ECA_PUTFAIL"
    assert get(twin, "TWIN:BPM:NOISE_RMS") == 2e-6
    assert alarm(twin, "TWIN:BPM:NOISE_RMS")[:2] == ("WRITE", "INVALID")
    with pytest.raises(RemoteError, match="not a finite number"):
        pva.put(twin.pv("TWIN:BPM:NOISE_RMS"), math.inf, timeout=TIMEOUT_S)
    assert get(twin, "TWIN:BPM:NOISE_RMS") == 2e-6
    put(twin, "TWIN:BPM:NOISE_RMS", 3e-6)
    assert get(twin, "TWIN:BPM:NOISE_RMS") == 3e-6
    assert alarm(twin, "TWIN:BPM:NOISE_RMS")[1] == "NO_ALARM"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_c8_non_finite_puts_fail_on_every_client(twin, pva, bad):
    name = f"{STEERER}:set"
    put(twin, name, 0.5)
    recomputes = get(twin, "TWIN:MODEL:RECOMPUTES")
    assert ca_write(twin, name, [bad]) == "ECA_PUTFAIL"
    stat, sevr, amsg = alarm(twin, name)
    assert (stat, sevr) == ("WRITE", "INVALID") and "finite" in amsg
    with pytest.raises(RemoteError, match="not a finite number"):
        pva.put(twin.pv(name), bad, timeout=TIMEOUT_S)
    with pytest.raises(RemoteError):
        pva.put(twin.pv(name), bad, wait=True, timeout=TIMEOUT_S)
    # pyepics ignores a put-callback's status (it returns 1 whatever the
    # server says); what it sees is the record's alarm and its unchanged value
    epics.caput(twin.pv(name), bad, wait=True, timeout=TIMEOUT_S)
    assert get(twin, name) == 0.5 and alarm(twin, name)[:2] == ("WRITE", "INVALID")
    model_holds(twin, STEERER, 0.5)
    assert get(twin, "TWIN:MODEL:RECOMPUTES") == recomputes
    put(twin, name, 0.25)
    assert alarm(twin, name)[1] == "NO_ALARM"
    model_holds(twin, STEERER, 0.25)


@pytest.mark.parametrize("text", ["", " ", "1.0abc", "1,5", "0x10", "-0X1", "nan", "inf", "1e999", "abc"])
def test_c8_strings_that_are_not_complete_numbers_fail(twin, text):
    name = f"{STEERER}:set"
    put(twin, name, 0.5)
    assert ca_write(twin, name, text, ChannelType.STRING) == "ECA_PUTFAIL"
    assert get(twin, name) == 0.5
    stat, sevr, amsg = alarm(twin, name)
    assert (stat, sevr) == ("WRITE", "INVALID") and amsg
    model_holds(twin, STEERER, 0.5)
    # a plain put (no callback) is refused the same way
    caproto_client.write(twin.pv(name), text, notify=False, data_type=ChannelType.STRING, repeater=False,
                         timeout=TIMEOUT_S)
    assert get(twin, name) == 0.5


@pytest.mark.parametrize("text, value", [("1.5", 1.5), (" -2e-1 ", -0.2), ("+1", 1.0)])
def test_complete_number_strings_are_accepted(twin, text, value):
    name = f"{STEERER}:set"
    assert ca_write(twin, name, text, ChannelType.STRING) == "ECA_NORMAL"
    assert get(twin, name) == value
    model_holds(twin, STEERER, value)


def test_out_of_range_numbers_keep_epics_clamping(twin, pva):
    """Documented EPICS behaviour: a finite value beyond DRVH/DRVL is clamped
    to the limit, and the model takes the clamped value."""
    name = f"{STEERER}:set"
    drvh, drvl = get(twin, name + ".DRVH"), get(twin, name + ".DRVL")
    assert ca_write(twin, name, [1e308]) == "ECA_NORMAL"
    assert get(twin, name) == drvh
    model_holds(twin, STEERER, drvh)
    pva.put(twin.pv(name), -1e308, timeout=TIMEOUT_S)
    assert get(twin, name) == drvl
    model_holds(twin, STEERER, drvl)


def test_refused_strings_leave_other_clients_writes_alone(twin):
    """The veto holds one record for one request only: a good put right
    after a refused one succeeds."""
    name = f"{STEERER}:set"
    for i in range(20):
        assert ca_write(twin, name, "1.0abc", ChannelType.STRING) == "ECA_PUTFAIL"
        assert ca_write(twin, name, [0.01 * i]) == "ECA_NORMAL"
    model_holds(twin, STEERER, 0.19)


@pytest.mark.parametrize("text", ["12abc", "1.5", "0x10", ""])
def test_integer_records_refuse_strings_that_are_not_complete_integers(selftest_ioc, text):
    name = "TWIN:SELFTEST:FILL"
    put(selftest_ioc, name, 3)
    assert ca_write(selftest_ioc, name, text, ChannelType.STRING) == "ECA_PUTFAIL"
    assert get(selftest_ioc, name) == 3
    assert alarm(selftest_ioc, name)[:2] == ("WRITE", "INVALID")
    assert ca_write(selftest_ioc, name, " 4 ", ChannelType.STRING) == "ECA_NORMAL"
    assert get(selftest_ioc, name) == 4
