# Startup script of the end-to-end test IOC: the BESSY II twin exactly as
# st.cmd loads it, plus the loopback device of db/twin_selftest.db.
# Run from the repository root.
epicsEnvSet("IOCNAME", "twin-ioc-test")
epicsEnvSet("EPICS_CA_MAX_ARRAY_BYTES", "1000000")
dbLoadRecords("db/twin_health.db", "P=$(P)")
dbLoadTemplate("db/bessy2_pc.substitutions", "P=$(P)")
dbLoadRecords("db/bessy2_diagnostics.db", "P=$(P),RF_KHZ=$(TWIN_RF_KHZ),RF_LOW=$(TWIN_RF_LOW),RF_HIGH=$(TWIN_RF_HIGH)")
dbLoadRecords("db/twin_model.db", "P=$(P),NPOINTS=$(TWIN_NPOINTS),NBPM=$(TWIN_NBPM)")
dbLoadTemplate("db/bessy2_bba.substitutions", "P=$(P)")
dbLoadRecords("db/bba.db", "P=$(P),NQ=$(TWIN_NQ)")
dbLoadRecords("db/twin_store.db", "P=$(P)")
dbLoadRecords("db/twin_selftest.db", "P=$(P)")
iocInit
