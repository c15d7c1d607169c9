"""Baseline for the IOC benchmark: the same self-test PVs served by a pure
Python Channel Access server (caproto), the way a Python twin serves CA.
SETPOINT's put handler updates ECHO and WRITES before the put completes;
TICK is posted every 20 ms with the current time."""
import asyncio
import sys
import time

from caproto import ChannelType
from caproto.server import PVGroup, pvproperty, run


def make_group(prefix):
    class Selftest(PVGroup):
        SETPOINT = pvproperty(value=0.0, name="TWIN:SELFTEST:SETPOINT", units="mm", precision=3)
        ECHO = pvproperty(value=0.0, name="TWIN:SELFTEST:ECHO", read_only=True, units="mm", precision=3)
        WRITES = pvproperty(value=0, name="TWIN:SELFTEST:WRITES", read_only=True)
        TICK = pvproperty(value=0.0, name="TWIN:SELFTEST:TICK", read_only=True)
        VERSION = pvproperty(value="caproto", name="TWIN:VERSION", dtype=ChannelType.STRING, read_only=True)

        @SETPOINT.putter
        async def SETPOINT(self, instance, value):
            await self.ECHO.write(value)
            await self.WRITES.write(self.WRITES.value + 1)
            return value

        @TICK.startup
        async def TICK(self, instance, async_lib):
            seq = 0.0
            while True:
                await instance.write(seq, timestamp=time.time())
                seq += 1.0
                await async_lib.library.sleep(0.02)

    return Selftest(prefix=prefix)


if __name__ == "__main__":
    group = make_group(sys.argv[1])
    run(group.pvdb, interfaces=["127.0.0.1"], log_pv_names=False)
