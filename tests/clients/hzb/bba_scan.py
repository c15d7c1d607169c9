"""HZB's BBA measurement flow (bact-bessyii-bluesky's measure_quad_response)
with a bluesky RunEngine against the twin:

    scan_nd([bpm], cycler(mux.selected_multiplexer, quads)
                   * cycler(mux.power_converter, currents)
                   * cycler(counter_sink, range(readings)))

The multiplexer moves directly from one quad to the next inside the scan
(scan_nd only moves the axes whose position changes; the supply is at 0 A
then). Every monitor event of PMUXZR:name during the run is recorded. Prints
one JSON summary on stdout; exit status 0 when the run succeeded.

Run with the client venv: .venv-hzb/bin/python tests/clients/hzb/bba_scan.py
--prefix TWIN: Q1M1D1R Q3M2T8R Q4M2T8R
"""
import argparse
import json
import os
import sys
import threading
import time
from collections import defaultdict

import bluesky.plans as bp
import epics
import numpy as np
from bact_bessyii_mls_ophyd.devices.process.counter_sink import CounterSink
from bluesky import RunEngine
from cycler import cycler

from hzb_devices import Multiplexer, PackedBPM


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prefix", default="TWIN:")
    p.add_argument("--currents", type=float, nargs="+", default=[0.0, -2.0, 0.0, 2.0, 0.0],
                   help="supply steps [A] (BESSY II: 0, -2, 0, 2, 0)")
    p.add_argument("--readings", type=int, default=2, help="BPM readings per step (counter sink range)")
    p.add_argument("--max-seconds", type=float, default=170.0, help="watchdog: give up after this long")
    p.add_argument("quads", nargs="+")
    return p.parse_args()


class NameRecorder:
    """Every monitor event of PMUXZR:name, from a CA subscription of its own."""

    def __init__(self, pvname):
        self.events = []
        self.lock = threading.Lock()
        self.pv = epics.PV(pvname, auto_monitor=True, form="time", callback=self._on_event)
        if not self.pv.wait_for_connection(timeout=10):
            raise RuntimeError(f"{pvname} did not connect")

    def _on_event(self, pvname=None, char_value=None, value=None, timestamp=None, **kw):
        with self.lock:
            self.events.append({"value": value if isinstance(value, str) else char_value,
                                "timestamp": timestamp, "received": time.time()})

    def values(self):
        with self.lock:
            return [e["value"] for e in self.events]


class EventCollector:
    """The readings of the run, grouped by (quad, commanded current)."""

    def __init__(self, bpm, mux):
        self.key_quad = mux.selected_multiplexer.readback.name
        self.key_current = mux.power_converter.setpoint.name
        self.key_rdbk = mux.power_converter.readback.name
        self.bpm = bpm
        self.groups = defaultdict(list)
        self.n_events = 0
        self.stop_doc = None
        self.event_keys = None
        self.currents_read = []

    def __call__(self, name, doc):
        if name == "event":
            data = doc["data"]
            self.event_keys = sorted(data)
            self.n_events += 1
            quad, current = data[self.key_quad], float(data[self.key_current])
            self.currents_read.append([quad, current, float(data[self.key_rdbk])])
            self.groups[(quad, current)].append(
                {k: np.asarray(data[f"{self.bpm.name}_{k}"], dtype=float) for k in ("x_raw", "y_raw", "x", "y")})
        elif name == "stop":
            self.stop_doc = doc

    def means(self):
        out = {}
        for (quad, current), rows in self.groups.items():
            mean = {k: np.mean([r[k] for r in rows], axis=0).tolist() for k in rows[0]}
            mean["n"] = len(rows)
            out.setdefault(quad, {})[repr(current)] = mean
        return out


def main():
    args = parse_args()
    started = time.monotonic()
    summary = {"exit_status": None, "error": None, "quads": args.quads, "currents": args.currents}

    def emit(code):
        summary["duration_s"] = round(time.monotonic() - started, 2)
        sys.stdout.write(json.dumps(summary) + "\n")
        sys.stdout.flush()
        os._exit(code)

    def watchdog():
        summary["error"] = f"watchdog: the run took longer than {args.max_seconds} s"
        summary["name_sequence"] = recorder.values() if recorder else None
        emit(3)

    recorder = None
    timer = threading.Timer(args.max_seconds, watchdog)
    timer.daemon = True
    timer.start()

    mux = Multiplexer(prefix=args.prefix, name="mux")
    bpm = PackedBPM(args.prefix + "MDIZ2T5G", name="bpm")
    cs = CounterSink(name="cs")
    mux.wait_for_connection(timeout=20)
    bpm.wait_for_connection(timeout=10)
    recorder = NameRecorder(args.prefix + "PMUXZR:name")
    collector = EventCollector(bpm, mux)

    RE = RunEngine({})
    RE.subscribe(collector)
    plan = bp.scan_nd([bpm], cycler(mux.selected_multiplexer, args.quads)
                      * cycler(mux.power_converter, args.currents)
                      * cycler(cs, range(args.readings)))
    code = 1
    try:
        RE(plan)
        summary["exit_status"] = collector.stop_doc["exit_status"] if collector.stop_doc else None
        code = 0 if summary["exit_status"] == "success" else 1
    except Exception as exc:  # the summary says what failed
        summary["error"] = f"{type(exc).__name__}: {exc}"
        if collector.stop_doc:
            summary["exit_status"] = collector.stop_doc["exit_status"]
    time.sleep(0.5)  # the last PMUXZR:name events after unstage
    sel = mux.selected_multiplexer
    summary.update({
        "name_sequence": recorder.values(),
        "name_events": recorder.events,
        "state_trace": sel.trace,
        "supply_stage_report": {k: float(v) for k, v in mux.power_converter.stage_report.items()},
        "n_events": collector.n_events,
        "event_keys": collector.event_keys,
        "currents_read": collector.currents_read,
        "bpm_names": list(bpm.bpm_names),
        "bpm_slots": [int(i) for i in bpm.indices],
        "means": collector.means(),
        "final": {"name": sel.readback.get(use_monitor=False), "supply_set": mux.power_converter.setpoint.get(),
                  "supply_rdbk": mux.power_converter.readback.get(use_monitor=False)},
    })
    emit(code)


if __name__ == "__main__":
    main()
