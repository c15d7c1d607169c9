"""Monitor clients of the load benchmark (tests/bench/bench_load.py), one
process per protocol so that the writer's timing is not shared with them.

    load_monitors.py ca|pva PREFIX N OUT_JSON NAME...

Subscribes N times, round-robin over NAME..., counts the updates each
subscription receives and its disconnects, and keeps the distinct values
each subscription to a setpoint (a name ending ":set") received, so that
the benchmark can tell whether every posted update arrived. Prints "ready"
once every subscription has its first update; runs until a line arrives on
stdin, then writes OUT_JSON and exits."""
import json
import sys
import threading
import time

MODE, PREFIX, N, OUT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
NAMES = sys.argv[5:]


class Tally:
    def __init__(self, n):
        self.lock = threading.Lock()
        self.updates = [0] * n
        self.disconnects = [0] * n
        self.values = [set() for _ in range(n)]
        self.stopping = False

    def update(self, i, value=None):
        with self.lock:
            self.updates[i] += 1
            if value is not None:
                self.values[i].add(value)

    def disconnect(self, i):
        """A loss of a connection that had delivered (p4p also reports the
        state before the first connection as a disconnect)."""
        with self.lock:
            if not self.stopping and self.updates[i] > 0:
                self.disconnects[i] += 1


def run_ca(tally):
    import epics

    pvs = []
    for i in range(N):
        name = PREFIX + NAMES[i % len(NAMES)]
        keep = name.endswith(":set")

        def on_value(value=None, i=i, keep=keep, **_):
            tally.update(i, float(value) if keep else None)

        def on_conn(conn=True, i=i, **_):
            if not conn:
                tally.disconnect(i)

        pvs.append(epics.PV(name, callback=on_value, connection_callback=on_conn, auto_monitor=True))
    return pvs, lambda: None


def run_pva(tally):
    from p4p import Value
    from p4p.client.thread import Context, Disconnected

    ctx = Context("pva")
    subs = []
    for i in range(N):
        name = PREFIX + NAMES[i % len(NAMES)]
        keep = name.endswith(":set")

        def on_value(v, i=i, keep=keep):
            if isinstance(v, Disconnected):
                tally.disconnect(i)
            elif isinstance(v, Exception):
                return
            else:
                tally.update(i, (float(v["value"]) if isinstance(v, Value) else float(v)) if keep else None)

        subs.append(ctx.monitor(name, on_value, notify_disconnect=True))
    return subs, ctx.close


def main():
    tally = Tally(N)
    handles, close = (run_ca if MODE == "ca" else run_pva)(tally)
    deadline = time.monotonic() + 60
    while min(tally.updates) == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{MODE}: subscriptions without a first update: "
                               f"{[i for i, u in enumerate(tally.updates) if u == 0]}")
        time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.readline()
    with tally.lock:
        tally.stopping = True
        out = {"updates": sum(tally.updates), "min_per_subscription": min(tally.updates),
               "disconnects": sum(tally.disconnects),
               "setpoint_values": [[NAMES[i % len(NAMES)], sorted(v)] for i, v in enumerate(tally.values) if v]}
    with open(OUT, "w") as f:
        json.dump(out, f)
    close()
    del handles


if __name__ == "__main__":
    main()
