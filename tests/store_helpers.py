"""Helpers of the store tests: a real MongoDB-wire server (SecantusDB) and
EPICS client calls made from a fresh client process (each store test runs
its IOC on ports of its own)."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

from conftest import BINARY, ROOT, IocProcess, free_port, loopback_env

SECANTUSD = ROOT / ".venv-mongo" / "bin" / "secantusd-py"
CLIENT = r"""
import json, sys, epics
ops = json.loads(sys.argv[1])
out = []
for op in ops:
    if op[0] == "put":
        ok = epics.caput(op[1], op[2], wait=True, timeout=15)
        out.append(ok)
    else:
        v = epics.caget(op[1], timeout=op[2] if len(op) > 2 else 10, use_monitor=False, as_string=(op[0] == "gets"))
        out.append(v.tolist() if hasattr(v, "tolist") else v)
print(json.dumps(out))
"""


class MongoServer:
    """secantusd-py on a free loopback port, restartable on the same data."""

    def __init__(self):
        if not SECANTUSD.exists():
            raise RuntimeError(f"{SECANTUSD} missing: `make test` installs it")
        self.port = free_port()
        self.path = tempfile.mkdtemp(prefix="secantus-")
        self.uri = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        self.proc = None
        self.start()

    def env(self):
        """The environment that points the twin's store at this server."""
        return {"TWIN_STORE_URI": self.uri}

    def start(self, timeout=30):
        log = open(self.path + ".log", "ab")
        self.proc = subprocess.Popen([str(SECANTUSD), "--host", "127.0.0.1", "--port", str(self.port),
                                      "--storage-path", self.path, "--log-level", "WARNING"],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(pathlib.Path(self.path + ".log").read_text())
                time.sleep(0.1)
        raise TimeoutError("SecantusDB did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class StoreIoc:
    """A twin IOC on its own ports with a given store (and environment),
    read and written by pyepics in a client process of its own."""

    def __init__(self, store_env, prefix="S:", st_cmd=ROOT / "tests" / "st-test.cmd"):
        self.env = loopback_env(free_port(), free_port(), free_port())
        self.env["EPICS_CA_MAX_ARRAY_BYTES"] = "1000000"
        self.store_env = store_env
        self.prefix = prefix
        self.st_cmd = st_cmd
        self.start_args = []  # command-line options of twin-ioc (e.g. --reset-store)
        self.ioc = None

    def start(self):
        self.ioc = IocProcess(self.st_cmd, prefix=self.prefix, env=self.env, extra_env=self.store_env,
                              args=self.start_args)
        self.ioc.wait_running()
        return self

    def client(self, ops):
        full = dict(os.environ)
        full.update(self.env)
        ops = [[op[0], self.prefix + op[1], *op[2:]] for op in ops]
        out = subprocess.run([sys.executable, "-c", CLIENT, json.dumps(ops)], env=full,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr + (self.ioc.output() if self.ioc else "")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def stop(self, sig=None):
        import signal
        return self.ioc.stop(sig or signal.SIGTERM)


def twin_cli(*args, env=None):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([str(BINARY), *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)
