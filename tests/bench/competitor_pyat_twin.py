"""Baseline for the twin benchmark: a Python twin as the earlier ones were
built, pyAT for the physics and caproto for Channel Access, serving the
PVs the benchmark touches with the same semantics as twin-ioc (a put
completes after the 6D orbit and tunes were recomputed and posted)."""
import asyncio
import json
import math
import pathlib
import sys

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, pvproperty, run

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import make_pyat_reference as ref  # noqa: E402

BRHO = math.sqrt(1.7185e9**2 - 0.51099895069e6**2) / 299792458.0
MAGNETS = json.loads((ROOT / "config/bessy2/accelerator_setup.json").read_text())
SLOTS = [s["name"] for s in json.loads((ROOT / "config/bessy2/bpm_cfg_as_in_machine.json").read_text()
                                       .replace(": NaN", ": null"))["col"]]

ring4, doc = ref.build_ring()
ring = ring4.enable_6d(copy=True)
index = {e.FamName: i for i, e in enumerate(ring)}
slot_idx = [index.get(n) for n in SLOTS]
refpts = [i for i in slot_idx if i is not None]


def apply(pc, current):
    for m in (m for m in MAGNETS if m["pc"] == pc):
        s = current * m["magnetic_strength"] / BRHO
        if m["type"] == "Steerer":
            el = ring[index[m["name"][1:]]]
            ka = np.array(el.KickAngle, dtype=float)
            ka[0 if m["name"][0] == "H" else 1] = s
            el.KickAngle = ka
        else:
            ring[index[m["name"]]].PolynomB[1 if m["type"] == "Quadrupole" else 2] = s


def compute():
    _, orbit = ring.find_orbit6(refpts=refpts)
    _, rd, _ = ring.get_optics(refpts=[0])
    pos = np.zeros(256)
    k = 0
    for slot, i in enumerate(slot_idx):
        if i is not None:
            pos[2 * slot], pos[2 * slot + 1] = orbit[k, 0] * 1e9, orbit[k, 2] * 1e9
            k += 1
    f_rev = ring.get_rf_frequency() / 400 / 1e3
    return pos, rd.tune[0] * f_rev, rd.tune[1] * f_rev


def make_group(prefix, pcs):
    body = {
        "rdPos": pvproperty(value=[0.0] * 256, name="ORBITCC:rdPos", max_length=256, read_only=True),
        "rdH": pvproperty(value=0.0, name="TUNEZR:rdH", read_only=True),
        "rdV": pvproperty(value=0.0, name="TUNEZR:rdV", read_only=True),
        "version": pvproperty(value="pyat-twin", name="TWIN:VERSION", dtype=ChannelType.STRING, read_only=True),
    }
    lock = asyncio.Lock()

    async def publish(group):
        pos, h, v = await asyncio.to_thread(compute)
        await group.rdPos.write(list(pos))
        await group.rdH.write(h)
        await group.rdV.write(v)

    for pc in pcs:
        prop = pvproperty(value=0.0, name=f"{pc}:set")

        async def putter(group, instance, value, pc=pc):
            async with lock:
                await asyncio.to_thread(apply, pc, value)
                await publish(group)
            return value

        body[pc.replace(":", "_")] = prop.putter(putter)

    async def startup(group, instance, async_lib):
        await publish(group)

    body["version"] = body["version"].startup(startup)
    Group = type("PyatTwin", (PVGroup,), body)
    return Group(prefix=prefix)


if __name__ == "__main__":
    group = make_group(sys.argv[1], ["HS4P2D1R", "Q1PDR"])
    run(group.pvdb, interfaces=["127.0.0.1"], log_pv_names=False)
