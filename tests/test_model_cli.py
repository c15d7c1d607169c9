"""`twin-ioc model`: the engine offline through the binary's CLI."""
import json
import subprocess

import numpy as np

from conftest import BINARY, ROOT

REFERENCE = json.loads((ROOT / "tests" / "reference" / "pyat_bessy2.json").read_text())


def model(*args):
    out = subprocess.run([str(BINARY), "model", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_design_optics_and_orm_shapes():
    d = model("--orm")
    assert np.allclose(d["tunes"], REFERENCE["linear_4d"]["tunes"], atol=1e-6)
    assert np.allclose(d["chromaticity"], REFERENCE["linear_4d"]["chromaticity"], atol=2e-3)
    assert len(d["bpms"]) == 123 and d["bpms"][0]["name"] == "BPMZ5D1R"
    orm = d["orm"]
    assert len(orm["correctors"]) == 112 and len(orm["bpms"]) == 123
    assert np.array(orm["x"]).shape == (123, 112)
    assert abs(d["emittance"] - 7.64e-9) < 0.01e-9


def test_kick_response_is_consistent_with_the_orm():
    base = model("--orm")
    kick = 2e-6
    kicked = model(f"--kick=HS4M2D1R={kick}")
    j = base["orm"]["correctors"].index("HS4M2D1R")
    predicted = kick * np.array(base["orm"]["x"])[:, j]
    measured = np.array([b["x"] for b in kicked["bpms"]]) - np.array([b["x"] for b in base["bpms"]])
    assert np.max(np.abs(measured - predicted)) < 1e-3 * np.max(np.abs(predicted))


def test_offset_k1_scale_and_6d():
    off = model("--offset=Q3M1D2R=1e-4,-5e-5")
    want = REFERENCE["orbit_quad_offset"]
    assert np.allclose([b["x"] for b in off["bpms"]], want["x"], atol=1e-9)
    scaled = model("--k1-scale=Q1M2D1R=1.01")
    assert scaled["tunes"] != model()["tunes"]
    six = model("--6d")
    assert np.allclose(six["tunes"], REFERENCE["six_d_radiation"]["tunes"][:2], rtol=1e-6)
    assert abs(six["delta"] - REFERENCE["six_d_radiation"]["orbit0"][4]) < 1e-9


def test_bad_arguments_fail_with_a_message():
    for args in (["--kick=XS1=1"], ["--kick=HS4M2D1R=abc"], ["--offset=NOPE=1,2"], ["--kick=HS4M2D1R=nan"]):
        out = subprocess.run([str(BINARY), "model", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "ERROR" in out.stderr, (args, out.stderr)


COUPLED = json.loads((ROOT / "tests" / "reference" / "pyat_bessy2_coupled.json").read_text())


def test_rolls_and_skew_components_through_the_cli_give_pyats_coupled_optics_and_emittances():
    """--roll/--skew with the coupled reference's errors, --envelope: mode
    tunes, β of both modes and the emittances of pyAT 0.9.0 (linopt6,
    envelope_parameters)."""
    args = [f"--roll={e['name']}={e['roll_rad']!r}" for e in COUPLED["rolls"]]
    args += [f"--skew={e['name']}={e['polynom_a1']!r}" for e in COUPLED["skews"]]
    d = model("--envelope", *args)["coupled"]
    want = COUPLED["errors"]
    assert np.allclose(d["mode_tunes"], want["linopt6_4d"]["tunes"], atol=1e-6)
    for key in ("beta_1", "beta_2"):
        assert np.max(np.abs(np.array(d[key]) / want["linopt6_4d"][key] - 1)) < 1e-4, key
    assert np.allclose(d["mode_emittances"], want["envelope"]["mode_emittances_m"], rtol=1e-3, atol=0)
    assert d["mode_emittances"][1] > 1e-11  # rolled quadrupoles: a vertical emittance
    ideal = model("--envelope")["coupled"]
    assert abs(ideal["mode_emittances"][0] / 7.72e-9 - 1) < 1e-3
    assert ideal["mode_emittances"][1] < 1e-20
