"""pyAML (PyPI accelerator-middle-layer 0.3.2 with its EPICS backend
pyaml-cs-oa, in .venv-pyaml) reads the twin's tunes through its tune tool,
configured with the BESSY II configuration of pyAML's own example
(tests/clients/pyaml/, provenance and changes in its README).

The tune tool reads beam:twiss:x:tune / beam:twiss:y:tune (fractional
tunes); the machine's TUNEZR:rdH / rdV show the same tunes as frequencies,
frac(Q) * f_rev in kHz with f_rev = MCLKHX251C:freq / 400.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT
from store_helpers import StoreIoc

PYAML_PYTHON = ROOT / ".venv-pyaml" / "bin" / "python"
CLIENT_DIR = ROOT / "tests" / "clients" / "pyaml"
CONFIG = CLIENT_DIR / "bessy2.yaml"
HARMONIC = 400


def config_prefix():
    """The control-system prefix of the committed configuration."""
    match = re.search(r"^  prefix: '([^']*)'$", CONFIG.read_text(), re.MULTILINE)
    assert match, f"no prefix in {CONFIG}"
    return match.group(1)


@pytest.fixture(scope="module")
def twin():
    if not PYAML_PYTHON.exists():
        raise RuntimeError(f"{PYAML_PYTHON} missing: `make test` installs it")
    ioc = StoreIoc({}, prefix=config_prefix()).start()
    try:
        yield ioc
    finally:
        ioc.stop()


def pyaml_tunes(ioc):
    env = dict(os.environ)
    env.update(ioc.env)
    out = subprocess.run([str(PYAML_PYTHON), str(CLIENT_DIR / "read_tunes.py"), str(CONFIG)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + ioc.ioc.output()[-5000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_tunes(ioc):
    """TUNEZR:rdH / rdV [kHz] over f_rev = MCLKHX251C:freq / h [kHz]."""
    rd_h, rd_v, f_rf = ioc.client([["get", "TUNEZR:rdH"], ["get", "TUNEZR:rdV"], ["get", "MCLKHX251C:freq"]])
    f_rev = f_rf / HARMONIC
    return [rd_h / f_rev, rd_v / f_rev]


def test_pyaml_tune_tool_reads_the_tunes_of_tunezr(twin):
    before = machine_tunes(twin)
    got = pyaml_tunes(twin)
    after = machine_tunes(twin)
    assert before == after, "the tunes changed during the read"
    assert got["tool"] == "DEFAULT_TUNE_CORRECTION"
    assert got["pvs"] == ["beam:twiss:x:tune", "beam:twiss:y:tune"]
    assert got["tunes"] == pytest.approx(before, rel=1e-9, abs=0)
    assert got["monitor_tunes"] == got["tunes"]
    # fractional tunes of BESSY II (0.848 / 0.727 at the design optics)
    assert all(0.0 < q < 1.0 for q in got["tunes"])
