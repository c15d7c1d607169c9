"""p4p's PV Access gateway (pvagw) started from the configuration
`twin-ioc ops` generates: 50 clients monitor ORBITCC:rdBpm through it while
the twin serves one connection with one channel; an operator's write goes
through, a write to the hidden truth is refused."""
import json
import re
import subprocess
import sys
import time

import pytest

from conftest import BINARY, ROOT, free_port, terminate
from ops_helpers import OwnIoc, wait_for

MONITORS = 50


def gateway_config(out, ioc, gw_port, gw_bcast):
    """The generated pvagw.json with the ports of this test: the twin's
    (client side) and the gateway's own (server side, loopback)."""
    text = (out / "gateway" / "pvagw.json").read_text()
    config = json.loads(re.sub(r"/\*.*?\*/", "", text, flags=re.S))
    (client,) = config["clients"]
    client["serverport"] = int(ioc.env["EPICS_PVA_SERVER_PORT"])
    client["bcastport"] = int(ioc.env["EPICS_PVA_BROADCAST_PORT"])
    (server,) = config["servers"]
    server.update(interface=["127.0.0.1"], addrlist="127.0.0.1", autoaddrlist=False,
                  serverport=gw_port, bcastport=gw_bcast)
    path = out / "gateway" / "pvagw-test.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def gateway_client(gw_port, gw_bcast):
    from p4p.client.thread import Context

    return Context("pva", useenv=False, conf={
        "EPICS_PVA_ADDR_LIST": "127.0.0.1", "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_SERVER_PORT": str(gw_port), "EPICS_PVA_BROADCAST_PORT": str(gw_bcast)})


def test_gateway_shares_one_subscription_and_keeps_the_hidden_truth(tmp_path):
    ioc = OwnIoc({"TWIN_INSTRUCTORS": "alice"}).start()
    gw = None
    clients = []
    try:
        out = tmp_path / "ops"
        made = subprocess.run([str(BINARY), "ops", "--out", str(out), "--expand-prefix", ioc.prefix], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        gw_port, gw_bcast = free_port(), free_port()
        config = gateway_config(out, ioc, gw_port, gw_bcast)
        log = open(tmp_path / "pvagw.log", "w")
        gw = subprocess.Popen([sys.executable, "-m", "p4p.gw", str(config)], cwd=config.parent,
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        probe = gateway_client(gw_port, gw_bcast)
        clients.append(probe)
        wait_for("the gateway serving", lambda: _get(probe, ioc.pv("ORBITCC:rdBpm")) is not None, timeout=30)
        probe.close()
        clients.clear()

        updates = [0] * MONITORS
        subs = []
        for k in range(MONITORS):
            ctx = gateway_client(gw_port, gw_bcast)
            clients.append(ctx)

            def seen(value, k=k):
                updates[k] += 1
            subs.append(ctx.monitor(ioc.pv("ORBITCC:rdBpm"), seen))
        wait_for(f"{MONITORS} monitors updating", lambda: min(updates) >= 2, timeout=60)

        ca = ioc.ca("observer")
        conns, chans = ioc.ca_pvs(ca, "TWIN:PVA:CLIENTS", "TWIN:PVA:CHANNELS")
        time.sleep(1.5)  # the counts are posted once a second
        assert conns.read().data[0] == 1, "the twin serves the gateway only"
        assert chans.read().data[0] == 1, "one upstream channel for the 50 monitors (and the probe's get)"

        operator = clients[0]
        operator.put(ioc.pv("HS1PD1R:set"), 0.05, timeout=10)
        (rdbk,) = ioc.ca_pvs(ca, "HS1PD1R:rdbk")
        wait_for("the write applied", lambda: abs(rdbk.read().data[0] - 0.05) < 1e-12)
        with pytest.raises(Exception):
            operator.put(ioc.pv("TWIN:Q3M2T8R:x:set"), 1e-4, timeout=10)
        (writes,) = ioc.ca_pvs(ioc.ca("alice"), "TWIN:Q3M2T8R:x:set")
        assert writes.read().data[0] == 0.0
        for s in subs:
            s.close()
    finally:
        for ctx in clients:
            ctx.close()
        if gw is not None:
            terminate(gw)
        ioc.stop()


def _get(ctx, name):
    try:
        return ctx.get(name, timeout=1.0)
    except Exception:
        return None
