# Startup script of the end-to-end test IOC: the machine exactly as
# st.cmd loads it, plus the loopback device of db/twin_selftest.db.
# Run from the repository root.
epicsEnvSet("IOCNAME", "twin-ioc-test")
epicsEnvSet("EPICS_CA_MAX_ARRAY_BYTES", "1000000")
dbLoadRecords("db/twin_health.db", "P=$(P)")
dbLoadRecords("$(TWIN_DB)/power_converters.db", "P=$(P)")
dbLoadRecords("$(TWIN_DB)/diagnostics.db", "P=$(P)")
dbLoadRecords("$(TWIN_DB)/magnets.db", "P=$(P)")
dbLoadRecords("$(TWIN_DB)/bba.db", "P=$(P)")
dbLoadRecords("$(TWIN_DB)/model.db", "P=$(P)")
dbLoadRecords("$(TWIN_DB)/store.db", "P=$(P)")
dbLoadRecords("db/twin_selftest.db", "P=$(P)")
## Access security: clients write values only, never configuration fields
asSetFilename("$(TWIN_ACF)")

iocInit
