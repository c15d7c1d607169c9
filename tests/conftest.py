"""End-to-end fixtures: start target/release/twin-ioc as a subprocess on
loopback with free ports and a random PV prefix, and point the real EPICS
clients (pyepics, caproto, p4p) at it.

The client environment is set here, at import time, before any client
library creates its context.
"""
import getpass
import os
import pathlib
import pwd
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "twin-ioc"
STARTUP_TIMEOUT_S = 20.0


def free_port():
    """A loopback port free for both TCP and UDP (CA and PVA use both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free loopback port")


def loopback_env(ca_port, pva_port, pva_bcast):
    """EPICS variables for a server and its clients, loopback only."""
    return {
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_SERVER_PORT": str(ca_port),
        "EPICS_PVA_ADDR_LIST": "127.0.0.1",
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_SERVER_PORT": str(pva_port),
        "EPICS_PVA_SERVER_PORT": str(pva_port),
        "EPICS_PVAS_BROADCAST_PORT": str(pva_bcast),
        "EPICS_PVA_BROADCAST_PORT": str(pva_bcast),
    }


def client_users():
    """The user names this process's EPICS clients present: libca and pvxs
    take the effective user's name; getpass may see LOGNAME/USER."""
    names = [pwd.getpwuid(os.geteuid()).pw_name, getpass.getuser()]
    return list(dict.fromkeys(names))


# One set of ports for the session IOC, shared by this process's clients.
SESSION_ENV = loopback_env(free_port(), free_port(), free_port())
SESSION_ENV["EPICS_CA_MAX_ARRAY_BYTES"] = "1000000"
os.environ.update(SESSION_ENV)


def spawn_quiet(cmd, env_extra):
    """A server process (benchmarks) on the session's ports, output discarded."""
    env = dict(os.environ)
    env.update(SESSION_ENV)
    env["TWIN_HTTP_ADDR"] = f"127.0.0.1:{free_port()}"
    env.update(env_extra)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def terminate(proc, timeout=10.0):
    """SIGTERM, then SIGKILL if the process does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class IocProcess:
    """A twin-ioc child process with its output in a file."""

    def __init__(self, st_cmd, prefix=None, env=None, extra_env=None, args=()):
        self.prefix = prefix or f"T{uuid.uuid4().hex[:8]}:"
        self.log = tempfile.NamedTemporaryFile(prefix="twin-ioc-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        # a fresh embedded store per IOC unless the test names one
        full_env["TWIN_STORE_DIR"] = tempfile.mkdtemp(prefix="twin-store-")
        full_env.pop("TWIN_STORE_URI", None)
        # the test runner is the instructor (tests set the hidden truth)
        # unless a test names the instructors
        full_env["TWIN_INSTRUCTORS"] = ",".join(client_users())
        # the HTTP API on a port of its own
        self.http = f"http://127.0.0.1:{free_port()}"
        full_env["TWIN_HTTP_ADDR"] = self.http.removeprefix("http://")
        full_env.update(env or SESSION_ENV)
        full_env.update(extra_env or {})
        full_env["TWIN_PREFIX"] = self.prefix
        full_env.setdefault("RUST_LOG", "info")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [str(BINARY), str(st_cmd), *args],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self):
        return pathlib.Path(self.log.name).read_text(errors="replace")

    def wait_running(self, timeout=STARTUP_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "IOC running" in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"twin-ioc exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.02)
        raise TimeoutError(f"twin-ioc did not start within {timeout} s:\n{self.output()}")

    def pv(self, name):
        return self.prefix + name

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"twin-ioc ignored {sig!r}:\n{self.output()}")
        return self.proc.returncode


@pytest.fixture(scope="session")
def selftest_ioc():
    """The session IOC: the BESSY II twin plus the self-test records."""
    if not BINARY.exists():
        pytest.fail(f"{BINARY} missing: run `make build` first")
    ioc = IocProcess(ROOT / "tests" / "st-test.cmd")
    try:
        ioc.wait_running()
        yield ioc
    finally:
        code = ioc.stop()
        if code != 0:
            print(ioc.output())


@pytest.fixture(scope="session")
def pva():
    """A p4p PVA client context on the session's ports."""
    from p4p.client.thread import Context

    ctx = Context("pva")
    yield ctx
    ctx.close()


@pytest.fixture
def mongo():
    """A MongoDB-wire server (SecantusDB) of its own, stopped afterwards."""
    from store_helpers import MongoServer

    server = MongoServer()
    yield server
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, print the session IOC's output."""
    outcome = yield
    report = outcome.get_result()
    ioc = item.funcargs.get("selftest_ioc") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and ioc is not None:
        report.sections.append(("twin-ioc output", ioc.output()[-20000:]))
