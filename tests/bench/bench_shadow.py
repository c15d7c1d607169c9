"""Benchmark of shadow mode (not a test): the follow lag from a source
update to the shadow's published model, side by side with what a user
would script without shadow mode — a Python follower (caproto monitor on
the machine's readbacks, a put with completion to a second, ordinary twin
per update). Three twin processes on loopback ports of their own: the
"machine" M:, the shadow S: (TWIN_SHADOW_SOURCE=M:) and the scripted
copy C:. Steerer writes on M: at a steady pace; the lags are measured
from the readback's time stamp on M: (one host, one clock):
- S: its own TWIN:SHADOW:LAG per followed burst, and the client's view:
  the write's completion on M: to S:'s setpoint record showing the value;
- C: the same readback time stamp to the scripted put's completion.
Writes target/bench/shadow.json."""
import json
import os
import queue
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from conftest import ROOT, client_users  # noqa: E402
from ops_helpers import OwnIoc, wait_for  # noqa: E402

N_WRITES = int(os.environ.get("BENCH_WRITES", "200"))
PERIOD_S = float(os.environ.get("BENCH_PERIOD_S", "0.05"))
STEERERS = [f"HS4P{k}D{s}R" for k in (1, 2) for s in range(1, 9)] + [f"HS1PT{s}R" for s in range(1, 5)]
TIMEOUT_S = 20.0


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def summary(ms):
    return {"n": len(ms), "median_ms": statistics.median(ms), "p99_ms": pct(ms, 0.99), "max_ms": max(ms)}


def main():
    user = client_users()[0]
    m = OwnIoc(prefix="M:").start()
    port = m.env["EPICS_CA_SERVER_PORT"]
    s = OwnIoc({"TWIN_SHADOW_SOURCE": "M:", "EPICS_CA_ADDR_LIST": f"127.0.0.1:{port}"}, prefix="S:").start()
    c = OwnIoc(prefix="C:").start()
    try:
        mctx, sctx, cctx = m.ca(user), s.ca(user), c.ca(user)
        wait_for("S: following", lambda: s.ca_pvs(sctx, "TWIN:SHADOW:STATUS")[0].read().data[0] == 1, TIMEOUT_S)
        m_set = m.ca_pvs(mctx, *[f"{n}:set" for n in STEERERS])
        m_rdbk = m.ca_pvs(mctx, *[f"{n}:rdbk" for n in STEERERS])
        s_set = s.ca_pvs(sctx, *[f"{n}:set" for n in STEERERS])
        c_set = c.ca_pvs(cctx, *[f"{n}:set" for n in STEERERS])
        (s_lag,) = s.ca_pvs(sctx, "TWIN:SHADOW:LAG")

        # the scripted competitor: a monitor on every readback of M:, a put
        # with completion to C: per update, in order, on one worker
        work = queue.Queue()
        scripted = []
        errors = []

        def on_rdbk(k):
            def cb(sub, response):
                work.put((k, response.data[0], response.metadata.timestamp))
            return cb

        def worker():
            while True:
                item = work.get()
                if item is None:
                    return
                k, value, stamp = item
                try:
                    c_set[k].write([value], wait=True, timeout=TIMEOUT_S)
                except Exception as e:  # reported, the run continues
                    errors.append(repr(e))
                    continue
                scripted.append((time.time() - stamp) * 1e3)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        # caproto holds callbacks weakly: keep them
        keep = []
        for k, pv in enumerate(m_rdbk):
            sub = pv.subscribe(data_type="time")
            keep += [sub, on_rdbk(k)]
            sub.add_callback(keep[-1])
        own_lag = []

        def on_lag(sub, r):
            own_lag.append(float(r.data[0]))

        lag_sub = s_lag.subscribe()
        lag_sub.add_callback(on_lag)
        time.sleep(1.0)  # initial monitor values
        scripted.clear()
        own_lag.clear()
        seen = []
        for i in range(N_WRITES):
            k = i % len(STEERERS)
            value = round(1e-3 * (i + 1) * (-1) ** i, 6)
            m_set[k].write([value], wait=True, timeout=TIMEOUT_S)
            done = time.monotonic()
            while s_set[k].read().data[0] != value:
                if time.monotonic() - done > TIMEOUT_S:
                    raise TimeoutError(f"S: did not follow write {i}")
                time.sleep(0.0002)
            seen.append((time.monotonic() - done) * 1e3)
            time.sleep(PERIOD_S)
        wait_for(f"the scripted copy caught up ({errors[:1]})", lambda: len(scripted) >= N_WRITES, 60)
        work.put(None)
        result = {
            "date": time.strftime("%Y-%m-%d"),
            "writes": N_WRITES,
            "period_s": PERIOD_S,
            "shadow_lag_pv": summary(own_lag),
            "shadow_seen_by_client": summary(seen),
            "scripted_python_follower": summary(scripted[:N_WRITES]),
        }
        result["ratio_median"] = result["scripted_python_follower"]["median_ms"] / result["shadow_lag_pv"]["median_ms"]
        print(f"{'follow lag (source time stamp -> published)':48} {'median':>9} {'p99':>9} {'max':>9}")
        for key, label in [("shadow_lag_pv", "twin-ioc shadow (TWIN:SHADOW:LAG)"),
                           ("shadow_seen_by_client", "twin-ioc shadow, M: put done -> S: record"),
                           ("scripted_python_follower", "caproto monitor + put to a second twin")]:
            r = result[key]
            print(f"{label:48} {r['median_ms']:8.2f}ms {r['p99_ms']:8.2f}ms {r['max_ms']:8.2f}ms")
        print(f"scripted / shadow (median): {result['ratio_median']:.1f}x")
        out = ROOT / "target" / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "shadow.json").write_text(json.dumps(result, indent=2))
    finally:
        for ioc in (s, c, m):
            ioc.stop()


if __name__ == "__main__":
    main()
