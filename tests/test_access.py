"""Access security end to end: the hidden truth is instructors' only, the
machine's controls are the operators', read-only mode refuses every write.
caproto presents a chosen user name over CA; p4p presents this process's
user over PVA (QSRV2 checks puts, the twin's PVA guard checks reads)."""
import pytest

from conftest import client_users
from ops_helpers import OwnIoc, wait_for

OFFSET = "TWIN:Q3M2T8R:x:set"
ROLL = "TWIN:Q3M2T8R:roll:set"
CONVERTER = "HS1PD1R:set"


def status(response):
    return response.status.name


@pytest.fixture
def twin_alice():
    """A twin whose only instructor is alice (not this process's user)."""
    ioc = OwnIoc({"TWIN_INSTRUCTORS": "alice"}).start()
    yield ioc
    ioc.stop()


def test_hidden_truth_is_refused_to_others_and_written_by_the_instructor(twin_alice):
    ioc = twin_alice
    bob = ioc.ca("bob")
    offset, roll, converter, writes = ioc.ca_pvs(bob, OFFSET, ROLL, CONVERTER, "TWIN:MODEL:WRITES")
    writes0 = writes.read().data[0]
    assert int(offset.access_rights) == 0, "neither read nor write"
    assert int(roll.access_rights) == 0, "a roll is hidden truth too"
    (trip,) = ioc.ca_pvs(bob, "TWIN:FAULT:Q1PDR:trip")
    assert int(trip.access_rights) == 0, "faults are the instructors'"
    assert int(converter.access_rights) == 3, "read and write"
    assert status(offset.write([5e-5], wait=True, timeout=5)) == "ECA_NOWTACCESS"
    assert status(offset.read(timeout=5)) == "ECA_NORDACCESS"
    # an operator's write to a converter goes through
    assert status(converter.write([0.05], wait=True, timeout=5)) == "ECA_NORMAL"
    wait_for("one write applied", lambda: writes.read().data[0] == writes0 + 1)

    alice = ioc.ca("alice")
    (a_offset,) = ioc.ca_pvs(alice, OFFSET)
    assert a_offset.read().data[0] == 0.0, "bob's refused write changed nothing"
    assert status(a_offset.write([5e-5], wait=True, timeout=5)) == "ECA_NORMAL"
    assert a_offset.read().data[0] == pytest.approx(5e-5, abs=1e-15)
    wait_for("alice's write applied", lambda: writes.read().data[0] == writes0 + 2)

    pva = ioc.pva()  # this process's user: not an instructor here
    with pytest.raises(Exception, match="not permitted"):
        pva.put(ioc.pv(OFFSET), 1e-4, timeout=5)
    with pytest.raises(Exception, match="not permitted"):
        pva.get(ioc.pv(OFFSET), timeout=5)
    pva.put(ioc.pv("HS1PD2R:set"), 0.07, timeout=5)
    assert float(pva.get(ioc.pv("HS1PD2R:rdbk"), timeout=5)) == pytest.approx(0.07)
    assert a_offset.read().data[0] == pytest.approx(5e-5, abs=1e-15)
    # configuration fields: nobody, instructors included
    (a_drvh,) = ioc.ca_pvs(alice, CONVERTER + ".DRVH")
    assert status(a_drvh.write([0.5], wait=True, timeout=5)) == "ECA_NOWTACCESS"


def test_the_instructor_over_pva():
    ioc = OwnIoc({"TWIN_INSTRUCTORS": ",".join(client_users())}).start()
    try:
        pva = ioc.pva()
        pva.put(ioc.pv(OFFSET), 2e-5, timeout=5)
        assert float(pva.get(ioc.pv(OFFSET), timeout=5)) == pytest.approx(2e-5)
    finally:
        ioc.stop()


def test_read_only_mode_refuses_every_write_while_reads_and_monitors_work():
    ioc = OwnIoc({"TWIN_READONLY": "1", "TWIN_INSTRUCTORS": "alice"}).start()
    try:
        for user in ("bob", "alice"):
            ctx = ioc.ca(user)
            converter, rf = ioc.ca_pvs(ctx, CONVERTER, "MCLKHX251C:freq")
            assert status(converter.write([0.05], wait=True, timeout=5)) == "ECA_NOWTACCESS"
            assert status(rf.write([499600.0], wait=True, timeout=5)) == "ECA_NOWTACCESS"
            assert converter.read().data[0] == 0.0
        (a_offset,) = ioc.ca_pvs(ioc.ca("alice"), OFFSET)
        assert status(a_offset.write([1e-5], wait=True, timeout=5)) == "ECA_NOWTACCESS"
        pva = ioc.pva()
        with pytest.raises(Exception, match="not permitted"):
            pva.put(ioc.pv(CONVERTER), 0.05, timeout=5)
        assert float(pva.get(ioc.pv(CONVERTER), timeout=5)) == 0.0
        # monitors keep flowing: the heartbeat over CA and PVA
        (beat,) = ioc.ca_pvs(ioc.ca("bob"), "TWIN:HEARTBEAT")
        seen = []
        sub = beat.subscribe()
        def on_beat(_sub, r):
            seen.append(r.data[0])

        sub.add_callback(on_beat)  # caproto keeps a weak reference
        pva_seen = []
        mon = pva.monitor(ioc.pv("TWIN:HEARTBEAT"), lambda v: pva_seen.append(int(v)))
        try:
            wait_for("3 heartbeats over CA and PVA", lambda: len(set(seen)) >= 3 and len(set(pva_seen)) >= 3,
                     timeout=10)
        except AssertionError as e:
            raise AssertionError(f"{e}: CA {seen}, PVA {pva_seen}") from None
        mon.close()
        sub.clear()
        assert "READ-ONLY" in open(ioc_acf(ioc)).read()
    finally:
        ioc.stop()


def ioc_acf(ioc):
    for line in ioc.output().splitlines():
        if "asSetFilename" in line:
            return line.split('"')[1]
    raise AssertionError("no asSetFilename in the IOC output")
