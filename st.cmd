#!target/release/twin-ioc
# Digital twin: startup script (real iocsh).
#
# twin-ioc has already loaded its built-in DBD (EPICS base + pvxs QSRV2 +
# the "Twin" device support) and registered all support before this runs.
# Macro and environment variable P hold the PV prefix (config `prefix`,
# TWIN_PREFIX, --prefix; default "TWIN:"). TWIN_DB is the directory of the
# machine's records, generated from its profile (`twin-ioc records`).
# TOP is the directory twin-ioc is started in; other paths are relative to it.

epicsEnvSet("IOCNAME", "twin-ioc")
# large waveforms (optics at every element, string arrays) over CA
epicsEnvSet("EPICS_CA_MAX_ARRAY_BYTES", "1000000")

## Twin health (uptime, heartbeat, version)
dbLoadRecords("db/twin_health.db", "P=$(P)")

## The machine: power converters (<PC>:set / <PC>:rdbk)
dbLoadRecords("$(TWIN_DB)/power_converters.db", "P=$(P)")

## The machine: orbit, BPM vectors, tunes, RF, beam current
dbLoadRecords("$(TWIN_DB)/diagnostics.db", "P=$(P)")

## Magnets: offsets ($(P)TWIN:<ELEMENT>:x:set), strengths, trims, per-magnet names
dbLoadRecords("$(TWIN_DB)/magnets.db", "P=$(P)")

## BBA: the multiplexer and its auxiliary supply, the BBA service
dbLoadRecords("$(TWIN_DB)/bba.db", "P=$(P)")

## Twin-only model PVs ($(P)TWIN:MODEL:..., $(P)TWIN:OPTICS:..., $(P)TWIN:BPM:...)
dbLoadRecords("$(TWIN_DB)/model.db", "P=$(P)")

## Persistence status ($(P)TWIN:STORE:...)
dbLoadRecords("$(TWIN_DB)/store.db", "P=$(P)")

## Access security: rendered by twin-ioc from [access] (or access.file):
## operators write the machine's controls, instructors the hidden truth,
## no client writes configuration fields; TWIN_READONLY=1: nobody writes
asSetFilename("$(TWIN_ACF)")

iocInit
