"""Random hostile writes against a running twin, checking its invariant.

Run by tests/test_invariant_fuzz.py in a process of its own (the EPICS
environment names the IOC's ports). Usage:

    fuzz_writes.py fuzz PREFIX N_WRITES SEED EXPECTED_JSON
    fuzz_writes.py verify PREFIX EXPECTED_JSON

`fuzz` throws N random writes at a fixed set of the twin's writable records,
over CA (caproto: every plain DBR type, with and without put-callback,
strings, non-finite numbers, wrong element counts, configuration fields)
and PVA (p4p: scalars and structures, with every processing option). After
every batch it checks:
- each record holds the value an oracle of EPICS's rules and the twin's
  refusal rules predicts (finite numbers clamped to DRVL..DRVH; non-finite
  values, incomplete number strings and puts without processing refused);
- the model uses that value (the converters' readbacks);
- a refused write left WRITE/INVALID with a reason, an accepted one no alarm;
- configuration fields are unchanged; the IOC is alive over CA and PVA.
It writes the expected values to EXPECTED_JSON. `verify` checks a
(restarted) twin against that file. Prints one JSON line: the counts.
"""
import json
import math
import random
import sys
import time

import numpy as np
from caproto import ChannelType
from caproto.threading.client import Context as CaContext
from p4p.client.thread import Context as PvaContext
from p4p.client.thread import RemoteError

TIMEOUT_S = 10.0
BATCH = 50
# records with a readback the model publishes (value the model uses)
CONVERTERS = ["HS1PD3R", "HS1PD2R", "VS2P1D1R", "HS4P2D2R", "VS3P1T6R", "Q1PDR", "Q3P1T1R"]
OTHERS = ["TWIN:Q1M1D1R:x:set", "TWIN:Q4M2T8R:y:set", "TWIN:BPM:NOISE_RMS"]
NOT_STORED = {"TWIN:BPM:NOISE_RMS"}
CONFIG_FIELDS = {"DISA": 1, "DISP": 1, "OROC": 0.5, "DRVH": 1e6, "DRVL": -1e6, "HOPR": 7.0,
                 "PROC": 1, "FLNK": "x", "DOL": "x", "OMSL": 1, "SCAN": 9, "IVOA": 2}
BAD_STRINGS = ["", " ", "1.0abc", "1,5", "0x10", "-0X1F", "nan", "-inf", "1e999", "abc", "--1", "1e", ".",
               "1 2", "\t"]
CA_TYPES = {  # plain DBR type -> numpy cast of the value the client sends
    ChannelType.DOUBLE: np.float64, ChannelType.FLOAT: np.float32, ChannelType.LONG: np.int32,
    ChannelType.INT: np.int16, ChannelType.CHAR: np.uint8, ChannelType.ENUM: np.uint16,
}


class Record:
    def __init__(self, name, pv, drvl, drvh, value):
        self.name, self.pv = name, pv
        self.drvl, self.drvh = drvl, drvh
        self.expected = value
        self.alarm = "unknown"  # "ok", "refused" or "unknown" after the last write
        self.last = "none"  # the last write, for failure messages

    def accept(self, v):
        self.expected = min(max(float(v), self.drvl), self.drvh) if self.drvh > self.drvl else float(v)
        self.alarm = "ok"

    def refuse(self, alarm=True):
        if alarm:
            self.alarm = "refused"


class Fuzzer:
    def __init__(self, prefix, rng):
        self.prefix, self.rng = prefix, rng
        self.ca = CaContext()
        self.pva = PvaContext("pva")
        self.counts = {"writes": 0, "accepted": 0, "refused": 0, "batches": 0}
        names = [f"{c}:set" for c in CONVERTERS] + OTHERS
        pvs = self.ca.get_pvs(*[prefix + n for n in names], timeout=TIMEOUT_S)
        self.records = []
        for name, pv in zip(names, pvs):
            pv.wait_for_connection(timeout=TIMEOUT_S)
            drvl = self.ca_get(name + ".DRVL")
            drvh = self.ca_get(name + ".DRVH")
            self.records.append(Record(name, pv, drvl, drvh, self.read(pv)))
        self.config = {(r.name, f): self.ca_get(f"{r.name}.{f}", string=True)
                       for r in self.records for f in CONFIG_FIELDS}

    # -- reads -------------------------------------------------------------
    def ca_get(self, name, string=False):
        pv, = self.ca.get_pvs(self.prefix + name, timeout=TIMEOUT_S)
        resp = pv.read(timeout=TIMEOUT_S, data_type=ChannelType.STRING if string else None)
        v = resp.data[0]
        return v.decode() if isinstance(v, bytes) else float(v)

    @staticmethod
    def read(pv):
        return float(pv.read(timeout=TIMEOUT_S).data[0])

    # -- writes ------------------------------------------------------------
    def random_number(self, r):
        span = r.drvh - r.drvl or 1.0
        return self.rng.choice([
            lambda: self.rng.uniform(r.drvl, r.drvh),
            lambda: self.rng.uniform(r.drvl - span, r.drvh + span),
            lambda: self.rng.choice([r.drvl, r.drvh, 0.0, -0.0, 1e308, -1e308, 1e-300]),
            lambda: self.rng.uniform(-3, 3),
        ])()

    def ca_number(self, r):
        data_type = self.rng.choice(list(CA_TYPES))
        cast = CA_TYPES[data_type]
        if cast in (np.float64, np.float32):
            v = self.random_number(r)
            if self.rng.random() < 0.15:
                v = self.rng.choice([math.nan, math.inf, -math.inf])
            with np.errstate(over="ignore"):
                sent = cast(v)
        else:
            info = np.iinfo(cast)
            sent = cast(self.rng.randint(max(info.min, -50), min(info.max, 400)))
        notify = self.rng.random() < 0.7
        r.last = f"ca {data_type.name} {sent!r} notify={notify}"
        resp = r.pv.write([sent], data_type=data_type, wait=notify, timeout=TIMEOUT_S)
        if not notify:
            r.pv.read(timeout=TIMEOUT_S)  # the put reached the server (one circuit, in order)
        finite = math.isfinite(float(sent))
        if notify:
            assert resp.status.name == ("ECA_NORMAL" if finite else "ECA_PUTFAIL"), (r.name, sent, resp.status)
        r.accept(sent) if finite else r.refuse()
        return finite

    def ca_string(self, r):
        if self.rng.random() < 0.5:
            text, ok = self.rng.choice(BAD_STRINGS), False
        else:
            v = self.random_number(r)
            text = self.rng.choice(["{:.6g}", "{:e}", " {!r} ", "{:+.3f}", "{:.17g}"]).format(v)
            text, ok = text[:39], True
        notify = self.rng.random() < 0.7
        r.last = f"ca string {text!r} notify={notify}"
        resp = r.pv.write(text, data_type=ChannelType.STRING, wait=notify, timeout=TIMEOUT_S)
        if not notify:
            r.pv.read(timeout=TIMEOUT_S)
        if notify:
            assert resp.status.name == ("ECA_NORMAL" if ok else "ECA_PUTFAIL"), (r.name, text, resp.status)
        r.accept(float(text)) if ok else r.refuse()
        return ok

    def ca_wrong_count(self, r):
        """More elements than a scalar holds: EPICS takes the first."""
        first = self.random_number(r)
        resp = r.pv.write([first, 2.0, math.nan], data_type=ChannelType.DOUBLE, wait=True, timeout=TIMEOUT_S)
        if resp.status.name == "ECA_NORMAL":
            r.accept(first)
            return True
        r.alarm = "unknown"
        return False

    def pva_put(self, r):
        v = self.random_number(r) if self.rng.random() < 0.8 else self.rng.choice([math.nan, math.inf, -math.inf])
        options = self.rng.choice(["", "process=true", "process=passive", "block=true", "process=false",
                                   "block=true,process=false", "block=false"])
        value = v
        if self.rng.random() < 0.3:  # a structure that also tries to move the limits
            value = {"value": v, "display.limitHigh": 1e9, "control.limitHigh": 1e9, "control.limitLow": -1e9}
        request = f"record[{options}]field()" if options else None
        refused = not math.isfinite(v) or "process=false" in options
        r.last = f"pva {value!r} [{options}]"
        try:
            self.pva.put(self.prefix + r.name, value, request=request, timeout=TIMEOUT_S)
        except RemoteError as e:
            assert refused, (r.name, v, options, str(e))
            r.refuse()
            return False
        assert not refused, (r.name, v, options, "accepted")
        r.accept(v)
        return True

    def config_write(self, r):
        field = self.rng.choice(list(CONFIG_FIELDS))
        value = CONFIG_FIELDS[field]
        if self.rng.random() < 0.5:
            pv, = self.ca.get_pvs(f"{self.prefix}{r.name}.{field}", timeout=TIMEOUT_S)
            data_type = ChannelType.STRING if isinstance(value, str) else ChannelType.DOUBLE
            resp = pv.write([value], data_type=data_type, wait=True, timeout=TIMEOUT_S)
            assert resp.status.name == "ECA_NOWTACCESS", (r.name, field, resp.status)
        else:
            try:
                self.pva.put(f"{self.prefix}{r.name}.{field}", value, timeout=TIMEOUT_S)
                raise AssertionError(f"PVA put to {r.name}.{field} accepted")
            except RemoteError as e:
                assert "Put not permitted" in str(e), (r.name, field, str(e))
        return False

    def one_write(self):
        r = self.rng.choice(self.records)
        action = self.rng.choices([self.ca_number, self.ca_string, self.pva_put, self.config_write,
                                   self.ca_wrong_count], weights=[40, 20, 30, 8, 2])[0]
        r.last = action.__name__
        ok = action(r)
        self.counts["writes"] += 1
        self.counts["accepted" if ok else "refused"] += 1

    # -- checks ------------------------------------------------------------
    def wait_until(self, what, predicate, timeout=TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while True:
            got = predicate()
            if got is True:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"after {self.counts['writes']} writes: {what}: {got}")
            time.sleep(0.01)

    def check(self):
        self.counts["batches"] += 1
        for r in self.records:
            def holds(r=r):
                got = self.read(r.pv)
                return True if got == r.expected else f"{r.name} = {got!r}, expected {r.expected!r}"
            self.wait_until("setpoint", holds)
            if r.name.removesuffix(":set") in CONVERTERS:
                def model_uses(r=r):
                    got = self.ca_get(r.name.replace(":set", ":rdbk"))
                    return True if got == r.expected else f"{r.name} model uses {got!r}, expected {r.expected!r}"
                self.wait_until("model", model_uses)
            if r.alarm != "unknown":
                # the alarm fields change when processing completes: a put
                # without waiting (PVA block=false, CA without callback)
                # may still be in flight with the value already shown
                def processed(r=r):
                    pact = self.ca_get(r.name + ".PACT")
                    return True if pact == 0 else f"{r.name} still processing"
                self.wait_until("processing", processed)
                sevr = self.ca_get(r.name + ".SEVR", string=True)
                stat = self.ca_get(r.name + ".STAT", string=True)
                want = ("WRITE", "INVALID") if r.alarm == "refused" else ("NO_ALARM", "NO_ALARM")
                assert (stat, sevr) == want, f"{r.name}: alarm {stat}/{sevr}, expected {want} after {r.last}"
                amsg = self.ca_get(r.name + ".AMSG", string=True)
                if r.alarm == "refused":
                    assert amsg, f"{r.name}: refusal without reason after {r.last}"
                else:
                    assert amsg == "", f"{r.name}: old reason {amsg!r} without alarm after {r.last}"
        for (name, field), before in self.config.items():
            assert self.ca_get(f"{name}.{field}", string=True) == before, f"{name}.{field} changed"
        beat = self.ca_get("TWIN:HEARTBEAT")
        assert self.pva.get(self.prefix + "TWIN:HEARTBEAT", timeout=TIMEOUT_S) >= beat

    def close(self):
        self.pva.close()


def fuzz(prefix, n, seed, path):
    fz = Fuzzer(prefix, random.Random(seed))
    start = time.monotonic()
    while fz.counts["writes"] < n:
        for _ in range(BATCH):
            fz.one_write()
        fz.check()
    fz.counts["seconds"] = round(time.monotonic() - start, 1)
    with open(path, "w") as f:
        json.dump({r.name: r.expected for r in fz.records}, f)
    fz.close()
    print(json.dumps(fz.counts))


def verify(prefix, path):
    with open(path) as f:
        expected = json.load(f)
    fz = Fuzzer(prefix, random.Random(0))
    # the BPM noise starts from the configuration (diagnostics.noise_rms_m), not the store
    wrong = {r.name: (r.expected, expected[r.name]) for r in fz.records
             if r.expected != expected[r.name] and r.name not in NOT_STORED}
    assert not wrong, f"after restart (got, expected): {wrong}"
    for r in fz.records:
        if r.name.removesuffix(":set") in CONVERTERS:
            assert fz.ca_get(r.name.replace(":set", ":rdbk")) == r.expected, r.name
    fz.close()
    print(json.dumps({"verified": len(expected) - len(NOT_STORED)}))


if __name__ == "__main__":
    if sys.argv[1] == "fuzz":
        fuzz(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        verify(sys.argv[2], sys.argv[3])
