"""Baseline for the IOC benchmark: the same self-test PVs served by a
Python PV Access server (p4p). SETPOINT's put handler posts ECHO and WRITES,
then completes the put; TICK is posted every 20 ms with the current time."""
import sys
import time

from p4p.nt import NTScalar
from p4p.server import Server
from p4p.server.thread import SharedPV

prefix = sys.argv[1]
echo = SharedPV(nt=NTScalar("d"), initial=0.0)
writes = SharedPV(nt=NTScalar("i"), initial=0)
tick = SharedPV(nt=NTScalar("d"), initial=0.0)
version = SharedPV(nt=NTScalar("s"), initial="p4p")
setpoint = SharedPV(nt=NTScalar("d"), initial=0.0)
count = [0]


@setpoint.put
def on_put(pv, op):
    value = float(op.value())
    count[0] += 1
    echo.post(value)
    writes.post(count[0])
    pv.post(value)
    op.done()


pvs = {
    prefix + "TWIN:SELFTEST:SETPOINT": setpoint,
    prefix + "TWIN:SELFTEST:ECHO": echo,
    prefix + "TWIN:SELFTEST:WRITES": writes,
    prefix + "TWIN:SELFTEST:TICK": tick,
    prefix + "TWIN:VERSION": version,
}
with Server(providers=[pvs]):
    seq = 0.0
    while True:
        tick.post(seq, timestamp=time.time())
        seq += 1.0
        time.sleep(0.02)
