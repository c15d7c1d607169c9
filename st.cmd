#!target/release/twin-ioc
# BESSY II digital twin: startup script (real iocsh).
#
# twin-ioc has already loaded its built-in DBD (EPICS base + pvxs QSRV2 +
# the "Twin" device support) and registered all support before this runs.
# Macro and environment variable P hold the PV prefix (TWIN_PREFIX, default
# "TWIN:"); TWIN_* variables come from config/twin.toml and the lattice.
# Paths are relative to the directory twin-ioc is started in.

epicsEnvSet("IOCNAME", "twin-ioc")
# large waveforms (optics at 1094 points, string arrays) over CA
epicsEnvSet("EPICS_CA_MAX_ARRAY_BYTES", "1000000")

## Twin health (uptime, heartbeat, version)
dbLoadRecords("db/twin_health.db", "P=$(P)")

## BESSY II: 179 power converters (<PC>:set / <PC>:rdbk)
dbLoadTemplate("db/bessy2_pc.substitutions", "P=$(P)")

## BESSY II: orbit, BPM vectors, tunes, RF, beam current
dbLoadRecords("db/bessy2_diagnostics.db", "P=$(P),RF_KHZ=$(TWIN_RF_KHZ),RF_LOW=$(TWIN_RF_LOW),RF_HIGH=$(TWIN_RF_HIGH)")

## Twin-only model PVs ($(P)TWIN:...)
dbLoadRecords("db/twin_model.db", "P=$(P),NPOINTS=$(TWIN_NPOINTS),NBPM=$(TWIN_NBPM)")

## Quadrupoles: hidden offsets ($(P)TWIN:<Q>:x:set), BBA multiplexer and service
dbLoadTemplate("db/bessy2_bba.substitutions", "P=$(P)")
dbLoadRecords("db/bba.db", "P=$(P),NQ=$(TWIN_NQ)")

## Persistence status ($(P)TWIN:STORE:...)
dbLoadRecords("db/twin_store.db", "P=$(P)")

iocInit
