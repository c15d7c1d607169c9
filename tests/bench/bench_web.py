"""Web benchmark (not a test; `make bench-web`): twin-ioc with the
repository's st.cmd on loopback ports of its own; a steerer written with
put-callback (caproto) 200 times (BENCH_WEB_WRITES), each write a new
value and so a new orbit. Side by side in one run, the time from the
put-callback's completion to the arrival of that orbit (`ORBITCC:rdPos`)
- over the PV Web Socket (/pvws/pv, websockets client), and
- over a Channel Access monitor (caproto), the twin's native path.
Negative times: the update arrived before the put-callback's answer (the
twin publishes before it completes the put). Prints a table, writes
target/bench/web.json."""
import asyncio
import base64
import json
import os
import pathlib
import statistics
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import ROOT, client_users  # noqa: E402
from ops_helpers import OwnIoc  # noqa: E402

import numpy as np  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

WRITES = int(os.environ.get("BENCH_WEB_WRITES", "200"))
STEP_A = 1e-4
PERIOD_S = 0.05


def pct(values, q):
    return float(np.percentile(values, q))


async def ws_listener(url, pv, arrivals, ready, stop):
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "pvs": [pv]}))
        ready.set()
        while not stop.is_set():
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
            except asyncio.TimeoutError:
                continue
            if m.get("pv") == pv and "b64dbl" in m:
                arrivals.append((time.monotonic(), base64.b64decode(m["b64dbl"])))


def main():
    ioc = OwnIoc().start().wait_http()
    try:
        ctx = ioc.ca(client_users()[0])
        steerer, orbit = ioc.ca_pvs(ctx, "HS1PD1R:set", "ORBITCC:rdPos")
        ca_arrivals, ws_arrivals = [], []
        sub = orbit.subscribe(data_type="native")

        def on_ca(_sub, response):
            ca_arrivals.append((time.monotonic(), np.asarray(response.data, "<f8").tobytes()))
        sub.add_callback(on_ca)  # caproto keeps a weak reference: on_ca lives in main()
        ready, stop = threading.Event(), threading.Event()
        url = ioc.ioc.http.replace("http://", "ws://") + "/pvws/pv"
        loop = asyncio.new_event_loop()
        aready, astop = asyncio.Event(), asyncio.Event()

        def run_ws():
            asyncio.set_event_loop(loop)
            task = loop.create_task(ws_listener(url, ioc.pv("ORBITCC:rdPos"), ws_arrivals, aready, astop))

            async def watch():
                await aready.wait()
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)
                astop.set()
                await task
            loop.run_until_complete(watch())
        thread = threading.Thread(target=run_ws)
        thread.start()
        assert ready.wait(10)
        time.sleep(1.0)
        done = []
        for k in range(1, WRITES + 1):
            steerer.write(k * STEP_A, wait=True, timeout=10)
            t = time.monotonic()
            done.append((t, np.asarray(orbit.read(data_type="native").data, "<f8").tobytes()))
            time.sleep(PERIOD_S)
        time.sleep(1.0)
        stop.set()
        thread.join(10)
        sub.clear()

        def latencies(arrivals):
            first = {}
            for t, data in arrivals:
                first.setdefault(data, t)
            return [1e3 * (first[data] - t) for t, data in done if data in first]
        result = {"writes": WRITES}
        rows = []
        for name, arrivals in [("PVWS (WebSocket)", ws_arrivals), ("CA monitor", ca_arrivals)]:
            lat = latencies(arrivals)
            result[name] = {"received": len(lat), "median_ms": statistics.median(lat), "p99_ms": pct(lat, 99),
                            "max_ms": max(lat)}
            rows.append((name, len(lat), statistics.median(lat), pct(lat, 99), max(lat)))
        ratio = result["PVWS (WebSocket)"]["median_ms"] - result["CA monitor"]["median_ms"]
        result["pvws_minus_ca_median_ms"] = ratio
        print(f"put-callback completion -> orbit update, {WRITES} writes, {time.strftime('%Y-%m-%d')}")
        print(f"{'path':<18} {'received':>8} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
        for name, n, med, p99, mx in rows:
            print(f"{name:<18} {n:>8} {med:>10.2f} {p99:>8.2f} {mx:>8.2f}")
        print(f"PVWS - CA (median): {ratio:+.2f} ms")
        out = ROOT / "target" / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "web.json").write_text(json.dumps(result, indent=2))
    finally:
        ioc.stop()


if __name__ == "__main__":
    main()
