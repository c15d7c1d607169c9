"""ophyd devices for HZB's BBA flow on BESSY II: the quadrupole multiplexer
(PMUXZR, with its auxiliary supply QSPAZR) and the packed BPM vector
(MDIZ2T5G).

No installable package ships these devices: bact-bessyii-mls-ophyd 0.2.0
only has the helpers (MuxerState, ReachedSetpointEPS, CounterSink, the packed
data decoding), and HZB's bact-bessyii-ophyd, which has the devices, is not
on PyPI. This module is an independent re-implementation written for the
twin's tests from the behaviour documented in
/work/research/issue11-contract.md (sections 1, 2 and 3): it is NOT a copy of
HZB's GPL code. Class and method names follow HZB's so that a reader can
compare them; the behaviour that the twin must satisfy is the same:

* MultiplexerSelector.set(quad): refuses unless QSPAZR:set is exactly 0 and
  |QSPAZR:rdbk| < eps_abs; writes 1 to PMUXZR:<QUAD> with put completion and
  follows every monitor event of PMUXZR:name with mls's MuxerState, as HZB's
  checkMuxSwitches does: from "off" the first event must be the target
  (-> selected); from "selected" the state goes to off_for_switch, the first
  event must be "Mux OFF" (-> intermediate), the next the target
  (-> selected); any other event fails the move (MuxerSwitchError). After
  the settle time (0.5 s) PMUXZR:name must still show the target. (HZB's
  store_selected only logs this mismatch from a status callback; here it
  fails the status, which is stricter.) "Off" writes PMUXZR:off = 1 and
  waits until it reads back 1 (ophyd's EpicsSignal.set, as HZB does).
* MultiplexerPowerConverter: mls's ReachedSetpointEPS on QSPAZR:set/:rdbk
  with eps_rel 6e-2, eps_abs 3e-2, a settle time after the readback check
  and a second one of the same length after it (as HZB's set()); stat1
  (on) and stat2 (no error) are read at stage and only warned about.
* PackedBPM: trigger = the next monitor update of MDIZ2T5G:bdata within 3 s;
  read = x and y of the slots idx - 1 of the BPM configuration (raw counts,
  and in metres with +-10 mm = +-32768 counts). The twin publishes x with
  the sign of the newer electronics (bdata x = -x): `x_sign` (default -1)
  turns the counts into the beam position; x_raw is bdata unchanged.
"""
import json
import pathlib
import threading
import time

import numpy as np
from bact_bessyii_mls_ophyd.devices.utils.multiplexer_state_machine import MuxerState
from bact_bessyii_mls_ophyd.devices.utils.reached_setpoint import ReachedSetpointEPS
from ophyd import Component as Cpt
from ophyd import Device, EpicsSignal, EpicsSignalRO, Kind, PVPositionerPC, Signal
from ophyd.device import DynamicDeviceComponent as DDC
from ophyd.status import AndStatus, DeviceStatus, Status, SubscriptionStatus

MUX_OFF = "Mux OFF"
REQUEST_OFF = "Off"
ROOT = pathlib.Path(__file__).resolve().parents[3]
MACHINE = ROOT / "config" / "bessy2"
COUNTS_PER_M = 32768 / 10e-3


def multiplexer_quad_names():
    """The 144 quads on the multiplexer (Q1-Q5; the injection quad QIT6R is
    not on it), from the machine's magnet list, upper case."""
    magnets = json.loads((MACHINE / "accelerator_setup.json").read_text())
    names = [m["name"] for m in magnets if m["type"] == "Quadrupole" and m["name"][:2] in ("Q1", "Q2", "Q3", "Q4", "Q5")]
    return sorted(set(names), key=lambda n: (n[:2], names.index(n)))


QUAD_NAMES = multiplexer_quad_names()


def bpm_config(path=MACHINE / "bpm_config.json"):
    """The BPMs used, as HZB's create_bpm_config gives them: both planes
    active, sorted by position, slot = idx - 1 (subtracted once)."""
    rows = [r for r in json.loads(pathlib.Path(path).read_text()) if r["x_state"] and r["y_state"]]
    rows.sort(key=lambda r: r["ds"])
    return [r["bpm_name"] for r in rows], np.array([r["idx"] - 1 for r in rows], dtype=int)


def finished_status():
    status = Status()
    status.set_finished()
    return status


class MuxerSwitchError(ValueError):
    """PMUXZR:name did not follow the switching contract."""


class MultiplexerPowerConverter(ReachedSetpointEPS):
    """The multiplexer's auxiliary supply QSPAZR (A)."""

    readback = Cpt(EpicsSignal, ":rdbk")
    setpoint = Cpt(EpicsSignal, ":set")
    status = Cpt(EpicsSignalRO, ":stat1", kind=Kind.omitted)  # 1: supply on
    no_error = Cpt(EpicsSignalRO, ":stat2", kind=Kind.omitted)  # 1: no error
    eps_rel = Cpt(Signal, name="eps_rel", value=6e-2, kind=Kind.config)
    eps_abs = Cpt(Signal, name="eps_abs", value=3e-2, kind=Kind.config)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("settle_time", 2.0)
        kwargs.setdefault("timeout", 20.0)
        super().__init__(*args, **kwargs)
        self.stage_report = {}

    def set(self, value):
        reached = super().set(value)  # readback within eps, then settle_time
        settled = Status(settle_time=self.settle_time)

        def after_reached(status):
            if status.success:
                settled.set_finished()
            else:
                settled.set_exception(RuntimeError(f"{self.name}: {value} A not reached"))

        reached.add_callback(after_reached)
        return AndStatus(reached, settled)

    def isOff(self):
        return abs(self.readback.get()) < self.eps_abs.get()

    def isOffText(self):
        return f"setpoint {self.setpoint.get()} readback {self.readback.get()} eps_abs {self.eps_abs.get()}"

    def set_to_zero(self):
        try:
            self.setpoint.put(0.0, use_complete=False)
        except Exception as exc:  # as HZB: stop/unstage only log
            self.log.error("%s: could not set 0 A: %s", self.name, exc)

    def stop(self, success=False):
        self.set_to_zero()

    def stage(self):
        on, no_error = self.status.get(), self.no_error.get()
        self.stage_report = {"stat1": on, "stat2": no_error}
        if not on:
            self.log.warning("multiplexer supply off (stat1 = %s), still trying", on)
        if not no_error:
            self.log.warning("multiplexer supply signals an error (stat2 = %s), still trying", no_error)
        return super().stage()

    def unstage(self):
        self.set_to_zero()
        return super().unstage()


class MultiplexerPCWrapper(Device):
    """One switch per quad: PMUXZR:<QUAD> (bo), written 1 with put completion."""

    pcs = DDC({n: (EpicsSignal, ":" + n, dict(put_complete=True, kind=Kind.omitted)) for n in QUAD_NAMES},
              kind=Kind.omitted)

    def get_element_names(self):
        return list(QUAD_NAMES)


class MultiplexerSelector(PVPositionerPC):
    """Selects the quad the auxiliary supply is connected to (PMUXZR)."""

    readback = Cpt(EpicsSignal, ":name")  # stringin: a quad or "Mux OFF"
    setpoint = Cpt(Signal, name="setpoint", value="non stored")
    disconnect = Cpt(EpicsSignal, ":off", kind=Kind.omitted)
    relay = Cpt(EpicsSignalRO, ":disable", kind=Kind.omitted)
    relay_ps = Cpt(EpicsSignalRO, ":relay_ps", kind=Kind.omitted)
    settle_time = Cpt(Signal, name="settle_time", value=0.5, kind=Kind.config)
    timeout = Cpt(Signal, name="timeout", value=10.0, kind=Kind.config)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state_machine = MuxerState()
        self.lock = threading.Lock()
        #: every state the machine entered, with the PMUXZR:name event that caused it
        self.trace = []

    def _enter(self, transition, event=None):
        transition()
        self.trace.append({"state": str(self.state_machine.state), "event": event, "t": time.time()})

    def initStateMachine(self):
        """stage: the state follows PMUXZR:name (off, or a known quad)."""
        if self.state_machine.is_failed:
            self._enter(self.state_machine.set_undefined)
        current = self.readback.get()
        if current == MUX_OFF:
            self._enter(self.state_machine.set_off)
        elif current in QUAD_NAMES:
            self._enter(self.state_machine.set_selected)
            self.setpoint.put(current)
        else:
            self._enter(self.state_machine.failed)
            raise AssertionError(f"currently set name {current!r} is unknown")

    def checkMuxSwitches(self, *, setpoint, value, old_value=None, **kwargs):
        """One monitor event of PMUXZR:name during a switch to `setpoint`:
        True when the switch is complete, False when more is expected;
        raises MuxerSwitchError on anything the contract does not allow."""
        sm = self.state_machine
        where = f"event {value!r} (previous {old_value!r}) in state {sm.state} switching to {setpoint!r}"
        if sm.is_failed:
            raise MuxerSwitchError("state machine failed: " + where)
        if sm.is_off or sm.is_intermediate:
            if value == setpoint:
                self._enter(sm.set_selected, value)
                return True
            raise MuxerSwitchError(f"expected {setpoint!r} as the final value: " + where)
        if sm.is_off_for_switch:
            if value == MUX_OFF:
                self._enter(sm.set_intermediate, value)
                return False
            raise MuxerSwitchError(f"expected {MUX_OFF!r} first: " + where)
        raise MuxerSwitchError("unexpected event: " + where)

    def switchMuxAndTrace(self, target):
        switch = getattr(self.parent.wrapper.pcs, target)
        done = DeviceStatus(self)

        def on_event(*, value, old_value=None, **kwargs):
            with self.lock:
                try:
                    return self.checkMuxSwitches(setpoint=target, value=value, old_value=old_value)
                except MuxerSwitchError as exc:
                    self._enter(self.state_machine.failed, value)
                    traced.set_exception(exc)
                    return False

        # the current value is not an event of the switch (run=False)
        traced = SubscriptionStatus(self.readback, on_event, run=False, timeout=self.timeout.get(),
                                    settle_time=self.settle_time.get())
        if self.state_machine.is_selected:
            self._enter(self.state_machine.set_off_for_switch)
        written = switch.set(1)  # completes with the put-callback

        def check_final(status):
            if not status.success:
                if not self.state_machine.is_failed:
                    self._enter(self.state_machine.failed)
                done.set_exception(status.exception() or MuxerSwitchError(f"switch to {target} failed"))
                return
            shown = self.readback.get()
            if shown != target:
                self._enter(self.state_machine.failed, shown)
                done.set_exception(MuxerSwitchError(f"{target} selected but PMUXZR:name shows {shown!r} after the settle time"))
                return
            self.setpoint.put(target)
            done.set_finished()

        AndStatus(traced, written).add_callback(check_final)
        return done

    def switchMuxOff(self):
        if self.readback.get() == MUX_OFF:
            self._enter(self.state_machine.set_off)
            return finished_status()
        self._enter(self.state_machine.set_off)
        return AndStatus(self.disconnect.set(1), self.setpoint.set(MUX_OFF))

    def connect_to_selected_element(self, name):
        pc = self.parent.power_converter
        if pc.setpoint.get() != 0:
            raise AssertionError(f"multiplexer supply setpoint not 0 but {pc.setpoint.get()}")
        if not pc.isOff():
            raise MuxerSwitchError("switch requested while the supply carries current: " + pc.isOffText())
        if name == REQUEST_OFF:
            return self.switchMuxOff()
        return self.switchMuxAndTrace(name)

    def set(self, value):
        if value != REQUEST_OFF and value not in QUAD_NAMES:
            raise ValueError(f"{value!r} is not a quad on the multiplexer")
        self.setpoint.put(value)
        if self.readback.get() == value:
            return finished_status()
        return self.connect_to_selected_element(value)

    def trigger(self):
        return AndStatus(AndStatus(self.readback.trigger(), self.relay.trigger()), self.disconnect.trigger())

    def switch_off(self):
        """unstage/stop: disconnect, but only with the supply at zero."""
        try:
            pc = self.parent.power_converter
            if not pc.isOff():
                self.log.warning("supply still on, multiplexer not switched off: %s", pc.isOffText())
                return
            self.disconnect.put(1, use_complete=False)
        except Exception as exc:
            self.log.error("%s: switching off failed: %s", self.name, exc)

    def stage(self):
        self.initStateMachine()
        return super().stage()

    def unstage(self):
        self.switch_off()
        return super().unstage()

    def stop(self, success=False):
        self.switch_off()


class Multiplexer(Device):
    """PMUXZR selector + QSPAZR supply + the 144 quad switches."""

    selected_multiplexer = Cpt(MultiplexerSelector, "PMUXZR")
    power_converter = Cpt(MultiplexerPowerConverter, "QSPAZR", egu="A", setting_parameters=0.1,
                          settle_time=2.0, timeout=20.0)
    wrapper = Cpt(MultiplexerPCWrapper, "PMUXZR", kind=Kind.omitted)

    def get_element_names(self):
        return self.wrapper.get_element_names()

    def unstage(self):
        self.power_converter.unstage()
        self.selected_multiplexer.unstage()
        return super().unstage()


class PackedBPM(Device):
    """The packed BPM vector MDIZ2T5G:bdata (int16[2048]: 8 rows of 128
    slots in the first 1024 values: x, y, intensity z, s, status, gain,
    x rms, y rms)."""

    packed_data = Cpt(EpicsSignalRO, ":bdata", kind=Kind.omitted)
    count = Cpt(EpicsSignalRO, ":count")
    timeout = Cpt(Signal, name="timeout", value=3.0, kind=Kind.config)
    x_sign = Cpt(Signal, name="x_sign", value=-1, kind=Kind.config)

    def __init__(self, *args, bpm_config_path=MACHINE / "bpm_config.json", **kwargs):
        super().__init__(*args, **kwargs)
        self.bpm_names, self.indices = bpm_config(bpm_config_path)
        self._latest = None

    def trigger(self):
        """Done at the next bdata update (within `timeout` s)."""
        def on_update(*, value, **kwargs):
            self._latest = np.asarray(value)
            return True

        return SubscriptionStatus(self.packed_data, on_update, run=False, timeout=self.timeout.get())

    def decode(self, packed):
        packed = np.asarray(packed, dtype=float)
        if packed.shape != (2048,):
            raise ValueError(f"bdata has shape {packed.shape}, expected (2048,)")
        rows = packed[:1024].reshape(8, 128)[:, self.indices]
        return {"x_raw": rows[0], "y_raw": rows[1], "stat": rows[4],
                "x": self.x_sign.get() * rows[0] / COUNTS_PER_M, "y": rows[1] / COUNTS_PER_M}

    def read(self):
        out = super().read()
        packed = self._latest if self._latest is not None else self.packed_data.get()
        ts = self.packed_data.timestamp
        for key, value in self.decode(packed).items():
            out[f"{self.name}_{key}"] = {"value": value, "timestamp": ts}
        return out

    def describe(self):
        out = super().describe()
        source = f"PV:{self.packed_data.pvname}"
        for key, unit in (("x_raw", "counts"), ("y_raw", "counts"), ("stat", ""), ("x", "m"), ("y", "m")):
            out[f"{self.name}_{key}"] = {"source": source, "dtype": "array", "shape": [len(self.indices)], "units": unit}
        return out
