#!target/release/twin-ioc
# BESSY II digital twin: startup script (real iocsh).
#
# twin-ioc has already loaded its built-in DBD (EPICS base + pvxs QSRV2 +
# the "Twin" device support) and registered all support before this runs.
# Macro and environment variable P hold the PV prefix (TWIN_PREFIX, default
# "TWIN:"). Paths are relative to the directory twin-ioc is started in.

epicsEnvSet("IOCNAME", "twin-ioc")

## Twin health (uptime, heartbeat, version)
dbLoadRecords("db/twin_health.db", "P=$(P)")

iocInit
