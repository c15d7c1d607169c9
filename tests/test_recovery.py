"""Issue 12: after a recovery from an extreme setting, every view of the
orbit says so at once: when the put that restores the machine completes,
the PVA group ORBITCC:rdBpm (alarm from its trigger record) and the CA
vectors carry no alarm and no old reason."""
import pytest

from helpers import TIMEOUT_S, get, put

Q1_DESIGN_A = 218.45846118078865
ROUNDS = 40


@pytest.mark.parametrize("extreme", [0.0, 328.0])
def test_recovery_clears_the_old_reason_everywhere_at_completion(selftest_ioc, pva, extreme):
    ioc = selftest_ioc
    design = get(ioc, "Q1PDR:set")
    try:
        for _ in range(ROUNDS // 2):
            put(ioc, "Q1PDR:set", extreme)
            bad = pva.get(ioc.pv("ORBITCC:rdBpm"), timeout=TIMEOUT_S)
            assert bad.alarm.severity == 3 and bad.alarm.message, "the extreme setting has no orbit"
            put(ioc, "Q1PDR:set", design)
            good = pva.get(ioc.pv("ORBITCC:rdBpm"), timeout=TIMEOUT_S)
            assert (good.alarm.severity, good.alarm.message) == (0, ""), good.alarm
            assert get(ioc, "ORBITCC:rdPos.SEVR") == 0 and get(ioc, "TWIN:MODEL:STATUS", as_string=True) == "VALID"
    finally:
        put(ioc, "Q1PDR:set", design)
