"""Checks that MultiplexerSelector.checkMuxSwitches (with mls's MuxerState)
accepts exactly the PMUXZR:name sequences of the switching contract, without
an IOC: each case starts the state machine in `off` or `selected` and feeds
the events one by one. Prints JSON {case: "ok" | "incomplete" | error}.

.venv-hzb/bin/python tests/clients/hzb/contract_selftest.py
"""
import json
import sys

from hzb_devices import MUX_OFF, Multiplexer, MuxerSwitchError

A, B = "Q1M1D1R", "Q3M2T8R"
CASES = {
    "off -> A: A": ("off", A, [A]),
    "off -> A: Mux OFF": ("off", A, [MUX_OFF]),
    "off -> A: B": ("off", A, [B]),
    "A -> B: Mux OFF, B": ("selected", B, [MUX_OFF, B]),
    "A -> B: B": ("selected", B, [B]),
    "A -> B: Mux OFF, Mux OFF, B": ("selected", B, [MUX_OFF, MUX_OFF, B]),
    "A -> B: Mux OFF, A": ("selected", B, [MUX_OFF, A]),
}


def run(sel, start, target, events):
    sm = sel.state_machine
    if sm.is_failed:
        sm.set_undefined()
    sm.set_off() if start == "off" else sm.set_selected()
    if start == "selected":
        sm.set_off_for_switch()  # what switchMuxAndTrace does before writing the switch
    for value in events:
        try:
            done = sel.checkMuxSwitches(setpoint=target, value=value, old_value=None)
        except MuxerSwitchError as exc:
            sm.failed()
            return f"MuxerSwitchError: {exc}"
        if done:
            return "ok"
    return "incomplete"


def main():
    mux = Multiplexer(prefix="NOIOC:", name="mux")  # never connected
    sel = mux.selected_multiplexer
    out = {}
    for case, (start, target, events) in CASES.items():
        out[case] = run(sel, start, target, events)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
