"""Issue 12, acceptance 3: a corrupted store never starts the twin in the
wrong state silently. Each case either refuses to start with a message
naming the file (or document) and the field, or, with --reset-store,
starts from design, says so in the log and TWIN:STORE:NOTICE, and keeps
the old state for inspection. A torn last line of the write log is
reported and skipped; nothing is lost or duplicated."""
import json
import re
import shutil

import pymongo
import pytest

from store_helpers import StoreIoc, twin_cli

WRITES = [("HS4P2D1R:set", 0.1), ("Q1PDR:set", 219.5), ("TWIN:Q1M1D1R:x:set", 1e-4), ("MCLKHX251C:freq", 499636.9)]
DESIGN_Q1PDR = None  # read from a fresh twin


def json_edit(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def set_value(name, value):
    def edit(docs):
        for d in docs:
            if d["_id"] == name:
                d["value"] = value
    return edit


def first_drift(lattice):
    return next(e for e in lattice["sequences"] if e.get("type") == "Drift" and "length" in e)


def flip_byte(path):
    b = bytearray(path.read_bytes())
    b[20] = 0xFF
    path.write_bytes(bytes(b))


def truncate(path):
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


# case -> (file to corrupt, corruption, words the refusal must name)
CASES = {
    "non-UTF-8 setpoints": ("setpoints.json", flip_byte, ["setpoints.json", "UTF-8"]),
    "truncated setpoints": ("setpoints.json", truncate, ["setpoints.json", "line"]),
    "wrong type": ("setpoints.json", lambda p: json_edit(p, lambda d: d[0].update(value="high")),
                   ["setpoints.json", "value", "high"]),
    "missing field": ("setpoints.json", lambda p: json_edit(p, lambda d: d[0].pop("value")),
                      ["setpoints.json", "value"]),
    "converter out of range": ("setpoints.json", lambda p: json_edit(p, set_value("Q1PDR:set", 1e6)),
                               ["Q1PDR:set", "value", "drive limits"]),
    "offset out of range": ("setpoints.json", lambda p: json_edit(p, set_value("TWIN:Q1M1D1R:x:set", 0.5)),
                            ["TWIN:Q1M1D1R:x:set", "value", "drive limits"]),
    "duplicate id": ("setpoints.json", lambda p: json_edit(p, lambda d: d.append(dict(d[0]))),
                     ["setpoints.json", "HS4P2D1R:set", "twice"]),
    "truncated lattice": ("lattices.json", truncate, ["lattices.json"]),
    "negative drift length": ("lattices.json", lambda p: json_edit(p, lambda d: first_drift(d).update(length=-5)),
                              ["lattice", "length", "-5"]),
    "energy <= 0": ("lattices.json", lambda p: json_edit(p, lambda d: d.update(default_energy=-1)),
                    ["lattice", "default_energy", "-1"]),
    "non-finite strength": ("lattices.json", lambda p: p.write_text(
        re.sub(r'("main_multipole_strength": *)[-0-9.e]+', r"\g<1>1e999", p.read_text(), count=1)),
        ["lattices.json"]),
    "unknown converter": ("magnets.json", lambda p: json_edit(p, lambda d: d[0].update(pc="NOPE")),
                          ["NOPE"]),
}


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    """A file store after four writes and a clean stop."""
    d = tmp_path_factory.mktemp("good") / "store"
    ioc = StoreIoc({"TWIN_STORE_DIR": str(d)}).start()
    try:
        design = ioc.client([("get", "TWIN:MODEL:QX")])[0]
        assert all(ioc.client([("put", n, v) for n, v in WRITES]))
    finally:
        assert ioc.stop() == 0
    return d, design


def copy_store(good, tmp_path):
    d = tmp_path / "store"
    shutil.copytree(good, d)
    return d


def refusal(store_env):
    with pytest.raises(RuntimeError) as err:
        StoreIoc(store_env).start()
    return str(err.value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_file_store_refuses_to_start_naming_file_and_field(good_store, tmp_path, case):
    name, corrupt, words = CASES[case]
    d = copy_store(good_store[0], tmp_path)
    corrupt(d / name)
    before = sorted(p.name for p in d.iterdir())
    message = refusal({"TWIN_STORE_DIR": str(d)})
    first_error = next(line for line in message.splitlines() if "ERROR" in line)
    for w in words:
        assert w in first_error, (w, first_error)
    assert "--reset-store" in first_error or "twin-ioc import" in first_error, first_error
    assert sorted(p.name for p in d.iterdir()) == before, "a refused start touches no file"


@pytest.mark.parametrize("case", ["non-UTF-8 setpoints", "negative drift length", "duplicate id"])
def test_reset_store_starts_from_design_and_says_so(good_store, tmp_path, case):
    name, corrupt, _ = CASES[case]
    d = copy_store(good_store[0], tmp_path)
    corrupt(d / name)
    corrupted = (d / name).read_bytes()
    ioc = StoreIoc({"TWIN_STORE_DIR": str(d)})
    ioc.start_args = ["--reset-store"]
    ioc.start()
    try:
        notice, q1, qx = ioc.client([("gets", "TWIN:STORE:NOTICE"), ("get", "Q1PDR:set"), ("get", "TWIN:MODEL:QX")])
        assert "started from design" in notice and "reset-" in notice
        assert qx == pytest.approx(good_store[1], abs=1e-9), "design tunes"
        assert q1 != 219.5, "the stored write is not applied"
        assert "STARTING FROM DESIGN" in ioc.ioc.output()
    finally:
        assert ioc.stop() == 0
    aside = [p for p in d.iterdir() if p.name.startswith("reset-")]
    assert len(aside) == 1 and (aside[0] / name).read_bytes() == corrupted, "the old state is kept"


def test_torn_log_line_is_reported_skipped_and_exportable(good_store, tmp_path):
    d = copy_store(good_store[0], tmp_path)
    log = d / "setpoint_log.jsonl"
    entries = log.read_text().splitlines()
    with log.open("a") as f:
        f.write('{"_id":"torn-1","name":"HS4P2D1R:set","val')
    ioc = StoreIoc({"TWIN_STORE_DIR": str(d)}).start()
    try:
        notice, hs = ioc.client([("gets", "TWIN:STORE:NOTICE"), ("get", "HS4P2D1R:set")])
        assert "torn" in notice and hs == 0.1, (notice, hs)
        assert "torn" in ioc.ioc.output()
        assert all(ioc.client([("put", "HS4P2D1R:set", 0.2)]))
    finally:
        assert ioc.stop() == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["_id"] for e in lines[: len(entries)]] == [json.loads(e)["_id"] for e in entries]
    assert len({e["_id"] for e in lines}) == len(lines) == len(entries) + 1, "nothing lost, nothing twice"
    out = twin_cli("export", f"--out={tmp_path / 'export'}", env={"TWIN_STORE_DIR": str(d)})
    assert out.returncode == 0, out.stderr
    history = json.loads((tmp_path / "export" / "setpoint_log.json").read_text())
    assert [e["value"] for e in history if e["name"] == "HS4P2D1R:set"] == [0.1, 0.2]


def test_corrupt_mongodb_documents_refuse_then_reset_starts_from_design(mongo):
    env = mongo.env()
    assert twin_cli("import", env=env).returncode == 0
    db = pymongo.MongoClient(mongo.uri)["bessy2_twin"]
    db.setpoints.insert_one({"_id": "Q1PDR:set", "value": 1e6, "unit": "A", "updated_at_ms": 0})
    message = refusal(env)
    assert "Q1PDR:set" in message and "value" in message and "drive limits" in message
    db.setpoints.delete_one({"_id": "Q1PDR:set"})
    db.lattices.update_one({}, {"$set": {"default_energy": 0}})
    message = refusal(env)
    assert "default_energy" in message
    ioc = StoreIoc(env)
    ioc.start_args = ["--reset-store"]
    ioc.start()
    try:
        notice, = ioc.client([("gets", "TWIN:STORE:NOTICE")])
        assert "started from design" in notice
    finally:
        assert ioc.stop() == 0
    aside = [c for c in db.list_collection_names() if c.startswith("lattices_reset_")]
    assert aside and db[aside[0]].find_one()["default_energy"] == 0, "the old lattice is kept"
