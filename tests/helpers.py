"""Helpers shared by the end-to-end tests: one timeout, fresh reads from the
server (not pyepics' monitor cache), blocking puts, waits instead of sleeps."""
import time

import epics

# Every client call of the tests waits at most this long [s].
TIMEOUT_S = 10.0


def get(ioc, name, **kw):
    """A fresh read of `name` (behind the IOC's prefix) from the server."""
    value = epics.caget(ioc.pv(name), timeout=TIMEOUT_S, use_monitor=False, **kw)
    assert value is not None, f"no value for {name}"
    return value


def put(ioc, name, value):
    """A put that returns when the put-callback completes; asserts success."""
    assert epics.caput(ioc.pv(name), value, wait=True, timeout=TIMEOUT_S) == 1, name


def wait_for(what, predicate, timeout=TIMEOUT_S, poll_s=0.01):
    """Polls `predicate` until it holds; fails naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll_s)
