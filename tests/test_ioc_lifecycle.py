"""Start-up and shut-down of twin-ioc as a process: the repository's own
st.cmd, signals, the interactive iocsh, and a broken startup script.

Each test runs its own IOC on its own ports; reads go through a fresh client
process so its CA/PVA context sees those ports."""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

from conftest import BINARY, ROOT, IocProcess, free_port, loopback_env

CLIENT_SCRIPT = r"""
import json, sys, epics
from p4p.client.thread import Context
names = sys.argv[1:]
ca = {n: epics.caget(n, timeout=5, as_string=True) for n in names}
ctx = Context("pva")
pva = {n: str(ctx.get(n, timeout=5).raw.value) for n in names}
print(json.dumps({"ca": ca, "pva": pva}))
"""


def own_env():
    return loopback_env(free_port(), free_port(), free_port())


def read_in_fresh_client(env, names):
    full = dict(os.environ)
    full.update(env)
    out = subprocess.run([sys.executable, "-c", CLIENT_SCRIPT, *names], env=full,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_repository_st_cmd_serves_health_pvs_to_pyepics_and_p4p():
    env = own_env()
    ioc = IocProcess(ROOT / "st.cmd", env=env)
    try:
        ioc.wait_running()
        names = [ioc.pv("TWIN:VERSION"), ioc.pv("TWIN:HEARTBEAT"), ioc.pv("TWIN:UPTIME")]
        got = read_in_fresh_client(env, names)
        for proto in ("ca", "pva"):
            assert got[proto][names[0]].startswith("twin-ioc "), got
            assert int(float(got[proto][names[1]])) >= 0, got
    finally:
        assert ioc.stop() == 0, ioc.output()


def test_sigterm_and_sigint_shut_down_cleanly():
    for sig in (signal.SIGTERM, signal.SIGINT):
        ioc = IocProcess(ROOT / "tests" / "st-selftest.cmd", env=own_env())
        ioc.wait_running()
        t0 = time.monotonic()
        code = ioc.stop(sig, timeout=10)
        assert code == 0, ioc.output()
        assert time.monotonic() - t0 < 5
        assert "shutting down" in ioc.output()


def test_broken_startup_script_fails_with_context(tmp_path):
    script = tmp_path / "bad.cmd"
    script.write_text('dbLoadRecords("db/does_not_exist.db", "P=$(P)")\n')
    env = dict(os.environ)
    env.update(own_env())
    out = subprocess.run([str(BINARY), str(script)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "bad.cmd" in out.stderr


def test_interactive_iocsh_on_a_tty():
    env = dict(os.environ)
    env.update(own_env())
    env["TWIN_PREFIX"] = "TTY:"
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BINARY), "tests/st-selftest.cmd"], cwd=ROOT, env=env,
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""

    def read_until(marker, timeout=20.0):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")[-3000:]

    try:
        read_until(b"IOC running")
        os.write(master, b"dbl\n")
        read_until(b"TTY:TWIN:SELFTEST:SETPOINT")
        os.write(master, b"dbpf TTY:TWIN:SELFTEST:MSG fromTTY\n")
        os.write(master, b"dbgf TTY:TWIN:SELFTEST:LABEL\n")
        read_until(b'"fromTTY"')
        os.write(master, b"exit\n")
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
