"""Every PV that HZB's published BESSY II clients use (the list in
tests/clients/hzb_client_pvs.json, from shared/notes/hzb-client-pvs.md)
connects with the field type, units and element count the client needs.

One twin on ports of its own; the CA side is read by pyepics in a client
process of its own (tests/clients/ca_metadata.py, all channels connecting in
parallel), the PVA-only tables by p4p in this process on the twin's ports.
All mismatches are reported in one assertion.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from store_helpers import StoreIoc

PV_LIST = ROOT / "tests" / "clients" / "hzb_client_pvs.json"
CA_CLIENT = ROOT / "tests" / "clients" / "ca_metadata.py"
CONNECT_TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def twin():
    ioc = StoreIoc({}, prefix="TWIN:").start()
    try:
        yield ioc
    finally:
        ioc.stop()


def ca_metadata(ioc, names):
    env = dict(os.environ)
    env.update(ioc.env)
    out = subprocess.run([sys.executable, str(CA_CLIENT), str(CONNECT_TIMEOUT_S)],
                         input=json.dumps([ioc.prefix + n for n in names]), env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {n: got[ioc.prefix + n] for n in names}


def ca_mismatches(entry, got):
    """What differs between one list entry and what the client saw."""
    if not got["connected"]:
        return ["does not connect"]
    bad = []
    types = entry["type"] if isinstance(entry["type"], list) else [entry["type"]]
    if got["type"] not in types:
        bad.append(f"type {got['type']}, expected {' or '.join(types)}")
    if entry.get("count") is not None and got["count"] != entry["count"]:
        bad.append(f"{got['count']} elements, expected {entry['count']}")
    if entry.get("min_count") is not None and got["count"] < entry["min_count"]:
        bad.append(f"{got['count']} elements, expected at least {entry['min_count']}")
    if entry.get("units") is not None and got["units"] != entry["units"]:
        bad.append(f"EGU {got['units']!r}, expected {entry['units']!r}")
    if entry.get("enum_strs") is not None:
        choices = got["enum_strs"] or []
        want = entry["enum_strs"]
        if choices[:len(want)] != want:
            bad.append(f"states {choices}, expected {want} first")
    if "value" in entry and got["value"] != entry["value"]:
        bad.append(f"value {got['value']!r}, expected {entry['value']!r}")
    return bad


def pva_mismatches(ioc, entries):
    from p4p.client.thread import Context

    conf = {k: v for k, v in ioc.env.items() if k.startswith("EPICS_PVA")}
    ctx = Context("pva", conf=conf, useenv=False)
    bad = []
    try:
        for entry in entries:
            try:
                value = ctx.get(ioc.prefix + entry["pv"], timeout=CONNECT_TIMEOUT_S)
            except Exception as exc:  # TimeoutError, RemoteError
                bad.append(f"{entry['pv']} (PVA): {type(exc).__name__}: {exc}")
                continue
            columns = list(value["value"].keys()) if "value" in value else []
            missing = [c for c in entry["nttable_columns"] if c not in columns]
            if missing:
                bad.append(f"{entry['pv']} (PVA): columns {columns}, missing {missing}")
            rows = entry.get("rows")
            if rows is not None and columns and len(value["value"][columns[0]]) != rows:
                bad.append(f"{entry['pv']} (PVA): {len(value['value'][columns[0]])} rows, expected {rows}")
    finally:
        ctx.close()
    return bad


def test_every_hzb_client_pv_connects_as_the_client_needs(twin):
    spec = json.loads(PV_LIST.read_text())
    started = time.monotonic()
    got = ca_metadata(twin, [e["pv"] for e in spec["ca"]])
    bad = []
    for entry in spec["ca"]:
        bad += [f"{entry['pv']}: {m}" for m in ca_mismatches(entry, got[entry["pv"]])]
    bad += pva_mismatches(twin, spec["pva"])
    elapsed = time.monotonic() - started
    assert not bad, (f"{len(bad)} mismatches among {len(spec['ca'])} CA and {len(spec['pva'])} PVA PVs "
                     f"({elapsed:.1f} s):\n" + "\n".join(bad))
