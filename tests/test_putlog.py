"""The put log: every accepted client put over CA and PVA, with user and
host, in the store's put_log exactly once and in order, surviving a
restart (MongoDB-wire server SecantusDB)."""
import pymongo
import pytest

from conftest import client_users
from ops_helpers import OwnIoc, wait_for

CONVERTERS = ["HS1PD1R:set", "HS1PD2R:set", "VS2P1D2R:set"]


def put_log(mongo):
    db = pymongo.MongoClient(mongo.uri, serverSelectionTimeoutMS=5000)["bessy2_twin"]
    # _id = <run id: start time, hex>-<sequence>: chronological across runs
    return list(db["put_log"].find().sort("_id", 1))


def test_every_put_is_logged_once_in_order_with_user_and_host_and_survives_a_restart(mongo):
    prefix = "PL:"
    ioc = OwnIoc(mongo.env(), prefix=prefix).start()
    expected = []
    try:
        users = {u: ioc.ca(u) for u in ("alice", "bob")}
        pvs = {u: ioc.ca_pvs(ctx, *CONVERTERS) for u, ctx in users.items()}
        pva = ioc.pva()
        for k in range(100):
            value = round(0.001 * (k + 1), 6)
            channel = CONVERTERS[k % len(CONVERTERS)]
            if k % 5 == 4:  # every fifth over PVA
                pva.put(prefix + channel, value, timeout=5)
                expected.append((client_users()[0], "pva", channel, value))
            else:
                user = "alice" if k % 2 else "bob"
                pv = pvs[user][k % len(CONVERTERS)]
                assert pv.write([value], wait=True, timeout=5).status.name == "ECA_NORMAL"
                expected.append((user, "ca", channel, value))
        (last,) = ioc.ca_pvs(users["alice"], "TWIN:PUTLOG:LAST")
        text = bytes(last.read().data).rstrip(b"\0").decode()
        user, protocol, channel, _ = expected[-1]
        assert f" {user}@" in text and f" {protocol} {prefix}{channel} " in text, text
        wait_for("100 puts in the store", lambda: len(put_log(mongo)) >= 100, timeout=30)
    finally:
        ioc.stop()
    entries = put_log(mongo)
    assert len(entries) == 100, f"{len(entries)} entries"
    assert len({e["_id"] for e in entries}) == 100
    for e, (user, protocol, channel, value) in zip(entries, expected):
        assert e["user"] == user and e["protocol"] == protocol, (e, user, protocol)
        assert e["pv"] == f"{prefix}{channel}", e
        assert float(e["new"]) == pytest.approx(value), e
        assert e["host"] == ("testhost" if protocol == "ca" else "127.0.0.1"), e
    assert [e["at_ms"] for e in entries] == sorted(e["at_ms"] for e in entries)
    # a restart on the same store keeps the log and appends to it
    ioc = OwnIoc(mongo.env(), prefix=prefix).start()
    try:
        (pv,) = ioc.ca_pvs(ioc.ca("carol"), CONVERTERS[0])
        assert pv.write([0.5], wait=True, timeout=5).status.name == "ECA_NORMAL"
        wait_for("101 puts", lambda: len(put_log(mongo)) == 101, timeout=30)
    finally:
        ioc.stop()
    entries = put_log(mongo)
    assert [e["user"] for e in entries[:100]] == [u for u, *_ in expected]
    assert entries[100]["user"] == "carol" and float(entries[100]["new"]) == 0.5
