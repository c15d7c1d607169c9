"""A second machine from configuration alone: the small FODO ring of
tests/fodo/ (its own lattice, profile, names and generated records) runs in
twin-ioc with the repository's st.cmd; a steerer write moves the orbit as
`twin-ioc model` predicts for that ring."""
import json
import math
import subprocess

import numpy as np
import pytest

from conftest import BINARY, ROOT
from store_helpers import StoreIoc

CONFIG = ROOT / "tests" / "fodo" / "twin.toml"
MAGNETS = json.loads((ROOT / "tests" / "fodo" / "magnets.json").read_text())
ENERGY_EV = 1.0e9
BRHO_TM = math.sqrt(ENERGY_EV**2 - 0.51099895069e6**2) / 299792458.0


def model(*args):
    out = subprocess.run([str(BINARY), "--config", str(CONFIG), "model", "--6d", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {b["name"]: (b["x"], b["y"]) for b in json.loads(out.stdout)["bpms"]}


@pytest.fixture(scope="module")
def fodo(tmp_path_factory):
    env = {"TWIN_CONFIG": str(CONFIG), "TWIN_STORE_DIR": str(tmp_path_factory.mktemp("fodo-store"))}
    ioc = StoreIoc(env, prefix="F:", st_cmd=ROOT / "st.cmd").start()
    try:
        yield ioc
    finally:
        assert ioc.stop() == 0


def orbit(names, positions_nm):
    pos = np.asarray(positions_nm) * 1e-9
    return {n: (pos[2 * i], pos[2 * i + 1]) for i, n in enumerate(names)}


def test_the_fodo_ring_serves_its_own_names(fodo):
    positions, names, status, qf = fodo.client(
        [("get", "DIAG:orbit"), ("get", "DIAG:orbitNames"), ("gets", "TWIN:MODEL:STATUS"), ("get", "PQF:rb")])
    assert len(positions) == 4 and names == ["BPM1", "BPM2"]
    assert status == "VALID" and qf > 30.0
    assert fodo.client([("get", "MCLKHX251C:freq", 1.0)]) == [None], "BESSY II's names are not there"


@pytest.mark.parametrize("pc,magnet,current", [("PXS1", "XS1", 0.8), ("PYS3", "YS3", -0.6)])
def test_a_steerer_write_moves_the_orbit_as_the_engine_predicts(fodo, pc, magnet, current):
    (m,) = [m for m in MAGNETS if m["name"] == magnet]
    kick = current * m["magnetic_strength"] / BRHO_TM
    names, p0, ok, p1, reset = fodo.client([
        ("get", "DIAG:orbitNames"), ("get", "DIAG:orbit"), ("put", f"{pc}:sp", current), ("get", "DIAG:orbit"),
        ("put", f"{pc}:sp", 0.0)])
    assert ok == 1 and reset == 1
    before, after = orbit(names, p0), orbit(names, p1)
    m0, m1 = model(), model(f"--kick={magnet}={kick!r}")
    assert max(abs(after[n][k] - before[n][k]) for n in m0 for k in (0, 1)) > 1e-5, "a real change"
    for n in m0:
        for k in (0, 1):
            change, predicted = after[n][k] - before[n][k], m1[n][k] - m0[n][k]
            assert abs(change - predicted) < 1e-9, (n, k, change, predicted)
