# Startup script for the foundation tests: health PVs plus the loopback
# device of db/twin_selftest.db. Run from the repository root.
epicsEnvSet("IOCNAME", "twin-ioc-selftest")
dbLoadRecords("db/twin_health.db", "P=$(P)")
dbLoadRecords("db/twin_selftest.db", "P=$(P)")
## Access security: clients write values only, never configuration fields
asSetFilename("$(TWIN_ACF)")

iocInit
