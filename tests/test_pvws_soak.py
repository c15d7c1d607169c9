"""50 concurrent PVWS clients for 60 s (TWIN_PVWS_SOAK_S) on a twin of
their own, while a CA client (caproto) writes a steerer 10 times a
second: every client receives every written setpoint value in order and
the same orbit and tune updates as every other client (none lost); the
IOC's RSS grows by less than 10 MB from the end of a warm-up (clients
connected and 5 s of writes: the first writes raise the RSS once, by
about 13 MB, after which it stays flat, seen over 90 s) to the end."""
import asyncio
import json
import os
import pathlib
import threading
import time

from websockets.asyncio.client import connect

from conftest import client_users
from ops_helpers import OwnIoc

CLIENTS = 50
SECONDS = float(os.environ.get("TWIN_PVWS_SOAK_S", "60"))
WRITE_PERIOD_S = 0.1
WARMUP_S = 5.0
STEP_A = 1e-4  # the k-th write sets k * STEP_A: every value distinct
MAX_RSS_GROWTH_MB = 10.0


def rss_mb(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024.0


async def client(url, pvs, received, ready, stop):
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "pvs": pvs}))
        waiting = True  # ready once every PV's first update (its value at subscription) is in
        while not stop.is_set():
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except asyncio.TimeoutError:
                continue
            if m.get("type") == "update":
                key = m.get("value", m.get("b64dbl"))
                received.setdefault(m["pv"], []).append((m.get("seconds"), m.get("nanos"), key))
            if waiting and len(received) == len(pvs):
                waiting = False
                ready.release()


async def soak(ioc, setpoint, watched, write_all):
    url = ioc.ioc.http.replace("http://", "ws://") + "/pvws/pv"
    stop, ready = asyncio.Event(), asyncio.Semaphore(0)
    received = [{} for _ in range(CLIENTS)]
    tasks = [asyncio.create_task(client(url, [setpoint] + watched, r, ready, stop)) for r in received]
    for _ in range(CLIENTS):
        await asyncio.wait_for(ready.acquire(), 30)
    writes, rss_start = await asyncio.to_thread(write_all, lambda: rss_mb(ioc.ioc.proc.pid))
    await asyncio.sleep(2.0)  # the last updates in flight
    rss_end = rss_mb(ioc.ioc.proc.pid)
    stop.set()
    await asyncio.gather(*tasks)
    return received, writes, rss_start, rss_end


def within(updates, window):
    """Updates time-stamped within the window (wall clock, s)."""
    return [u for u in updates if window[0] <= u[0] + u[1] * 1e-9 <= window[1]]


def test_fifty_pvws_clients_for_a_minute_lose_nothing_and_the_ioc_does_not_grow():
    ioc = OwnIoc().start().wait_http()
    try:
        ctx = ioc.ca(client_users()[0])
        (steerer,) = ioc.ca_pvs(ctx, "HS1PD1R:set")
        setpoint = ioc.pv("HS1PD1R:set")
        watched = [ioc.pv("ORBITCC:rdPos"), ioc.pv("TUNEZR:rdH"), ioc.pv("TWIN:MODEL:RECOMPUTES")]

        window = [None, None]  # wall clock of the first and after the last write

        def write_all(rss):
            """Writes for the warm-up and the soak; the RSS after the warm-up."""
            values, start, k, rss_start = [], time.monotonic(), 0, None
            window[0] = time.time()
            while time.monotonic() - start < WARMUP_S + SECONDS:
                if rss_start is None and time.monotonic() - start >= WARMUP_S:
                    rss_start = rss()
                k += 1
                steerer.write(k * STEP_A, wait=True, timeout=10)
                values.append(k * STEP_A)
                time.sleep(max(0.0, start + k * WRITE_PERIOD_S - time.monotonic()))
            window[1] = time.time()
            return values, rss_start

        received, writes, rss_start, rss_end = asyncio.run(soak(ioc, setpoint, watched, write_all))
        assert len(writes) >= (WARMUP_S + SECONDS) / WRITE_PERIOD_S * 0.5
        reference = received[0]
        for i, got in enumerate(received):
            values = [v for _, _, v in got[setpoint]]
            assert values[-len(writes):] == writes, f"client {i}: setpoint updates lost or reordered"
            assert len(values) == len(writes) + 1  # the first update is the value at subscription
            for pv in watched:  # all subscribed before the first write, read 2 s after the last
                assert within(got[pv], window) == within(reference[pv], window), \
                    f"client {i}: {pv} updates differ from client 0's"
        orbit_updates = len(within(reference[watched[0]], window))
        print(f"{CLIENTS} clients x {WARMUP_S + SECONDS:.0f} s: {len(writes)} writes, {orbit_updates} orbit updates per client, "
              f"RSS {rss_start:.1f} -> {rss_end:.1f} MB")
        assert orbit_updates > len(writes) / 10
        assert rss_end - rss_start < MAX_RSS_GROWTH_MB
    finally:
        assert ioc.stop() == 0
