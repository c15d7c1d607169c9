"""Benchmark of the twin (not a test): twin-ioc with the repository's
st.cmd side by side with a Python twin built like the earlier ones (pyAT +
caproto, tests/bench/competitor_pyat_twin.py), both measured with pyepics
in one run: start-up until the first tune reading, steerer write → orbit
published (put-callback round trip, median and 99th percentile),
quadrupole write → tunes published. Writes target/bench/twin.json.
Samples per metric: BENCH_SAMPLES (default 200)."""
import json
import os
import pathlib
import statistics
import sys
import time
import uuid
import warnings

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import BINARY, ROOT, spawn_quiet, terminate  # noqa: E402  (sets the client env)

import epics  # noqa: E402

warnings.filterwarnings("ignore", module="epics")
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
PYAT_PYTHON = ROOT / ".venv-pyat" / "bin" / "python"
Q1_DESIGN_A = 218.45846118078865


def spawn(kind, prefix):
    cmd = {"twin-ioc": [str(BINARY), "st.cmd"],
           "pyAT+caproto": [str(PYAT_PYTHON), str(HERE / "competitor_pyat_twin.py"), prefix]}[kind]
    return spawn_quiet(cmd, {"TWIN_PREFIX": prefix, "RUST_LOG": "warn"})


def stop(proc):
    terminate(proc)


def put_rtt_s(name, values):
    """Put-callback round trips of `values` written to `name`, timed from a
    connected channel: the first put of a new name also searched for and
    connected the channel (10-30 ms, one of the two slowest samples of every
    run, so it set the 99th percentile of 200)."""
    pv = epics.get_pv(name, connect=True, timeout=60)
    assert pv.connected, name
    out = []
    for v in values:
        t0 = time.perf_counter()
        assert epics.caput(name, v, wait=True, timeout=60) == 1, name
        out.append(time.perf_counter() - t0)
    return out


def percentile(values, q):
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(kind):
    prefix = f"B{uuid.uuid4().hex[:8]}:"
    t0 = time.monotonic()
    proc = spawn(kind, prefix)
    try:
        while epics.caget(prefix + "TUNEZR:rdH", timeout=0.1) in (None, 0.0):
            if time.monotonic() - t0 > 120:
                raise TimeoutError(kind)
        startup = time.monotonic() - t0
        orbit = put_rtt_s(prefix + "HS4P2D1R:set", [0.01 * (1 + k % 5) for k in range(SAMPLES)])
        tune = put_rtt_s(prefix + "Q1PDR:set", [Q1_DESIGN_A * (1 + 1e-3 * (1 + k % 3)) for k in range(SAMPLES)])
        return {"startup_s": startup,
                "steerer_write_to_orbit_ms": 1e3 * statistics.median(orbit),
                "steerer_write_to_orbit_p99_ms": 1e3 * percentile(orbit, 0.99),
                "quad_write_to_tunes_ms": 1e3 * statistics.median(tune),
                "quad_write_to_tunes_p99_ms": 1e3 * percentile(tune, 0.99)}
    finally:
        stop(proc)


def main():
    results = {kind: measure(kind) for kind in ("twin-ioc", "pyAT+caproto")}
    t, b = results["twin-ioc"], results["pyAT+caproto"]
    print(f"{'metric':32} {'twin-ioc':>12} {'pyAT+caproto':>14} {'ratio':>8}")
    for key in t:
        print(f"{key:32} {t[key]:12.3f} {b[key]:14.3f} {b[key] / t[key]:7.1f}x")
    print(f"{SAMPLES} writes per metric, {time.strftime('%Y-%m-%d %H:%M')}")
    print("earlier Python twin (machine notes): start-up 31 s, write -> tune PV 2.6-6 s")
    out = ROOT / "target" / "bench" / "twin.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"samples": SAMPLES, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
