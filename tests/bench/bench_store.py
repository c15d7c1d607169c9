"""Benchmark of persistence (not a test): sustained setpoint writes per
second into MongoDB (SecantusDB, a MongoDB-wire server on WiredTiger),
latency from an accepted write to durable, and the write -> orbit put
round trip with MongoDB, with the embedded file store and during a MongoDB
outage (write-behind: the round trip must not depend on the store).
Writes target/bench/store.json."""
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from conftest import ROOT, IocProcess  # noqa: E402  (sets the client env)
from store_helpers import MongoServer  # noqa: E402

import epics  # noqa: E402
from caproto.threading.client import Context as CaContext  # noqa: E402

warnings.filterwarnings("ignore", module="epics")
N_BURST = int(os.environ.get("BENCH_WRITES", "2000"))
N_RTT = int(os.environ.get("BENCH_SAMPLES", "50"))
STEERERS = [f"HS4P{k}D{s}R" for k in (1, 2) for s in range(1, 9)] + [f"HS1PT{s}R" for s in range(1, 5)]


def start(store_env):
    ioc = IocProcess(ROOT / "tests" / "st-test.cmd", prefix=f"B{uuid.uuid4().hex[:6]}:", extra_env=store_env)
    ioc.wait_running()
    return ioc


def get(ioc, name):
    return epics.caget(ioc.pv(name), timeout=10, use_monitor=False)


def wait_flushed(ioc, target, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get(ioc, "TWIN:STORE:FLUSHED") >= target:
            return time.monotonic()
        time.sleep(0.01)
    raise TimeoutError(f"only {get(ioc, 'TWIN:STORE:FLUSHED')} of {target} writes durable")


def throughput(ioc):
    ctx = CaContext()
    pvs = ctx.get_pvs(*[ioc.pv(f"{s}:set") for s in STEERERS], timeout=10)
    for pv in pvs:
        pv.wait_for_connection(timeout=10)
    done = []
    flushed0 = get(ioc, "TWIN:STORE:FLUSHED")
    t0 = time.monotonic()
    for k in range(N_BURST):
        pvs[k % len(pvs)].write([1e-4 * (k + 1)], wait=False, notify=True, callback=done.append)
    t_end = wait_flushed(ioc, flushed0 + N_BURST)
    ctx.disconnect()
    return N_BURST / (t_end - t0), len(done)


def durable_latency(ioc, n=20):
    out = []
    for k in range(n):
        flushed = get(ioc, "TWIN:STORE:FLUSHED")
        t0 = time.monotonic()
        epics.caput(ioc.pv("HS1PT1R:set"), 0.001 * (k + 1), wait=True, timeout=10)
        out.append(wait_flushed(ioc, flushed + 1) - t0)
    return 1e3 * statistics.median(out)


def put_rtt(ioc):
    out = []
    for k in range(N_RTT):
        t0 = time.perf_counter()
        assert epics.caput(ioc.pv("HS4P2D1R:set"), 0.01 * (1 + k % 5), wait=True, timeout=10) == 1
        out.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(out)


def main():
    mongo = MongoServer()
    results = {}
    try:
        ioc = start(mongo.env())
        try:
            rate, completed = throughput(ioc)
            results["mongodb_writes_per_s"] = rate
            results["mongodb_burst_completed"] = completed
            results["mongodb_write_to_durable_ms"] = durable_latency(ioc)
            results["rtt_mongodb_ms"] = put_rtt(ioc)
            mongo.stop()
            results["rtt_mongodb_outage_ms"] = put_rtt(ioc)
            mongo.start()
        finally:
            ioc.stop()
        ioc = start({"TWIN_STORE_DIR": tempfile.mkdtemp(prefix="bench-store-")})
        try:
            results["files_write_to_durable_ms"] = durable_latency(ioc)
            results["rtt_files_ms"] = put_rtt(ioc)
        finally:
            ioc.stop()
    finally:
        mongo.stop()
    for k, v in results.items():
        print(f"{k:32} {v:10.2f}")
    out = ROOT / "target" / "bench" / "store.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"writes": N_BURST, "samples": N_RTT, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
