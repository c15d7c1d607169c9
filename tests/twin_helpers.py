"""Helpers of the twin's end-to-end tests: machine data, unit conversions
and the engine's own prediction through `twin-ioc model`."""
import json
import math
import subprocess

import numpy as np

from conftest import BINARY, ROOT

ENERGY_EV = 1.7185e9
ELECTRON_REST_ENERGY_EV = 0.51099895069e6
SPEED_OF_LIGHT = 299792458.0
BRHO_TM = math.sqrt(ENERGY_EV**2 - ELECTRON_REST_ENERGY_EV**2) / SPEED_OF_LIGHT
COUNTS_PER_M = 32768 / 10e-3
MAGNETS = json.loads((ROOT / "config" / "bessy2" / "accelerator_setup.json").read_text())
BPM_CONFIG = json.loads((ROOT / "config" / "bessy2" / "bpm_config.json").read_text())


def magnets_of(pc):
    return [m for m in MAGNETS if m["pc"] == pc]


def kick_rad(steerer_pc, current_a):
    (m,) = magnets_of(steerer_pc)
    return m["name"], current_a * m["magnetic_strength"] / BRHO_TM


def model(*args):
    out = subprocess.run([str(BINARY), "model", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def model_orbit(*args):
    """{bpm name: (x, y)} of `twin-ioc model --6d ARGS` [m]."""
    d = model("--6d", *args)
    return {b["name"]: (b["x"], b["y"]) for b in d["bpms"]}, d


def rdpos_by_name(names, rdpos_nm):
    """ORBITCC:rdPos (nm, x/y interleaved) -> {name: (x, y)} [m]."""
    v = np.asarray(rdpos_nm) * 1e-9
    return {n: (v[2 * i], v[2 * i + 1]) for i, n in enumerate(names) if n}
