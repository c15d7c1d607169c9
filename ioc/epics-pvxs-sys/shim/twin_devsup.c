/* twin_devsup.c - "Twin" device support: output record writes go to Rust.
 *
 * First pass (PACT=0): build a twin_write_event from the record's value
 * (after DRVH/DRVL clamping done by the record support), hand it to the
 * Rust handler and set PACT. The handler never blocks: it queues the event.
 * Rust later calls twin_complete(), which requests reprocessing through a
 * callback; the second pass (PACT=1) reports the outcome, and the record
 * finishes processing (monitors, forward links, put-callback completion).
 */
#define USE_TYPED_DSET
#define USE_TYPED_RSET
#include <stdlib.h>
#include <string.h>

#include <alarm.h>
#include <callback.h>
#include <dbAccess.h>
#include <dbCommon.h>
#include <devSup.h>
#include <epicsMutex.h>
#include <errlog.h>
#include <recGbl.h>
#include <registryDeviceSupport.h>
#include <menuFtype.h>

#include <aoRecord.h>
#include <aaoRecord.h>
#include <boRecord.h>
#include <longoutRecord.h>
#include <mbboRecord.h>
#include <stringoutRecord.h>

#include "twin_shim.h"

typedef struct twin_dpvt {
    epicsCallback cb;
    int status;
    char msg[TWIN_AMSG_SIZE];
} twin_dpvt;

static twin_write_fn write_handler;
static void *write_ctx;

void twin_set_write_handler(twin_write_fn fn, void *ctx)
{
    write_ctx = ctx;
    write_handler = fn;
}

static long init_dpvt(dbCommon *prec)
{
    twin_dpvt *p = calloc(1, sizeof(*p));
    if (!p) {
        errlogPrintf("%s: devTwin out of memory\n", prec->name);
        return S_db_noMemory;
    }
    prec->dpvt = p;
    return 0;
}

int twin_complete(void *record, int status, const char *msg)
{
    dbCommon *prec = record;
    twin_dpvt *p = prec->dpvt;
    if (!p)
        return -1;
    p->status = status;
    p->msg[0] = '\0';
    if (msg) {
        strncpy(p->msg, msg, sizeof(p->msg) - 1);
        p->msg[sizeof(p->msg) - 1] = '\0';
    }
    return callbackRequestProcessCallback(&p->cb, priorityMedium, prec);
}

/* Common write logic. Returns the status the record support expects. */
static long twin_write(dbCommon *prec, twin_write_event *ev)
{
    twin_dpvt *p = prec->dpvt;
    if (!p)
        return S_dev_noDeviceFound;
    if (prec->pact) {
        /* Second pass: Rust has finished with this write. */
        if (p->status) {
            recGblSetSevrMsg(prec, WRITE_ALARM, INVALID_ALARM, "%s",
                             p->msg[0] ? p->msg : "write failed");
            return -1;
        }
        return 0;
    }
    if (!write_handler)
        return 0; /* nobody listens yet: complete synchronously */
    ev->record = prec;
    if (write_handler(write_ctx, ev) != 0) {
        recGblSetSevrMsg(prec, WRITE_ALARM, INVALID_ALARM, "write not accepted");
        return -1;
    }
    prec->pact = TRUE;
    return 0;
}

static long init_ao(aoRecord *prec) { long s = init_dpvt((dbCommon *)prec); return s ? s : 2; }
static long init_bo(boRecord *prec) { long s = init_dpvt((dbCommon *)prec); return s ? s : 2; }
static long init_mbbo(mbboRecord *prec) { long s = init_dpvt((dbCommon *)prec); return s ? s : 2; }
static long init_lo(longoutRecord *prec) { return init_dpvt((dbCommon *)prec); }
static long init_so(stringoutRecord *prec) { return init_dpvt((dbCommon *)prec); }

static long init_aao(aaoRecord *prec)
{
    if (prec->ftvl != menuFtypeDOUBLE) {
        errlogPrintf("%s: devTwin aao supports FTVL=DOUBLE only\n", prec->name);
        return S_db_badField;
    }
    return init_dpvt((dbCommon *)prec);
}

static long write_ao(aoRecord *prec)
{
    twin_write_event ev = {0};
    ev.kind = TWIN_KIND_DOUBLE;
    ev.count = 1;
    ev.dval = prec->oval;
    return twin_write((dbCommon *)prec, &ev);
}

static long write_lo(longoutRecord *prec)
{
    twin_write_event ev = {0};
    ev.kind = TWIN_KIND_INT32;
    ev.count = 1;
    ev.lval = prec->val;
    return twin_write((dbCommon *)prec, &ev);
}

static long write_bo(boRecord *prec)
{
    twin_write_event ev = {0};
    ev.kind = TWIN_KIND_ENUM;
    ev.count = 1;
    ev.lval = prec->val;
    return twin_write((dbCommon *)prec, &ev);
}

static long write_mbbo(mbboRecord *prec)
{
    twin_write_event ev = {0};
    ev.kind = TWIN_KIND_ENUM;
    ev.count = 1;
    ev.lval = prec->val;
    return twin_write((dbCommon *)prec, &ev);
}

static long write_so(stringoutRecord *prec)
{
    twin_write_event ev = {0};
    ev.kind = TWIN_KIND_STRING;
    ev.count = 1;
    ev.sval = prec->val;
    return twin_write((dbCommon *)prec, &ev);
}

static long write_aao(aaoRecord *prec)
{
    twin_write_event ev = {0};
    ev.kind = TWIN_KIND_DOUBLE;
    ev.count = prec->nord;
    ev.darray = prec->bptr;
    return twin_write((dbCommon *)prec, &ev);
}

static aodset devTwinAo = {{6, NULL, NULL, (DEVSUPFUN)init_ao, NULL}, write_ao, NULL};
static bodset devTwinBo = {{5, NULL, NULL, (DEVSUPFUN)init_bo, NULL}, write_bo};
static mbbodset devTwinMbbo = {{5, NULL, NULL, (DEVSUPFUN)init_mbbo, NULL}, write_mbbo};
static longoutdset devTwinLo = {{5, NULL, NULL, (DEVSUPFUN)init_lo, NULL}, write_lo};
static stringoutdset devTwinSo = {{5, NULL, NULL, (DEVSUPFUN)init_so, NULL}, write_so};
static aaodset devTwinAao = {{5, NULL, NULL, (DEVSUPFUN)init_aao, NULL}, write_aao};

/* Called by twin_prepare before registerAllRecordDeviceDrivers. */
int twin_register_device_support(void);
int twin_register_device_support(void)
{
    int ok = 1;
    ok &= registryDeviceSupportAdd("devTwinAo", &devTwinAo.common);
    ok &= registryDeviceSupportAdd("devTwinBo", &devTwinBo.common);
    ok &= registryDeviceSupportAdd("devTwinMbbo", &devTwinMbbo.common);
    ok &= registryDeviceSupportAdd("devTwinLo", &devTwinLo.common);
    ok &= registryDeviceSupportAdd("devTwinSo", &devTwinSo.common);
    ok &= registryDeviceSupportAdd("devTwinAao", &devTwinAao.common);
    return ok ? 0 : -1;
}
