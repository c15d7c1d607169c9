"""The PV Web Socket (PVWS) protocol at /pvws/pv with a real WebSocket
client (websockets): metadata in the first update, changes after a CA
write, base64 arrays, clear stops updates, the hidden truth refused."""
import base64
import json
import time

import epics
import numpy as np
from websockets.sync.client import connect

from helpers import get, wait_for

TIMEOUT_S = 10


def messages_until(ws, predicate, timeout=TIMEOUT_S):
    """Messages received until one satisfies `predicate` (included)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        got.append(m)
        if predicate(m):
            return got
    raise AssertionError(f"no matching message in {timeout} s; got {got[-3:]}")


def test_subscribe_update_after_a_ca_write_and_clear(selftest_ioc):
    ioc = selftest_ioc
    url = ioc.http.replace("http://", "ws://") + "/pvws/pv"
    orbit, tune = ioc.pv("ORBITCC:rdPos"), ioc.pv("TUNEZR:rdH")
    # a fresh session IOC: its first model is published just after start
    wait_for("the first model", lambda: epics.caget(tune + ".SEVR", use_monitor=False) == 0)
    with connect(url) as ws:
        ws.send(json.dumps({"type": "subscribe", "pvs": [orbit, tune]}))
        first = {}
        messages_until(ws, lambda m: first.setdefault(m["pv"], m) and len(first) == 2)
        assert first[tune]["units"] == "kHz" and "severity" in first[tune] and "value" in first[tune]
        assert first[tune]["severity"] == ["NONE", "MINOR", "MAJOR", "INVALID"][int(epics.caget(tune + ".SEVR"))]
        assert first[orbit]["units"] == "nm" and "b64dbl" in first[orbit]
        shown = np.frombuffer(base64.b64decode(first[orbit]["b64dbl"]), dtype="<f8")
        assert len(shown) == 256
        assert epics.caput(ioc.pv("HS1PD1R:set"), 0.2, wait=True, timeout=TIMEOUT_S) == 1
        done = time.monotonic()
        want = np.asarray(get(ioc, "ORBITCC:rdPos"))

        def moved(m):
            if m["pv"] != orbit or "b64dbl" not in m:
                return False
            return np.array_equal(np.frombuffer(base64.b64decode(m["b64dbl"]), dtype="<f8"), want)
        messages_until(ws, moved)
        print(f"orbit update over PVWS {1e3 * (time.monotonic() - done):.1f} ms after the put-callback")
        ws.send(json.dumps({"type": "list"}))
        (listed,) = [m for m in messages_until(ws, lambda m: m["type"] == "list") if m["type"] == "list"]
        assert sorted(listed["pvs"]) == sorted([orbit, tune])
        ws.send(json.dumps({"type": "clear", "pvs": [orbit, tune]}))
        ws.send(json.dumps({"type": "echo", "text": "cleared"}))
        messages_until(ws, lambda m: m.get("type") == "echo")
        assert epics.caput(ioc.pv("HS1PD1R:set"), 0.0, wait=True, timeout=TIMEOUT_S) == 1
        try:
            extra = json.loads(ws.recv(timeout=1.0))
        except TimeoutError:
            extra = None
        assert extra is None, f"an update after clear: {extra}"
        ws.send(json.dumps({"type": "subscribe", "pvs": [ioc.pv("TWIN:Q3M2T8R:x:set"), ioc.pv("NOSUCH:pv")]}))
        errors = messages_until(ws, lambda m: m["type"] == "error" and "NOSUCH" in m["message"])
        assert any("no read access" in m["message"] for m in errors if m["type"] == "error") or \
            any(m["type"] == "update" for m in errors), errors
