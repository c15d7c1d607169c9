"""Helpers of the operations tests: a twin on ports of its own, with
caproto (CA, a chosen user name) and p4p (PVA) clients pointed at it."""
import contextlib
import os
import time

from conftest import ROOT, IocProcess, free_port, loopback_env

TIMEOUT_S = 10.0


class OwnIoc:
    """A twin-ioc on its own loopback ports; `extra_env` configures it."""

    def __init__(self, extra_env=None, st_cmd=ROOT / "st.cmd", prefix=None):
        self.env = loopback_env(free_port(), free_port(), free_port())
        self.env["EPICS_CA_MAX_ARRAY_BYTES"] = "1000000"
        self.extra_env = dict(extra_env or {})
        self.st_cmd = st_cmd
        self.prefix = prefix
        self.ioc = None
        self._contexts = []

    def start(self):
        self.ioc = IocProcess(self.st_cmd, prefix=self.prefix, env=self.env, extra_env=self.extra_env)
        self.prefix = self.ioc.prefix
        self.ioc.wait_running(60)
        return self

    def wait_http(self, timeout=TIMEOUT_S):
        """Waits until the HTTP API answers (it binds after the IOC runs)."""
        import requests

        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.ioc.http + "/health", timeout=TIMEOUT_S).status_code == 200:
                    return self
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def stop(self):
        for ctx in self._contexts:
            with contextlib.suppress(Exception):
                ctx.disconnect() if hasattr(ctx, "disconnect") else ctx.close()
        self._contexts = []
        return self.ioc.stop() if self.ioc else 0

    def pv(self, name):
        return self.prefix + name

    @contextlib.contextmanager
    def ca_env(self):
        """os.environ pointing caproto at this IOC while a context is made
        and searches (caproto reads the address list when it searches)."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def ca(self, user):
        """caproto threading context that presents itself as `user`."""
        from caproto.threading.client import Context, SharedBroadcaster

        with self.ca_env():
            ctx = Context(SharedBroadcaster(), client_name=user, host_name="testhost", timeout=TIMEOUT_S)
        self._contexts.append(ctx)
        return ctx

    def ca_pvs(self, ctx, *names):
        with self.ca_env():
            pvs = ctx.get_pvs(*[self.pv(n) for n in names], timeout=TIMEOUT_S)
            for p in pvs:
                p.wait_for_connection(timeout=TIMEOUT_S)
        return pvs

    def pva(self):
        """p4p client context for this IOC (user: this process's user)."""
        from p4p.client.thread import Context

        conf = {
            "EPICS_PVA_ADDR_LIST": "127.0.0.1",
            "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_BROADCAST_PORT": self.env["EPICS_PVA_BROADCAST_PORT"],
            "EPICS_PVA_SERVER_PORT": self.env["EPICS_PVA_SERVER_PORT"],
        }
        ctx = Context("pva", conf=conf, useenv=False)
        self._contexts.append(ctx)
        return ctx

    def output(self):
        return self.ioc.output() if self.ioc else ""


def wait_for(what, check, timeout=TIMEOUT_S, period=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"timed out waiting for {what}")
