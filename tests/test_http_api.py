"""The HTTP API end to end with a real HTTP client (requests): every
response validates against the served OpenAPI document (openapi-core); a
quadrupole's strength through the lat2db route moves the tunes as the
engine predicts; a batch of 20 steerers is one recompute and gives the
orbit the same writes give over CA; a CA write back after an HTTP write
reaches the monitors; read-only mode and bad input are
refused with a message and change nothing."""
import json
import time

import epics
import pytest
import requests
from openapi_core import OpenAPI
from prometheus_client.parser import text_string_to_metric_families
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from helpers import get, put, wait_for
from ops_helpers import OwnIoc
from twin_helpers import model

MACHINE = "BESSY II"
TIMEOUT_S = 20


@pytest.fixture(scope="module")
def api(selftest_ioc):
    spec = requests.get(selftest_ioc.http + "/openapi.json", timeout=TIMEOUT_S).json()
    openapi = OpenAPI.from_dict(spec)

    def call(method, path, **kw):
        r = requests.request(method, selftest_ioc.http + path, timeout=TIMEOUT_S, **kw)
        openapi.validate_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))
        return r

    call.ioc = selftest_ioc
    return call


def test_every_read_route_answers_as_documented(api):
    assert api("GET", "/health").json()["status"] == "ok"
    snap = api("GET", "/twin/snapshot").json()
    assert snap["status"] == "VALID" and len(snap["physics"]["bpms"]) > 100
    assert abs(snap["physics"]["tunes"]["x"] - get(api.ioc, "TUNEZR:x")) < 1e-9
    names = {s["name"] for s in api("GET", "/twin/setpoints").json()}
    assert "HS1PD1R:set" in names and not any(n.startswith("TWIN:Q") and n.endswith(":x:set") for n in names)
    (doc,) = api("GET", "/machine").json()
    assert doc["id"] == MACHINE and len(doc["sequences"]) > 1000
    assert api("GET", f"/machine/{MACHINE}").json()["name"] == MACHINE
    quads = api("GET", f"/machine/{MACHINE}/quad").json()
    assert len(quads) == 145 and all(q["type"] == "Quadrupole" for q in quads)
    assert api("GET", f"/machine/{MACHINE}/quad/filter", params={"tags": ["none"]}).json() == {"quadrupole": []}
    info = api("GET", "/twin/info").json()
    assert info["machine"] == MACHINE and info["prefix"] == api.ioc.prefix and info["version"].startswith("twin-ioc")
    assert requests.get(api.ioc.http + "/docs/", timeout=TIMEOUT_S).status_code == 200


def scrape(api):
    """/metrics parsed by the Prometheus client's own text parser."""
    r = api("GET", "/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    return {s.name: s.value for f in text_string_to_metric_families(r.text) for s in f.samples}


def test_metrics_parse_as_prometheus_text_and_move_with_writes(api):
    before = scrape(api)
    for name in ["twin_recompute_seconds_count", "twin_recomputes_total", "twin_setpoint_writes_total",
                 "twin_merged_writes_total", "twin_model_valid", "twin_beam_current_microamperes",
                 "twin_store_available", "twin_store_pending_writes", "twin_store_lag_seconds",
                 "twin_pva_clients", "twin_pva_channels"]:
        assert name in before, name
    assert before["twin_model_valid"] == 1 and before["twin_store_available"] == 1
    for i in range(3):
        put(api.ioc, "HS1PD3R:set", 0.01 * (i + 1))
    put(api.ioc, "HS1PD3R:set", 0.0)
    after = scrape(api)
    assert after["twin_setpoint_writes_total"] >= before["twin_setpoint_writes_total"] + 4
    assert after["twin_recomputes_total"] > before["twin_recomputes_total"]
    assert after["twin_recompute_seconds_count"] > before["twin_recompute_seconds_count"]
    assert after["twin_recompute_seconds_sum"] > before["twin_recompute_seconds_sum"]


def test_a_quad_strength_through_lat2db_moves_the_tunes_as_the_engine_predicts(api):
    quad = next(q for q in api("GET", f"/machine/{MACHINE}/quad").json() if q["name"] == "Q1M1D1R")
    k1 = quad["element_configuration"]["magnetic_element"]["main_multipole_strength"]
    updated = json.loads(json.dumps(quad))
    updated["element_configuration"]["magnetic_element"]["main_multipole_strength"] = k1 * 1.01
    try:
        r = api("PUT", f"/machine/{MACHINE}/quad/Q1M1D1R", json={"affected_drift": "-1", "updated_data": updated})
        assert r.status_code == 200, r.text
        expected = model("--k1-scale", "Q1M1D1R=1.01", "--6d")["tunes"]
        tunes = api("GET", "/twin/snapshot").json()["physics"]["tunes"]
        assert abs(tunes["x"] - expected[0]) < 1e-9 and abs(tunes["y"] - expected[1]) < 1e-9, (tunes, expected)
    finally:
        updated["element_configuration"]["magnetic_element"]["main_multipole_strength"] = k1
        assert api("PUT", f"/machine/{MACHINE}/quad/Q1M1D1R",
                   json={"affected_drift": "-1", "updated_data": updated}).status_code == 200


def steerers(n):
    from twin_helpers import MAGNETS
    return [m["pc"] for m in MAGNETS if m["type"] == "Steerer"][:n]


def test_a_batch_of_20_steerers_is_one_recompute_and_equals_the_same_writes_over_ca(api):
    pcs = steerers(20)
    values = {f"{pc}:set": round(0.01 * (k + 1) * (-1) ** k, 6) for k, pc in enumerate(pcs)}
    before = get(api.ioc, "TWIN:MODEL:RECOMPUTES")
    try:
        r = api("PUT", "/twin/setpoints", json={"setpoints": values})
        assert r.status_code == 200 and r.json()["applied"] == 20, r.text
        assert get(api.ioc, "TWIN:MODEL:RECOMPUTES") - before == 1
        for name, value in values.items():
            assert get(api.ioc, name) == pytest.approx(value, abs=1e-12), "the record shows the HTTP write"
        last = bytes(get(api.ioc, "TWIN:PUTLOG:LAST")).rstrip(b"\0").decode()
        assert " http@127.0.0.1 http " in last, "HTTP writes go to the put log"
        orbit_http = list(get(api.ioc, "ORBITCC:rdPos"))
        for name in values:
            put(api.ioc, name, 0.0)
        for name, value in values.items():
            put(api.ioc, name, value)
        # the same setting solved on another path: equal to the solver's tolerance (1e-12 m)
        assert list(get(api.ioc, "ORBITCC:rdPos")) == pytest.approx(orbit_http, abs=1e-3)  # nm
    finally:
        api("PUT", "/twin/setpoints", json={"setpoints": {n: 0.0 for n in values}})


def test_a_ca_write_back_after_an_http_write_reaches_the_monitors(api):
    """The twin posts an HTTP write onto the record itself; a client's later
    write back to the earlier value must still post a monitor (the record's
    deadband reference follows the twin's post), or monitor-driven clients
    (ophyd) keep showing the HTTP value."""
    name = steerers(1)[0] + ":set"
    seen = []
    pv = epics.PV(api.ioc.pv(name), auto_monitor=True, callback=lambda value=None, **_: seen.append(value))
    try:
        assert pv.wait_for_connection(timeout=TIMEOUT_S)
        wait_for("the first monitor", lambda: seen)
        r = api("PUT", "/twin/setpoints", json={"setpoints": {name: 0.5}})
        assert r.status_code == 200, r.text
        wait_for("the HTTP value on the monitor", lambda: seen[-1] == 0.5)
        put(api.ioc, name, 0.0)
        wait_for("the CA write back on the monitor", lambda: seen[-1] == 0.0)
        assert pv.get(use_monitor=True) == 0.0 and get(api.ioc, name) == 0.0
    finally:
        pv.clear_callbacks()
        pv.disconnect()
        api("PUT", "/twin/setpoints", json={"setpoints": {name: 0.0}})


def test_bad_input_is_refused_with_a_message_and_changes_nothing(api):
    recomputes = get(api.ioc, "TWIN:MODEL:RECOMPUTES")
    cases = [
        (b'{"setpoints": {"HS1PD1R:set": ', 400),  # malformed JSON
        (b'{"setpoints": {"NOSUCH:set": 1.0}}', 404),
        (b'{"setpoints": {"HS1PD1R:set": NaN}}', 400),
        (b'{"setpoints": {"HS1PD1R:set": 1e9}}', 422),  # beyond the converter
        (b'{"setpoints": {"TWIN:Q3M2T8R:x:set": 1e-5}}', 403),  # the hidden truth
        (b'{"setpoints": {"HS1PD1R:set": 0.1, "Q1PDR:set": 1e9}}', 422),  # all or none
        (b'{"setpoints": {"HS1PD1R:set": ' + b"1" * 200_000 + b"}}", 413),  # oversized
    ]
    for body, status in cases:
        r = requests.put(api.ioc.http + "/twin/setpoints", data=body, headers={"Content-Type": "application/json"},
                         timeout=TIMEOUT_S)
        assert r.status_code == status, (body[:60], r.status_code, r.text)
        if status != 413:
            assert r.json()["error"], body[:60]
    r = api("PUT", f"/machine/{MACHINE}/quad/NOSUCH", json={"updated_data": {"name": "NOSUCH"}})
    assert r.status_code == 404 and "NOSUCH" in r.json()["error"]
    assert api("GET", "/machine/NOSUCH").status_code == 404
    assert get(api.ioc, "HS1PD1R:set") == 0.0
    assert get(api.ioc, "TWIN:MODEL:RECOMPUTES") == recomputes
    assert api("GET", "/health").json()["status"] == "ok"


def test_read_only_mode_refuses_http_writes_with_403():
    ioc = OwnIoc({"TWIN_READONLY": "1"}).start()
    try:
        r = requests.put(ioc.ioc.http + "/twin/setpoints", json={"setpoints": {"HS1PD1R:set": 0.1}}, timeout=TIMEOUT_S)
        assert r.status_code == 403 and "read-only" in r.json()["error"]
    finally:
        ioc.stop()


def test_bba_and_history_over_http():
    ioc = OwnIoc().start()
    try:
        spec = requests.get(ioc.ioc.http + "/openapi.json", timeout=TIMEOUT_S).json()
        openapi = OpenAPI.from_dict(spec)

        def call(method, path, **kw):
            r = requests.request(method, ioc.ioc.http + path, timeout=TIMEOUT_S, **kw)
            openapi.validate_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))
            return r

        state = call("GET", "/bba").json()
        assert state["status"] == "IDLE" and len(state["quads"]) == 144
        assert call("POST", "/bba/run/NOSUCH").status_code == 404
        r = call("POST", "/bba/run/Q3M2T8R")
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 60
        while call("GET", "/bba").json()["status"] in ("IDLE", "RUNNING") and time.monotonic() < deadline:
            time.sleep(0.2)
        state = call("GET", "/bba").json()
        assert state["status"] == "DONE", state["message"]
        (q,) = [q for q in state["quads"] if q["name"] == "Q3M2T8R"]
        assert abs(q["offset_x_m"]) < 1e-6 and q["sigma_x_m"] is not None, q  # no offsets: centre at 0
        # (openapi-core reads a text/csv body as bytes: checked by hand)
        r = requests.get(ioc.ioc.http + "/bba/results.csv", timeout=TIMEOUT_S)
        assert r.headers["content-type"].startswith("text/csv")
        csv = r.text.splitlines()
        assert csv[0].startswith("quad,s_m,offset_x_m") and len(csv) == 145
        assert any(line.startswith("Q3M2T8R,") and line.split(",")[2] for line in csv[1:])
        assert call("POST", "/bba/abort").status_code == 200
        # history from the store (written behind: wait for the flush)
        deadline = time.monotonic() + 20
        while not call("GET", "/bba/history/Q3M2T8R").json() and time.monotonic() < deadline:
            time.sleep(0.2)
        (measured,) = call("GET", "/bba/history/Q3M2T8R").json()
        assert measured["quad"] == "Q3M2T8R" and measured["x"]["offset_m"] is not None
        assert call("GET", "/bba/history/NOSUCH").status_code == 404
        t0 = int(time.time() * 1000)
        assert call("PUT", "/twin/setpoints", json={"setpoints": {"HS1PD1R:set": 0.125}}).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            writes = call("GET", "/twin/history/setpoints", params={"name": "HS1PD1R:set", "from_ms": t0}).json()
            puts = call("GET", "/twin/history/puts", params={"name": "HS1PD1R:set", "from_ms": t0}).json()
            if writes and puts:
                break
            time.sleep(0.2)
        assert [w["value"] for w in writes] == [0.125]
        assert [(p["user"], p["protocol"], float(p["new"])) for p in puts] == [("http", "http", 0.125)]
        assert call("GET", "/twin/history/puts", params={"to_ms": t0 - 60_000}).json() == []
    finally:
        ioc.stop()
