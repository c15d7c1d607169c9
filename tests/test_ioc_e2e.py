"""End-to-end tests of the IOC foundation with real clients: pyepics (CA),
caproto (CA, independent implementation) and p4p (PVA), against the
twin-ioc binary running tests/st-selftest.cmd."""
import pathlib
import threading
import time

import epics
import numpy as np
import pytest
from caproto import ChannelType
from caproto.sync import client as caproto_client

from helpers import TIMEOUT_S, wait_for


def st(ioc, name):
    return ioc.pv(f"TWIN:SELFTEST:{name}")


def caget_fresh(name, **kw):
    """A read from the server, not from pyepics' monitor cache."""
    kw.setdefault("use_monitor", False)
    return epics.caget(name, **kw)


def caput(name, value):
    status = epics.caput(name, value, wait=True, timeout=TIMEOUT_S)
    assert status == 1, f"caput {name}={value!r} failed"


def writes(ioc):
    return caget_fresh(st(ioc, "WRITES"), timeout=TIMEOUT_S)


# --- metadata -------------------------------------------------------------

def test_read_with_metadata_pyepics(selftest_ioc):
    caput(st(selftest_ioc, "SETPOINT"), 1.25)
    pv = epics.PV(st(selftest_ioc, "SETPOINT"), form="ctrl")
    assert pv.wait_for_connection(TIMEOUT_S)
    ctrl = pv.get_ctrlvars(timeout=TIMEOUT_S)
    assert ctrl["units"] == "mm"
    assert ctrl["precision"] == 3
    assert (ctrl["lower_disp_limit"], ctrl["upper_disp_limit"]) == (-10.0, 10.0)
    assert (ctrl["lower_ctrl_limit"], ctrl["upper_ctrl_limit"]) == (-10.0, 10.0)
    assert caget_fresh(st(selftest_ioc, "SETPOINT") + ".DESC", timeout=TIMEOUT_S) == "Self-test setpoint"
    echo = epics.PV(st(selftest_ioc, "ECHO"), form="time")
    assert echo.wait_for_connection(TIMEOUT_S)
    value = echo.get(use_monitor=False, timeout=TIMEOUT_S)
    assert value == 1.25
    assert echo.severity == 0
    assert abs(echo.timestamp - time.time()) < 1.0


def test_read_with_metadata_caproto(selftest_ioc):
    caput(st(selftest_ioc, "SETPOINT"), -2.5)
    resp = caproto_client.read(st(selftest_ioc, "ECHO"), data_type=ChannelType.CTRL_DOUBLE, repeater=False, timeout=TIMEOUT_S)
    assert resp.data[0] == -2.5
    md = resp.metadata
    assert md.units == b"mm" and md.precision == 3
    assert (md.lower_disp_limit, md.upper_disp_limit) == (-10.0, 10.0)
    assert md.upper_warning_limit == 8.0
    resp = caproto_client.read(st(selftest_ioc, "ECHO"), data_type=ChannelType.TIME_DOUBLE, repeater=False, timeout=TIMEOUT_S)
    assert abs(resp.metadata.timestamp - time.time()) < 1.0


def test_read_with_metadata_p4p(selftest_ioc, pva):
    caput(st(selftest_ioc, "SETPOINT"), 4.5)
    # Rust posts the echo after the put completes
    wait_for("the echo", lambda: pva.get(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == 4.5)
    v = pva.get(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S)
    assert v == 4.5 and v.severity == 0
    assert abs(v.timestamp - time.time()) < 1.0
    disp = v.raw.display
    assert disp.units == "mm" and disp.precision == 3
    assert disp.description == "Last setpoint seen by Rust"
    assert (disp.limitLow, disp.limitHigh) == (-10.0, 10.0)
    assert v.raw.valueAlarm.highWarningLimit == 8.0


# --- write path -----------------------------------------------------------

def test_write_reaches_rust(selftest_ioc):
    before = writes(selftest_ioc)
    caput(st(selftest_ioc, "SETPOINT"), 3.75)
    # Rust-side effects, published before the put completed:
    assert writes(selftest_ioc) == before + 1
    assert caget_fresh(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == 3.75


def test_write_reaches_rust_over_pva(selftest_ioc, pva):
    before = writes(selftest_ioc)
    pva.put(st(selftest_ioc, "SETPOINT"), -6.5, wait=True, timeout=TIMEOUT_S)
    assert writes(selftest_ioc) == before + 1
    assert pva.get(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == -6.5


def test_string_write_reaches_rust(selftest_ioc, pva):
    caput(st(selftest_ioc, "MSG"), "hello from pyepics")
    assert caget_fresh(st(selftest_ioc, "LABEL"), timeout=TIMEOUT_S) == "hello from pyepics"
    pva.put(st(selftest_ioc, "MSG"), "hello from p4p", wait=True, timeout=TIMEOUT_S)
    assert pva.get(st(selftest_ioc, "LABEL"), timeout=TIMEOUT_S) == "hello from p4p"


def test_out_of_range_write_is_clamped(selftest_ioc):
    caput(st(selftest_ioc, "SETPOINT"), 12.0)
    assert caget_fresh(st(selftest_ioc, "SETPOINT"), timeout=TIMEOUT_S) == 10.0
    echo = epics.PV(st(selftest_ioc, "ECHO"), form="ctrl")
    assert echo.get(use_monitor=False, timeout=TIMEOUT_S) == 10.0  # Rust saw the clamped value
    assert echo.severity == 1  # MINOR from the record's HIGH limit (8 mm)
    caput(st(selftest_ioc, "SETPOINT"), -1e9)
    assert caget_fresh(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == -10.0


def test_non_numeric_write_is_rejected(selftest_ioc):
    caput(st(selftest_ioc, "SETPOINT"), 2.0)
    resp = caproto_client.write(
        st(selftest_ioc, "SETPOINT"), "not-a-number", data_type=ChannelType.STRING,
        notify=True, repeater=False, timeout=TIMEOUT_S)
    assert resp.status.name == "ECA_PUTFAIL"
    time.sleep(0.2)
    assert caget_fresh(st(selftest_ioc, "SETPOINT"), timeout=TIMEOUT_S) == 2.0
    assert caget_fresh(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == 2.0


# --- update path ----------------------------------------------------------

def test_alarm_with_message_posted_from_rust(selftest_ioc, pva):
    try:
        caput(st(selftest_ioc, "ALARM"), 2)  # MAJOR
        v = pva.get(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S)
        assert v.severity == 2
        assert v.raw.alarm.message == "self-test alarm"
        pv = epics.PV(st(selftest_ioc, "ECHO"), form="time")
        pv.get(use_monitor=False, timeout=TIMEOUT_S)
        assert pv.severity == 2
    finally:
        caput(st(selftest_ioc, "ALARM"), 0)
    assert pva.get(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S).severity == 0


def test_monitor_fires_on_rust_update_ca(selftest_ioc):
    seen = []
    pv = epics.PV(st(selftest_ioc, "TICK"), callback=lambda value=None, **kw: seen.append(value))
    try:
        wait_for("3 CA monitor updates of TICK", lambda: len(seen) >= 4)
    finally:
        pv.clear_callbacks()
        pv.disconnect()
    assert all(b > a for a, b in zip(seen[1:], seen[2:])), seen


def test_monitor_fires_on_rust_update_pva(selftest_ioc, pva):
    seen = []
    sub = pva.monitor(st(selftest_ioc, "TICK"), lambda v: seen.append(float(v)))
    try:
        wait_for("3 PVA monitor updates of TICK", lambda: len(seen) >= 4)
    finally:
        sub.close()
    assert all(b > a for a, b in zip(seen[1:], seen[2:])), seen


def test_monitor_fires_on_write_driven_update(selftest_ioc, pva):
    seen_ca, seen_pva = [], []
    pv = epics.PV(st(selftest_ioc, "ECHO"), callback=lambda value=None, **kw: seen_ca.append(value))
    sub = pva.monitor(st(selftest_ioc, "ECHO"), lambda v: seen_pva.append(float(v)))
    try:
        assert pv.wait_for_connection(TIMEOUT_S)
        time.sleep(0.2)
        caput(st(selftest_ioc, "SETPOINT"), 7.125)
        wait_for("ECHO monitors", lambda: 7.125 in seen_ca and 7.125 in seen_pva)
    finally:
        pv.clear_callbacks()
        sub.close()


def test_waveforms_int16_and_double(selftest_ioc, pva):
    caput(st(selftest_ioc, "FILL"), 7)
    i16 = caget_fresh(st(selftest_ioc, "I16"), timeout=TIMEOUT_S)
    expected = (np.arange(2048, dtype=np.int64) * 7).astype(np.int16)
    assert len(i16) == 2048 and np.array_equal(i16, expected)
    f64 = caget_fresh(st(selftest_ioc, "F64"), timeout=TIMEOUT_S)
    assert len(f64) == 256 and np.array_equal(f64, 7 + 0.5 * np.arange(256))
    assert np.array_equal(pva.get(st(selftest_ioc, "I16"), timeout=TIMEOUT_S), expected)
    assert np.array_equal(pva.get(st(selftest_ioc, "F64"), timeout=TIMEOUT_S), f64)
    resp = caproto_client.read(st(selftest_ioc, "I16"), repeater=False, timeout=TIMEOUT_S)
    assert np.array_equal(resp.data, expected)
    # a value that wraps: 2047 * 40 overflows int16
    caput(st(selftest_ioc, "FILL"), 40)
    i16 = caget_fresh(st(selftest_ioc, "I16"), timeout=TIMEOUT_S)
    assert i16[2047] == np.int16(np.int64(2047 * 40).astype(np.int16))


def test_string_waveform_enum_and_string(selftest_ioc, pva):
    caput(st(selftest_ioc, "FILL"), 7)
    names = caget_fresh(st(selftest_ioc, "NAMES"), timeout=TIMEOUT_S)
    assert list(names) == [f"ROW{k}-7" for k in range(8)]
    assert caget_fresh(st(selftest_ioc, "STATE"), as_string=True, timeout=TIMEOUT_S) == "Three"
    state = pva.get(st(selftest_ioc, "STATE"), timeout=TIMEOUT_S)
    assert state.raw.value.index == 3 and state.raw.value.choices[3] == "Three"
    assert caget_fresh(st(selftest_ioc, "LABEL"), timeout=TIMEOUT_S) == "fill 7"


def test_nttable_over_pva_has_labels(selftest_ioc, pva):
    caput(st(selftest_ioc, "FILL"), 3)
    table = pva.get(st(selftest_ioc, "TABLE"), timeout=TIMEOUT_S)
    assert table.getID() == "epics:nt/NTTable:1.0"
    assert list(table.labels) == ["Name", "X", "Y"]
    assert list(table.value.Name) == [f"BPM{k}" for k in range(8)]
    assert np.array_equal(table.value.X, 3.0 * np.arange(8))
    assert np.array_equal(table.value.Y, -3.0 * np.arange(8))
    assert abs(table.timeStamp.secondsPastEpoch + 1e-9 * table.timeStamp.nanoseconds - time.time()) < 1.0


# --- asynchronous completion ------------------------------------------------

def test_ca_put_callback_waits_for_rust(selftest_ioc):
    pv = epics.PV(st(selftest_ioc, "SETPOINT"))
    assert pv.wait_for_connection(TIMEOUT_S)
    caput(st(selftest_ioc, "HOLD"), 1)
    try:
        pv.put(5.5, use_complete=True)
        # Rust has the write (ECHO updated) but holds its completion back.
        wait_for("Rust to see 5.5", lambda: caget_fresh(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == 5.5)
        time.sleep(0.5)
        assert not pv.put_complete, "put-callback completed while Rust held it"
    finally:
        caput(st(selftest_ioc, "HOLD"), 0)
    wait_for("put-callback completion", lambda: pv.put_complete)


def test_pva_blocking_put_waits_for_rust(selftest_ioc, pva):
    caput(st(selftest_ioc, "HOLD"), 1)
    done = threading.Event()
    errors = []

    def put():
        try:
            pva.put(st(selftest_ioc, "SETPOINT"), 6.25, wait=True, timeout=10.0)
        except Exception as e:  # reported below
            errors.append(e)
        done.set()

    worker = threading.Thread(target=put, daemon=True)
    worker.start()
    try:
        wait_for("Rust to see 6.25", lambda: caget_fresh(st(selftest_ioc, "ECHO"), timeout=TIMEOUT_S) == 6.25)
        time.sleep(0.5)
        assert not done.is_set(), "PVA put returned while Rust held the completion"
    finally:
        caput(st(selftest_ioc, "HOLD"), 0)
    assert done.wait(TIMEOUT_S) and not errors, errors


# --- health ---------------------------------------------------------------

def test_health_pvs(selftest_ioc, pva):
    beat = caget_fresh(selftest_ioc.pv("TWIN:HEARTBEAT"), timeout=TIMEOUT_S)
    wait_for("heartbeat", lambda: caget_fresh(selftest_ioc.pv("TWIN:HEARTBEAT"), timeout=TIMEOUT_S) > beat, timeout=3)
    uptime = pva.get(selftest_ioc.pv("TWIN:UPTIME"), timeout=TIMEOUT_S)
    assert uptime >= 0 and uptime.raw.display.units == "s"
    assert caget_fresh(selftest_ioc.pv("TWIN:VERSION"), timeout=TIMEOUT_S).startswith("twin-ioc ")


# --- scheduling -----------------------------------------------------------

SCHED_FIFO, SCHED_RR = 1, 2


def thread_policies(pid):
    """{thread name: scheduling policy} of every thread of process `pid`."""
    policies = {}
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        # the fields after the command name start at field 3; policy is field 41
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        policies[(task / "comm").read_text().strip()] = int(fields[41 - 3])
    return policies


def test_no_thread_runs_real_time_even_when_the_process_may(selftest_ioc):
    """Started with CAP_SYS_NICE (as root, as on the CI machine), EPICS
    gives its threads SCHED_FIFO, and the CA server's threads then preempt
    the model's computation and publishers at every monitor they send
    (threads.rs): the twin gives the capability up before EPICS starts."""
    policies = thread_policies(selftest_ioc.proc.pid)
    assert {"CAS-TCP", "cbLow", "twin-core", "publish-optics"} <= policies.keys(), sorted(policies)
    realtime = {name: p for name, p in policies.items() if p in (SCHED_FIFO, SCHED_RR)}
    assert not realtime, realtime
