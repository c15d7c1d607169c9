"""Lattice and machine state in a store: a real MongoDB-wire server
(SecantusDB) and the embedded file store, driven over CA."""
import json
import pathlib
import signal
import tempfile
import time

import pymongo
import pytest

from conftest import ROOT
from store_helpers import StoreIoc, twin_cli

WRITES = [("HS4P2D1R:set", 0.1), ("VS2P1D2R:set", -0.05), ("Q1PDR:set", 219.5), ("MCLKHX251C:freq", 499636.9)]



def wait_flushed(ioc, timeout=40):
    """Waits until the store is back and nothing is pending; returns (status, pending)."""
    deadline = time.monotonic() + timeout
    while True:
        status, pending = ioc.client([("gets", "TWIN:STORE:STATUS"), ("get", "TWIN:STORE:PENDING")])
        if (status == "CONNECTED" and pending == 0) or time.monotonic() > deadline:
            return status, pending
        time.sleep(0.5)


def state(ioc):
    names = [n for n, _ in WRITES] + [n.replace(":set", ":rdbk") for n, _ in WRITES if n.endswith(":set")]
    values = ioc.client([("get", n) for n in names] + [("get", "TWIN:MODEL:QX"), ("get", "TWIN:MODEL:QY")])
    return dict(zip(names + ["QX", "QY"], values))


def write_all(ioc, writes=WRITES):
    assert all(ioc.client([("put", n, v) for n, v in writes]))


def assert_restored(got, writes=WRITES):
    for name, value in writes:
        assert abs(got[name] - value) < 1e-9, (name, got[name], value)
        if name.endswith(":set"):
            assert abs(got[name.replace(":set", ":rdbk")] - value) < 1e-9


def test_round_trip_import_then_serve_from_mongodb(mongo, tmp_path):
    lattice = json.loads((ROOT / "config/bessy2/bessy2_storage_ring_reflat.json").read_text())
    family = {m["name"] for m in json.loads((ROOT / "config/bessy2/accelerator_setup.json").read_text())
              if m["pc"] == "Q1PDR"}
    for e in lattice["sequences"]:
        if e["name"] in family:  # a whole family: one converter drives it
            e["element_configuration"]["magnetic_element"]["coeffs"]["normal_coefficients"][1] *= 1.02
    modified = tmp_path / "modified.json"
    modified.write_text(json.dumps(lattice))
    out = twin_cli("import", f"--lattice={modified}", env=mongo.env())
    assert out.returncode == 0, out.stderr
    ioc = StoreIoc(mongo.env()).start()
    try:
        served = ioc.client([("get", "TWIN:MODEL:QX"), ("get", "TWIN:MODEL:QY"), ("gets", "TWIN:STORE:STATUS")])
        assert "machine loaded from the store" in ioc.ioc.output()
    finally:
        assert ioc.stop() == 0
    offline = json.loads(twin_cli("model", f"--lattice={modified}").stdout)
    design = json.loads(twin_cli("model").stdout)
    assert abs(served[0] - offline["tunes_total"][0]) < 1e-9 and abs(served[1] - offline["tunes_total"][1]) < 1e-9
    assert abs(served[0] - design["tunes_total"][0]) > 1e-3  # it really is the stored lattice
    assert served[2] == "CONNECTED"


def test_restart_restores_state_after_sigterm_and_sigkill_mongodb(mongo):
    check_restart(mongo.env())


def test_restart_restores_state_embedded_store(tmp_path):
    check_restart({"TWIN_STORE_DIR": str(tmp_path / "store")})
    assert (tmp_path / "store" / "setpoints.json").exists()


def check_restart(store_env):
    ioc = StoreIoc(store_env).start()
    write_all(ioc)
    before = state(ioc)
    assert ioc.stop() == 0
    ioc = StoreIoc(store_env).start()
    after = state(ioc)
    assert_restored(after)
    # the same optics: solved from zero after the restart, warm-started
    # from the previous state before it (equal to the solver tolerance)
    assert abs(after["QX"] - before["QX"]) < 1e-12 and abs(after["QY"] - before["QY"]) < 1e-12
    more = [("HS4P2D1R:set", -0.2), ("Q1PDR:set", 218.0)]
    write_all(ioc, more)
    time.sleep(1.5)  # > the 0.5 s persistence window
    ioc.stop(signal.SIGKILL)
    ioc = StoreIoc(store_env).start()
    try:
        assert_restored(state(ioc), more)
    finally:
        assert ioc.stop() == 0


def test_outage_keeps_serving_and_flushes_every_write_once(mongo, tmp_path):
    ioc = StoreIoc(mongo.env()).start()
    try:
        mongo.stop()
        writes = [("HS1PD1R:set", 0.01 * k) for k in range(1, 6)] + [("HS1PD2R:set", -0.03)]
        t0 = time.monotonic()
        write_all(ioc, writes)
        assert time.monotonic() - t0 < 10  # puts complete during the outage
        deadline = time.monotonic() + 15
        while ioc.client([("gets", "TWIN:STORE:STATUS")])[0] != "OUTAGE" and time.monotonic() < deadline:
            time.sleep(0.2)
        status, pending = ioc.client([("gets", "TWIN:STORE:STATUS"), ("get", "TWIN:STORE:PENDING")])
        assert status == "OUTAGE" and pending == len(writes)
        mongo.start()
        assert wait_flushed(ioc) == ("CONNECTED", 0)
    finally:
        assert ioc.stop() == 0
    db = pymongo.MongoClient(mongo.uri)["bessy2_twin"]
    log = sorted(db.setpoint_log.find({}), key=lambda d: d["_id"])
    assert [(d["name"], d["value"]) for d in log] == writes  # all, once, in order
    latest = {d["_id"]: d["value"] for d in db.setpoints.find({})}
    assert latest["HS1PD1R:set"] == 0.05 and latest["HS1PD2R:set"] == -0.03


def test_malformed_store_documents_refuse_to_start(mongo, tmp_path):
    assert twin_cli("import", env=mongo.env()).returncode == 0
    db = pymongo.MongoClient(mongo.uri)["bessy2_twin"]
    db.lattices.update_one({"_id": "BESSY II"}, {"$set": {"sequences.5.length": "long"}})
    ioc = StoreIoc(mongo.env())
    with pytest.raises(RuntimeError) as err:
        ioc.start()
    assert "sequences[5].length" in str(err.value) and "BESSY II" in str(err.value)
    assert twin_cli("import", env=mongo.env()).returncode == 0
    db.setpoints.insert_one({"_id": "Q1PDR:set", "value": "high", "unit": "A", "updated_at_ms": 0})
    with pytest.raises(RuntimeError) as err:
        StoreIoc(mongo.env()).start()
    assert "setpoints" in str(err.value) and "value" in str(err.value)
    store = tmp_path / "files"
    store.mkdir()
    (store / "lattices.json").write_text('{"sequences": [{"type": "Wiggler", "name": "W1"}], "default_energy": 1.7e9}')
    for name in ("magnets", "bpm_config", "bpm_slots"):
        (store / f"{name}.json").write_text("[]")
    with pytest.raises(RuntimeError) as err:
        StoreIoc({"TWIN_STORE_DIR": str(store)}).start()
    assert "sequences[0]" in str(err.value) and "Wiggler" in str(err.value)


def test_store_unreachable_at_startup_then_returns(tmp_path):
    from conftest import free_port
    from store_helpers import MongoServer

    port = free_port()
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    ioc = StoreIoc({"TWIN_STORE_URI": uri}).start()
    server = None
    try:
        status, qx = ioc.client([("gets", "TWIN:STORE:STATUS"), ("get", "TWIN:MODEL:QX")])
        assert status == "OUTAGE" and abs(qx - 17.848) < 1e-3  # serving from config/
        write_all(ioc, [("HS1PD1R:set", 0.02)])
        server = MongoServer.__new__(MongoServer)  # same port as the URI
        server.port, server.path, server.uri, server.proc = port, tempfile.mkdtemp(prefix="secantus-"), uri, None
        server.start()
        assert wait_flushed(ioc) == ("CONNECTED", 0)
    finally:
        assert ioc.stop() == 0
        if server is not None:
            db = pymongo.MongoClient(uri)["bessy2_twin"]
            assert db.setpoints.find_one({"_id": "HS1PD1R:set"})["value"] == 0.02
            server.stop()
