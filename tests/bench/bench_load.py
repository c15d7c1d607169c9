"""Load benchmark of the twin (not a test; `make bench-load`): twin-ioc
with the repository's st.cmd on loopback, 100 CA monitors (pyepics) and 20
PVA monitors (p4p) in processes of their own, and one writer putting with
put-callback (pyepics) at a fixed rate, round-robin over 40 steerers, each
write a new value. Reports in one run:
- writes sent and completed, put-callback completion p50/p99/max;
- monitor updates received (CA, PVA), disconnects, and deliveries: the
  share of written setpoint values every subscription to that setpoint
  received (each accepted write posts its value once);
- the IOC's RSS before and after, and its CPU time.
BENCH_LOAD_SECONDS (default 60) and BENCH_LOAD_RATE_HZ (default 1000) set
the run; a soak is the same run with a long duration. Writes
target/bench/load.json."""
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import BINARY, ROOT, spawn_quiet, terminate  # noqa: E402  (sets the client env)

import epics  # noqa: E402

warnings.filterwarnings("ignore", module="epics")
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
RATE_HZ = float(os.environ.get("BENCH_LOAD_RATE_HZ", "1000"))
# the writer spreads its writes over 40 modelled steerers (as many clients
# would; the VS4 converters are not in the model); the monitors watch ten
STEERERS = sorted(s for s in re.findall(r'record\(ao, "\$\(P\)([HV]S\w+):set"\)',
                             (ROOT / "db" / "bessy2" / "power_converters.db").read_text())
                  if not s.startswith("VS4"))[::3][:40]
SETPOINTS = [f"{s}:set" for s in STEERERS]
WATCHED = STEERERS[:10]
CA_NAMES = [f"{s}:set" for s in WATCHED] + [f"{s}:rdbk" for s in WATCHED] + [
    "TWIN:MODEL:RECOMPUTES", "TWIN:MODEL:WRITES", "ORBITCC:rdPos", "TUNEZR:rdH", "TUNEZR:rdV",
    "TWIN:BPM:X", "TWIN:BPM:Y", "TWIN:MODEL:STATUS", "TWIN:HEARTBEAT", "TOPUPCC:rdCur"]
PVA_NAMES = [f"{s}:set" for s in WATCHED] + ["TWIN:MODEL:RECOMPUTES", "ORBITCC:rdBpm", "TUNEZR:rdH", "TWIN:BPM:X"]
STEP_A = 1e-5  # write k to a steerer sets k * STEP_A: every value distinct


def proc_stat(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024.0, cpu_s


def start_monitors(mode, prefix, n, names, out):
    proc = subprocess.Popen([sys.executable, str(HERE / "load_monitors.py"), mode, prefix, str(n), out, *names],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc


def wait_ready(proc, what):
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"{what} monitors did not start: {line!r}")


class Writer:
    """Put-callbacks at a fixed rate; completion times by callback."""

    def __init__(self, prefix):
        self.pvs = [epics.PV(prefix + n) for n in SETPOINTS]
        for pv in self.pvs:
            assert pv.wait_for_connection(10), pv.pvname
        self.lock = threading.Lock()
        self.sent_at = {}
        self.latency_s = []
        self.written = {n: [] for n in SETPOINTS}

    def done(self, key):
        now = time.perf_counter()
        with self.lock:
            self.latency_s.append(now - self.sent_at.pop(key))

    def run(self, seconds, rate_hz):
        period = 1.0 / rate_hz
        start = time.perf_counter()
        k = 0
        while True:
            due = start + k * period
            now = time.perf_counter()
            if due - start >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            j = k % len(self.pvs)
            value = (k // len(self.pvs) + 1) * STEP_A
            key = (j, k)
            with self.lock:
                self.sent_at[key] = time.perf_counter()
            self.written[SETPOINTS[j]].append(value)
            self.pvs[j].put(value, wait=False, use_complete=False,
                            callback=lambda key=key, **_: self.done(key))
            k += 1
        return k, time.perf_counter() - start

    def wait_complete(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.sent_at:
                    return
            time.sleep(0.05)


def deliveries(result, written):
    """Per subscription to a setpoint: the share of its written values received."""
    shares = [len(set(values) & set(written[name])) / len(written[name])
              for name, values in result["setpoint_values"]]
    return min(shares) if shares else float("nan"), statistics.mean(shares) if shares else float("nan")


def main():
    prefix = f"L{uuid.uuid4().hex[:6]}:"
    store = tempfile.mkdtemp(prefix="twin-load-store-")
    ioc = spawn_quiet([str(BINARY), "st.cmd"], {"TWIN_PREFIX": prefix, "RUST_LOG": "warn", "TWIN_STORE_DIR": store})
    out_dir = pathlib.Path(tempfile.mkdtemp(prefix="twin-load-"))
    monitors = {}
    try:
        deadline = time.monotonic() + 60
        while epics.caget(prefix + "TUNEZR:rdH", timeout=0.2) in (None, 0.0):
            if time.monotonic() > deadline or ioc.poll() is not None:
                raise TimeoutError("twin-ioc did not start")
        monitors["ca"] = start_monitors("ca", prefix, 100, CA_NAMES, str(out_dir / "ca.json"))
        monitors["pva"] = start_monitors("pva", prefix, 20, PVA_NAMES, str(out_dir / "pva.json"))
        for mode, proc in monitors.items():
            wait_ready(proc, mode)
        writer = Writer(prefix)
        rss_before, cpu_before = proc_stat(ioc.pid)
        sent, elapsed = writer.run(SECONDS, RATE_HZ)
        writer.wait_complete(30)
        rss_after, cpu_after = proc_stat(ioc.pid)
        time.sleep(1.0)  # the last posts reach the monitors
        results = {}
        for mode, proc in monitors.items():
            proc.stdin.write("stop\n")
            proc.stdin.flush()
            proc.wait(60)
            results[mode] = json.loads((out_dir / f"{mode}.json").read_text())
        alive = ioc.poll() is None
    finally:
        for proc in monitors.values():
            if proc.poll() is None:
                proc.kill()
        terminate(ioc)
    lat = sorted(writer.latency_s)
    completed = len(lat)
    ca_min, ca_mean = deliveries(results["ca"], writer.written)
    pva_min, pva_mean = deliveries(results["pva"], writer.written)
    report = {
        "date": time.strftime("%Y-%m-%d"), "seconds": SECONDS, "rate_hz": RATE_HZ,
        "writes_sent": sent, "writes_completed": completed, "achieved_rate_hz": sent / elapsed,
        "put_p50_ms": 1e3 * lat[len(lat) // 2] if lat else None,
        "put_p99_ms": 1e3 * lat[int(len(lat) * 0.99)] if lat else None,
        "put_max_ms": 1e3 * lat[-1] if lat else None,
        "ca_monitors": 100, "ca_updates": results["ca"]["updates"], "ca_disconnects": results["ca"]["disconnects"],
        "ca_delivered_min": ca_min, "ca_delivered_mean": ca_mean,
        "pva_monitors": 20, "pva_updates": results["pva"]["updates"],
        "pva_disconnects": results["pva"]["disconnects"],
        "pva_delivered_min": pva_min, "pva_delivered_mean": pva_mean,
        "rss_before_mb": rss_before, "rss_after_mb": rss_after,
        "ioc_cpu_s": cpu_after - cpu_before, "ioc_alive": alive,
    }
    for key, value in report.items():
        print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")
    out = ROOT / "target" / "bench" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
