"""The operations artefacts in ops/ (`twin-ioc ops`: Phoebus screens, the
Phoebus alarm configuration, the Archiver Appliance request) against the
running BESSY II twin: every PV they name connects (CA; the NTTables over
PVA), the files have the structure their consumers read, and the alarm
guidance states the limits the records really have."""
import json
import time
import xml.etree.ElementTree as ET

import epics
import pytest

from conftest import ROOT

OPS = ROOT / "ops"
SCREENS = sorted((OPS / "screens").glob("*.bob"))
ALARMS = OPS / "alarm" / "twin_alarms.xml"
ARCHIVE_REQUEST = OPS / "archiver" / "archive_request.json"
ARCHIVE_LIST = OPS / "archiver" / "archive_pvs.txt"
CONNECT_TIMEOUT_S = 30.0
# widget types and the versions Phoebus 4.7 writes
WIDGET_VERSIONS = {
    "label": "2.0.0", "textupdate": "2.0.0", "textentry": "3.0.0", "action_button": "3.0.0", "led": "2.0.0",
    "xyplot": "3.0.0", "table": "2.0.0", "group": "2.0.0", "embedded": "2.0.0", "navtabs": "2.0.0",
}
# the children of an alarm PV in the order of Phoebus' XmlModelWriter
PV_CHILDREN = ["description", "enabled", "latching", "annunciating", "delay", "count", "filter",
               "guidance", "display", "command"]
PVA = "pva://"


def screen_pvs(path):
    """Every PV a screen names: widgets, write actions, plot traces."""
    root = ET.parse(path).getroot()
    tags = ("pv_name", "x_pv", "y_pv", "err_pv")
    return {el.text.strip() for tag in tags for el in root.iter(tag) if el.text and el.text.strip()}


def alarm_pvs():
    return {pv.get("name") for pv in ET.parse(ALARMS).getroot().iter("pv")}


def archive_rows():
    return json.loads(ARCHIVE_REQUEST.read_text())


def artefact_pvs():
    """{artefact name: set of PV names with $(P)}."""
    out = {path.name: screen_pvs(path) for path in SCREENS}
    out[ALARMS.name] = alarm_pvs()
    out[ARCHIVE_REQUEST.name] = {row["pv"] for row in archive_rows()}
    out[ARCHIVE_LIST.name] = set(ARCHIVE_LIST.read_text().split())
    return out


def connect_all(names, timeout=CONNECT_TIMEOUT_S):
    """CA channels of all names, created first, connecting in parallel:
    {name: PV}; the caller disconnects them."""
    pvs = {n: epics.PV(n, auto_monitor=False, connection_timeout=timeout) for n in names}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(pv.connected for pv in pvs.values()):
        time.sleep(0.05)
    return pvs


def disconnect_all(pvs):
    for pv in pvs.values():
        pv.disconnect()


def test_the_artefacts_are_there():
    assert {p.name for p in SCREENS} == {
        "twin_overview.bob", "twin_orbit.bob", "twin_power_converters.bob", "twin_bba.bob", "twin_model.bob"}
    for name, pvs in artefact_pvs().items():
        assert pvs, f"{name} names no PV"
        assert all(pv.startswith("$(P)") or pv.startswith(PVA + "$(P)") for pv in pvs), name


def test_every_pv_of_every_artefact_connects(selftest_ioc, pva):
    per_artefact = artefact_pvs()
    names = set().union(*per_artefact.values())
    ca = {n.replace("$(P)", selftest_ioc.prefix) for n in names if not n.startswith(PVA)}
    tables = {n[len(PVA):].replace("$(P)", selftest_ioc.prefix) for n in names if n.startswith(PVA)}
    assert tables, "the orbit screen shows the orbit NTTable"
    pvs = connect_all(ca)
    try:
        missing = sorted(n for n, pv in pvs.items() if not pv.connected)
    finally:
        disconnect_all(pvs)
    assert not missing, f"{len(missing)} of {len(ca)} CA PVs do not connect: {missing[:20]}"
    for table in sorted(tables):
        value = pva.get(table, timeout=CONNECT_TIMEOUT_S)
        assert "labels" in value and "value" in value, f"{table} is no NTTable"


@pytest.mark.parametrize("path", SCREENS, ids=[p.name for p in SCREENS])
def test_screens_are_phoebus_displays(path):
    root = ET.parse(path).getroot()
    assert (root.tag, root.get("version")) == ("display", "2.0.0")
    children = [c.tag for c in root]
    assert children[:2] == ["name", "macros"], children[:4]
    assert root.find("macros/P") is not None and root.find("macros/P").text == "TWIN:"
    widgets = list(root.iter("widget"))
    assert widgets
    for w in widgets:
        kind = w.get("type")
        assert WIDGET_VERSIONS.get(kind) == w.get("version"), (kind, w.get("version"))
        for tag in ("name", "x", "y", "width", "height"):
            assert w.find(tag) is not None, (kind, tag)
        if kind in ("textupdate", "textentry", "led", "table"):
            assert w.find("pv_name") is not None and w.find("pv_name").text, kind
        for action in w.iter("action"):
            if action.get("type") == "write_pv":
                assert [c.tag for c in action] == ["description", "pv_name", "value"]
            if action.get("type") == "open_display":
                assert (path.parent / action.find("file").text).exists()


def test_no_screen_names_an_instructor_only_pv():
    names = set().union(*artefact_pvs().values())
    assert "$(P)TWIN:BBA:clear" not in names
    assert not any(":x:set" in n or ":y:set" in n for n in names), "offsets are the hidden truth"


def test_alarm_configuration_has_phoebus_structure():
    root = ET.parse(ALARMS).getroot()
    assert (root.tag, root.get("name")) == ("config", "Twin")
    components = list(root)
    assert [c.get("name") for c in components][:5] == ["Beam", "Model", "Store", "BBA", "Power converters"]
    pvs = list(root.iter("pv"))
    # beam current and lifetime, model/store/BBA/SOFB/shadow status, every modelled converter
    assert len(pvs) == 2 + 5 + 179
    parents = {child: parent for parent in root.iter() for child in parent}
    for pv in pvs:
        assert parents[pv].tag == "component"
        tags = [c.tag for c in pv]
        assert [t for t in PV_CHILDREN if t in tags] == tags, tags
        for required in ("description", "enabled", "latching", "annunciating", "guidance", "display"):
            assert required in tags, (pv.get("name"), required)
        assert pv.find("enabled").text == "true" and pv.find("annunciating").text == "false"
        assert pv.find("guidance/title").text == "Limits"
        assert pv.find("display/details").text.endswith(".bob")
        assert (ALARMS.parent / pv.find("display/details").text).resolve().exists()


def test_alarm_guidance_states_the_records_limits(selftest_ioc):
    expected = {}
    for pv in ET.parse(ALARMS).getroot().iter("pv"):
        name = pv.get("name").replace("$(P)", selftest_ioc.prefix)
        for pair in pv.find("guidance/details").text.split(" "):
            field, value = pair.split("=")
            expected[f"{name}.{field}"] = value
    assert len(expected) >= 179 * 3
    pvs = connect_all(expected)
    try:
        wrong = []
        for channel, want in expected.items():
            try:
                want = float(want)
                got = pvs[channel].get(timeout=10, use_monitor=False)
                ok = got is not None and float(got) == want
            except ValueError:
                got = pvs[channel].get(timeout=10, use_monitor=False, as_string=True)
                ok = got == want
            if not ok:
                wrong.append((channel, want, got))
    finally:
        disconnect_all(pvs)
    assert not wrong, wrong[:20]


def test_archiver_request_is_a_bulk_archive_pv_body():
    rows = archive_rows()
    assert isinstance(rows, list) and rows
    for row in rows:
        assert set(row) == {"pv", "samplingperiod", "samplingmethod"}, row
        assert isinstance(row["samplingperiod"], str) and float(row["samplingperiod"]) > 0, row
        assert row["samplingmethod"] in {"MONITOR", "SCAN"}, row
    names = [row["pv"] for row in rows]
    assert len(set(names)) == len(names), "each PV once"
    assert ARCHIVE_LIST.read_text().split() == names
    methods = {row["pv"]: row["samplingmethod"] for row in rows}
    assert methods["$(P)ORBITCC:rdPos"] == "SCAN" and methods["$(P)CUMZR:rdCur"] == "MONITOR"


def test_the_ioc_describes_its_pvs_over_pva(selftest_ioc, pva):
    """TWIN:PVS: one row per name a client can use, with type, access,
    units and description; every generated record of the ops files is in it."""
    table = pva.get(selftest_ioc.pv("TWIN:PVS"), timeout=10)
    labels = ["name", "type", "access", "units", "description"]
    assert list(table["labels"]) == labels
    columns = [list(table["value"][c]) for c in labels]
    rows = {name: rest for name, *rest in zip(*columns)}
    rows = {k: tuple(v) for k, v in rows.items()}
    assert len(rows) == len(columns[0]) > 4000, "each name once"
    assert rows["HS1PD1R:set"][:3] == ("ao", "operators", "A")
    assert rows["HS1PD1R:rdbk"][:2] == ("ai", "read")
    assert rows["TWIN:Q3M2T8R:x:set"][1] == "instructors"
    assert rows["CUMZR:rdCur"][2] == "mA" and rows["TOPUPCC:rdCur"] == rows["CUMZR:rdCur"], "aliases too"
    assert rows["TWIN:PUTLOG:LAST"][0] == "waveform", "the health records too"
    names = set().union(*artefact_pvs().values())
    bare = {n.replace("pva://", "").replace("$(P)", "").split(".")[0] for n in names}
    missing = sorted(n for n in bare if n not in rows and n != "ORBITCC:rdBpm")  # a group, not a record
    assert not missing, missing[:10]
