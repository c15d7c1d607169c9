"""The multiplexer device alone, as a BBA plan drives it: stage, select
quad A, step the auxiliary supply, select quad B, switch the multiplexer
off, unstage. After every step the twin's PMUXZR:name and QSPAZR:rdbk are
read fresh from the server. Prints one JSON summary on stdout; exit status
0 when every step completed (MuxerState satisfied).

.venv-hzb/bin/python tests/clients/hzb/mux_steps.py --prefix TWIN: Q1M1D1R Q3M2T8R
"""
import argparse
import json
import os
import sys
import threading
import time

import epics

from hzb_devices import Multiplexer


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prefix", default="TWIN:")
    p.add_argument("--steps", type=float, nargs="+", default=[2.0, 0.0, -2.0, 0.0], help="supply steps [A]")
    p.add_argument("--max-seconds", type=float, default=100.0)
    p.add_argument("quad_a")
    p.add_argument("quad_b")
    args = p.parse_args()
    started = time.monotonic()
    out = {"ok": False, "error": None, "steps": []}

    def emit(code):
        out["duration_s"] = round(time.monotonic() - started, 2)
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(code)

    def watchdog():
        out["error"] = f"watchdog: not done within {args.max_seconds} s"
        emit(3)

    timer = threading.Timer(args.max_seconds, watchdog)
    timer.daemon = True
    timer.start()

    mux = Multiplexer(prefix=args.prefix, name="mux")
    mux.wait_for_connection(timeout=20)
    sel, pc = mux.selected_multiplexer, mux.power_converter
    events = []
    name_pv = epics.PV(args.prefix + "PMUXZR:name", auto_monitor=True,
                       callback=lambda value=None, char_value=None, **kw: events.append(
                           value if isinstance(value, str) else char_value))
    name_pv.wait_for_connection(timeout=10)

    def step(what, status_fn, timeout):
        t0 = time.monotonic()
        n0 = len(events)
        status = status_fn()
        status.wait(timeout=timeout)
        time.sleep(0.3)  # late monitor events would show in `events`
        out["steps"].append({
            "step": what, "seconds": round(time.monotonic() - t0, 2), "events": events[n0:],
            "name": epics.caget(args.prefix + "PMUXZR:name", use_monitor=False, timeout=10),
            "rdbk": epics.caget(args.prefix + "QSPAZR:rdbk", use_monitor=False, timeout=10),
            "state": str(sel.state_machine.state),
        })

    code = 1
    try:
        sel.stage()
        pc.stage()
        out["staged_state"] = str(sel.state_machine.state)
        sel.trigger().wait(timeout=5)  # HZB triggers name, relay (disable) and off
        out["relay"] = {"disable": sel.relay.get(), "relay_ps": sel.relay_ps.get()}
        out["supply_stage_report"] = {k: float(v) for k, v in pc.stage_report.items()}
        step(f"select {args.quad_a}", lambda: sel.set(args.quad_a), 15)
        for current in args.steps:
            step(f"supply {current}", lambda: pc.set(current), 30)
        step(f"select {args.quad_b}", lambda: sel.set(args.quad_b), 15)
        step("Off", lambda: sel.set("Off"), 15)
        pc.unstage()
        sel.unstage()
        out["ok"] = True
        code = 0
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["events"] = events
    out["state_trace"] = sel.trace
    out["disconnect"] = sel.disconnect.get(use_monitor=False)
    emit(code)


if __name__ == "__main__":
    main()
