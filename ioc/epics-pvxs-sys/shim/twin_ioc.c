/* twin_ioc.c - IOC start-up, record addresses and the update path. */
#define USE_TYPED_RSET
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alarm.h>
#include <callback.h>
#include <dbAccess.h>
#include <dbCommon.h>
#include <dbStaticLib.h>
#include <dbEvent.h>
#include <envDefs.h>
#include <epicsExit.h>
#include <epicsTime.h>
#include <epicsVersion.h>
#include <errlog.h>
#include <initHooks.h>
#include <iocsh.h>
#include <iocshRegisterCommon.h>
#include <recGbl.h>

#include "twin_shim.h"

int twin_devsup_restore_allowed(dbCommon *prec);
int twin_devsup_client_busy(dbCommon *prec);

int twin_register_device_support(void);

/* Symbols of libraries that nothing references statically: without a live
 * reference the linker drops them (--as-needed) and registration fails with
 * "Unable to find symbol 'pvar_...'". */
extern char pvar_func_pvxsBaseRegistrar;
extern char pvar_dset_devAaoSoft;
static const void *volatile keep_linked[2];

typedef struct twin_init_value {
    struct twin_init_value *next;
    char *record;
    char *field;
    char *value;
} twin_init_value;

static twin_init_value *init_values;
static int init_value_failures;

int twin_add_initial_value(const char *record, const char *field, const char *value)
{
    twin_init_value *v = calloc(1, sizeof(*v));
    if (!v)
        return -1;
    v->record = strdup(record);
    v->field = strdup(field);
    v->value = strdup(value);
    if (!v->record || !v->field || !v->value) {
        free(v->record);
        free(v->field);
        free(v->value);
        free(v);
        return -1;
    }
    v->next = init_values;
    init_values = v;
    return 0;
}

int twin_initial_value_failures(void) { return init_value_failures; }

/* Room in each callback queue for every record at once. Base's default of
 * 2000 entries overflowed when each of the twin's ~3,800 output records
 * completed through a callback at iocInit ("cbMedium ring buffer full", a
 * completion lost, the record busy for good). Completions now run in the
 * completing thread (twin_devsup.c); the room stays for a burst of
 * anything else queued (CP links, scanOnce). Set before callbackInit. */
static void size_callback_queues(void)
{
    DBENTRY entry;
    long records = 0;
    long status;
    dbInitEntry(pdbbase, &entry);
    for (status = dbFirstRecordType(&entry); !status; status = dbNextRecordType(&entry))
        records += dbGetNRecords(&entry);
    dbFinishEntry(&entry);
    if (records > 1000)
        callbackSetQueueSize((int)(2 * records + 1000));
}

static void twin_init_hook(initHookState state)
{
    DBENTRY entry;
    if (state == initHookAtBeginning) {
        size_callback_queues();
        return;
    }
    if (state == initHookAtIocRun) {
        /* QSRV2 added its source at initHookAfterIocBuilt; its server
         * starts after this */
        twin_pva_guard_install();
        return;
    }
    if (state != initHookAfterInitDevSup || !init_values)
        return;
    dbInitEntry(pdbbase, &entry);
    while (init_values) {
        twin_init_value *v = init_values;
        init_values = v->next;
        /* a record the startup script did not load is not an error: the
         * script decides what the IOC serves */
        if (dbFindRecord(&entry, v->record) == 0
            && (dbFindField(&entry, v->field) || dbPutString(&entry, v->value))) {
            errlogPrintf("twin: cannot set initial %s.%s = %s\n", v->record, v->field, v->value);
            init_value_failures++;
        }
        free(v->record);
        free(v->field);
        free(v->value);
        free(v);
    }
    dbFinishEntry(&entry);
}

int twin_prepare(const char *dbd_path)
{
    keep_linked[0] = &pvar_func_pvxsBaseRegistrar;
    keep_linked[1] = &pvar_dset_devAaoSoft;
    setvbuf(stdout, NULL, _IOLBF, 0);
    iocshRegisterCommon();
    if (initHookRegister(twin_init_hook))
        return -4;
    if (dbLoadDatabase(dbd_path, NULL, NULL))
        return -1;
    if (twin_register_device_support())
        return -2;
    twin_devsup_add_symbols();
    if (twin_trap_register())
        return -5;
    if (registerAllRecordDeviceDrivers(pdbbase))
        return -3;
    return 0;
}

int twin_iocsh_load(const char *path, const char *macros)
{
    return iocshLoad(path, macros);
}

int twin_iocsh_cmd(const char *cmd) { return iocshCmd(cmd); }
int twin_iocsh_interactive(void) { return iocsh(NULL); }
int twin_ioc_running(void) { return interruptAccept; }
void twin_env_set(const char *name, const char *value) { epicsEnvSet(name, value); }
const char *twin_epics_version(void) { return EPICS_VERSION_FULL; }
void twin_exit(int code) { epicsExit(code); }

void *twin_addr_new(const char *name)
{
    DBADDR *addr = calloc(1, sizeof(*addr));
    if (!addr)
        return NULL;
    if (dbNameToAddr(name, addr)) {
        free(addr);
        return NULL;
    }
    return addr;
}

void twin_addr_free(void *addr) { free(addr); }
void *twin_addr_record(const void *addr) { return ((const DBADDR *)addr)->precord; }
uint32_t twin_addr_capacity(const void *addr) { return (uint32_t)((const DBADDR *)addr)->no_elements; }

int twin_addr_kind(const void *addr)
{
    switch (((const DBADDR *)addr)->dbr_field_type) {
    case DBR_STRING: return TWIN_KIND_STRING;
    case DBR_SHORT: return TWIN_KIND_INT16;
    case DBR_LONG: return TWIN_KIND_INT32;
    case DBR_ENUM: return TWIN_KIND_ENUM;
    case DBR_DOUBLE: return TWIN_KIND_DOUBLE;
    case DBR_UCHAR: return TWIN_KIND_UINT8;
    default: return TWIN_KIND_OTHER;
    }
}

static short dbr_of(int kind)
{
    switch (kind) {
    case TWIN_KIND_STRING: return DBR_STRING;
    case TWIN_KIND_INT16: return DBR_SHORT;
    case TWIN_KIND_INT32: return DBR_LONG;
    case TWIN_KIND_ENUM: return DBR_ENUM;
    case TWIN_KIND_DOUBLE: return DBR_DOUBLE;
    case TWIN_KIND_UINT8: return DBR_UCHAR;
    default: return -1;
    }
}

long twin_post(void *paddr, int kind, const void *data, uint32_t count,
               const twin_post_meta *meta)
{
    DBADDR *addr = paddr;
    dbCommon *prec = addr->precord;
    short dbr = dbr_of(kind);
    long status;
    if (dbr < 0)
        return S_db_badDbrtype;
    dbScanLock(prec);
    status = dbPut(addr, dbr, data, count);
    if (!status) {
        /* Base's recGblResetAlarms leaves NAMSG set when AMSG already held
         * the same text, so an alarm message raised on two cycles in a row
         * would outlive its alarm: every post starts with no message. */
        prec->namsg[0] = '\0';
        if (meta && meta->severity > NO_ALARM)
            recGblSetSevrMsg(prec, (epicsEnum16)meta->status,
                             (epicsEnum16)meta->severity, "%s",
                             meta->message ? meta->message : "");
        if (meta && meta->has_time && prec->tse == epicsTimeEventDeviceTime) {
            prec->time.secPastEpoch = meta->sec_past_epoch;
            prec->time.nsec = meta->nsec;
        }
        status = dbProcess(prec);
    }
    dbScanUnlock(prec);
    return status;
}

/* A value the twin posts onto VAL itself is what monitors last saw: the
 * record's monitor and archive deadband references (MLST, ALST) must say so,
 * or a client's later write back to the earlier value finds no change against
 * them and posts nothing (its monitors would keep showing the twin's value).
 * Records without these fields keep their behaviour. */
static void mark_value_posted(DBADDR *addr)
{
    static const char *const last[] = {"MLST", "ALST"};
    char name[PVNAME_STRINGSZ + 8];
    epicsFloat64 value;
    size_t i;
    if (strcmp(addr->pfldDes->name, "VAL") != 0)
        return;
    if (dbGet(addr, DBR_DOUBLE, &value, NULL, NULL, NULL))
        return;
    for (i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
        DBADDR field;
        snprintf(name, sizeof(name), "%s.%s", addr->precord->name, last[i]);
        /* the fields are SPC_NOMOD (dbPut refuses them): the record
         * support's own bookkeeping, written here as the record would,
         * under the record lock the caller holds */
        if (dbNameToAddr(name, &field))
            continue;
        switch (field.field_type) {
        case DBF_DOUBLE: *(epicsFloat64 *)field.pfield = value; break;
        case DBF_FLOAT: *(epicsFloat32 *)field.pfield = (epicsFloat32)value; break;
        case DBF_LONG: *(epicsInt32 *)field.pfield = (epicsInt32)value; break;
        case DBF_ULONG: *(epicsUInt32 *)field.pfield = (epicsUInt32)value; break;
        case DBF_USHORT: *(epicsUInt16 *)field.pfield = (epicsUInt16)value; break;
        default: break;
        }
    }
}

long twin_put_noprocess(void *paddr, int kind, const void *data, uint32_t count, int post_events)
{
    DBADDR *addr = paddr;
    short dbr = dbr_of(kind);
    long status;
    if (dbr < 0)
        return S_db_badDbrtype;
    dbScanLock(addr->precord);
    /* A restore (no events) of a record a client has written again while
     * the refused write was in flight (RPRO: dbPutField keeps that value
     * and reprocesses after this completion) must not overwrite the newer
     * value: the reprocessing hands it to the twin, which decides. The
     * same while a PV Access put is between QSRV2's write and the write
     * trap's after-call (twin_devsup_restore_allowed). */
    if (!post_events && (addr->precord->rpro || !twin_devsup_restore_allowed(addr->precord))) {
        dbScanUnlock(addr->precord);
        return 0;
    }
    /* An output the twin updates because the model changed another way:
     * not while a client's write is in flight on it (that write is newer
     * than what the model showed when this update was decided; it reaches
     * the model and the record shows it). The caller tries again with the
     * next publication. */
    if (post_events && twin_devsup_client_busy(addr->precord)) {
        dbScanUnlock(addr->precord);
        return TWIN_PUT_SKIPPED;
    }
    status = dbPut(addr, dbr, data, count);
    if (!status)
        twin_devsup_value_set(addr->precord);
    if (!status && post_events) {
        mark_value_posted(addr);
        db_post_events(addr->precord, addr->pfield, DBE_VALUE | DBE_LOG);
    }
    dbScanUnlock(addr->precord);
    return status;
}

long twin_get_field(void *paddr, int kind, void *buf, uint32_t *count)
{
    short dbr = dbr_of(kind);
    long n = *count;
    long status;
    if (dbr < 0)
        return S_db_badDbrtype;
    status = dbGetField(paddr, dbr, buf, NULL, &n, NULL);
    *count = (uint32_t)n;
    return status;
}

long twin_put_field(void *paddr, int kind, const void *data, uint32_t count)
{
    short dbr = dbr_of(kind);
    if (dbr < 0)
        return S_db_badDbrtype;
    return dbPutField(paddr, dbr, data, count);
}
