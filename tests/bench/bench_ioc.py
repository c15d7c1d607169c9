"""Benchmark of the IOC foundation (not a test): twin-ioc side by side with
Python servers serving the same PVs (caproto for CA, p4p for PVA), measured
with real clients (pyepics for CA, p4p for PVA) in one run.

Reports start-up to first successful read, Rust/server update -> client
monitor latency (median, p99), and client put -> server -> completion round
trip, with ratios baseline / twin-ioc. Writes target/bench/ioc.json.
Samples per metric: BENCH_SAMPLES (default 300)."""
import json
import os
import pathlib
import statistics
import sys
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import BINARY, ROOT, spawn_quiet, terminate  # noqa: E402  (sets the client env)

import warnings  # noqa: E402

import epics  # noqa: E402
from p4p.client.thread import Context  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "300"))
STARTUP_RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", "5"))
warnings.filterwarnings("ignore", module="epics")  # timeouts while a server starts
pva = Context("pva")


def spawn(kind, prefix):
    cmd = {
        "twin-ioc": [str(BINARY), "tests/st-selftest.cmd"],
        "caproto": [sys.executable, str(HERE / "competitor_caproto.py"), prefix],
        "p4p": [sys.executable, str(HERE / "competitor_p4p.py"), prefix],
    }[kind]
    return spawn_quiet(cmd, {"TWIN_PREFIX": prefix, "RUST_LOG": "warn"})


def stop(proc):
    terminate(proc)


def read_once(proto, name):
    if proto == "ca":
        return epics.caget(name, timeout=0.05) is not None
    try:
        pva.get(name, timeout=0.05)
        return True
    except Exception:
        return False


def startup_s(kind, proto):
    prefix = f"B{uuid.uuid4().hex[:8]}:"
    t0 = time.monotonic()
    proc = spawn(kind, prefix)
    try:
        deadline = t0 + 60
        while time.monotonic() < deadline:
            if read_once(proto, prefix + "TWIN:VERSION"):
                return time.monotonic() - t0
        raise TimeoutError(f"{kind} did not answer over {proto}")
    finally:
        stop(proc)


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.01)


def monitor_latency_s(proto, name, n):
    lat = []
    if proto == "ca":
        def cb(timestamp=None, **kw):
            lat.append(time.time() - timestamp)
        pv = epics.PV(name, form="time", callback=cb, auto_monitor=True)
        wait_until(lambda: len(lat) >= n + 5, 5 + n * 0.05)
        pv.clear_callbacks()
        pv.disconnect()
    else:
        sub = pva.monitor(name, lambda v: lat.append(time.time() - v.timestamp))
        wait_until(lambda: len(lat) >= n + 5, 5 + n * 0.05)
        sub.close()
    return lat[5:n + 5]  # skip the initial value and warm-up


def put_round_trip_s(proto, name, n):
    out = []
    for k in range(n):
        value = float(k % 7)
        t0 = time.perf_counter()
        if proto == "ca":
            assert epics.caput(name, value, wait=True, timeout=5) == 1
        else:
            pva.put(name, value, wait=True, timeout=5)
        out.append(time.perf_counter() - t0)
    return out


def summary(samples_s):
    ms = sorted(1e3 * s for s in samples_s)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return {"median_ms": statistics.median(ms), "p99_ms": p99, "n": len(ms)}


def measure(kind, proto):
    starts = [startup_s(kind, proto) for _ in range(STARTUP_RUNS)]
    prefix = f"B{uuid.uuid4().hex[:8]}:"
    proc = spawn(kind, prefix)
    try:
        wait_until(lambda: read_once(proto, prefix + "TWIN:VERSION"), 60)
        tick = prefix + "TWIN:SELFTEST:TICK"
        sp = prefix + "TWIN:SELFTEST:SETPOINT"
        return {
            "startup": {"median_ms": 1e3 * statistics.median(starts), "runs_ms": [1e3 * s for s in starts]},
            "update_to_monitor": summary(monitor_latency_s(proto, tick, SAMPLES)),
            "put_round_trip": summary(put_round_trip_s(proto, sp, SAMPLES)),
        }
    finally:
        stop(proc)


def main():
    pairs = [("ca", "caproto"), ("pva", "p4p")]
    results = {}
    for proto, baseline in pairs:
        results[proto] = {"twin-ioc": measure("twin-ioc", proto), baseline: measure(baseline, proto)}
    rows = []
    for proto, baseline in pairs:
        r = results[proto]
        for metric, key in [("startup", "median_ms"), ("update_to_monitor", "median_ms"),
                            ("update_to_monitor", "p99_ms"), ("put_round_trip", "median_ms"),
                            ("put_round_trip", "p99_ms")]:
            twin, base = r["twin-ioc"][metric][key], r[baseline][metric][key]
            rows.append((proto.upper(), f"{metric} {key[:-3]}", twin, baseline, base, base / twin))
    print(f"{'proto':5} {'metric':26} {'twin-ioc ms':>12} {'baseline':>9} {'ms':>10} {'ratio':>7}")
    for proto, metric, twin, name, base, ratio in rows:
        print(f"{proto:5} {metric:26} {twin:12.3f} {name:>9} {base:10.3f} {ratio:7.2f}x")
    out = ROOT / "target" / "bench" / "ioc.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"samples": SAMPLES, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
