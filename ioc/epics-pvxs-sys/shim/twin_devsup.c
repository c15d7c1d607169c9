/* twin_devsup.c - "Twin" device support: output record writes go to Rust.
 *
 * First pass (PACT=0): build a twin_write_event from the record's value
 * (after DRVH/DRVL clamping done by the record support), hand it to the
 * Rust handler and set PACT. The handler never blocks: it queues the event.
 * Rust later calls twin_complete(), which runs the second pass (PACT=1) in
 * its thread: it reports the outcome, and the record finishes processing
 * (monitors, forward links, put-callback completion).
 */
#define USE_TYPED_DSET
#define USE_TYPED_RSET
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <alarm.h>
#include <callback.h>
#include <dbAccess.h>
#include <epicsThread.h>
#include <dbCommon.h>
#include <dbNotify.h>
#include <devSup.h>
#include <epicsMutex.h>
#include <errMdef.h>
#include <errSymTbl.h>
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
    int status;
    char msg[TWIN_AMSG_SIZE];
    /* ao: the last value the twin accepted or restored (what a refused
     * non-finite write puts back) */
    int is_ao;
    double last;
    /* +1 at every first pass: tells the write trap whether a put processed */
    unsigned gen;
    /* client puts the write trap is refusing right now (DISP is held set
     * while this is > 0) */
    int vetoes;
    /* a client's put refused while this record was busy with an earlier
     * write: its alarm is shown when that write completes, or, if a client
     * wrote the record in between (RPRO), when that newer write completes */
    char deferred[TWIN_AMSG_SIZE];
    /* the next first pass reprocesses a client's put that arrived while
     * the record was busy: it keeps `deferred` */
    int carry;
    /* PV Access puts between the write trap's before- and after-call:
     * QSRV2 writes VAL under the lock, but if the record is busy its
     * dbProcess does nothing and the write trap's after-call asks for the
     * reprocessing; until then VAL holds the client's value with nothing
     * saying so. A refusal's restore must not overwrite it: it is
     * skipped, and the after-call then processes the record so the twin
     * decides on whatever VAL holds. */
    int pva_puts;
    int restore_skipped;
} twin_dpvt;

/* Statuses of refusals, registered with errSymbolAdd so that PVA clients
 * get their text. */
#define M_twin (530 << 16)
#define S_twin_notFinite (M_twin | 1)
#define S_twin_refused (M_twin | 2)

static int symbols_added;

void twin_devsup_add_symbols(void);
void twin_devsup_add_symbols(void)
{
    if (symbols_added)
        return;
    symbols_added = 1;
    errSymbolAdd(S_twin_notFinite, "value is not a finite number");
    errSymbolAdd(S_twin_refused, "write refused by the twin");
}

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

/* A refusal: the alarm fields directly (a pending UDF/INVALID from a NaN
 * would make recGblSetSevrMsg ignore WRITE/INVALID), and a put-callback
 * (CA) or blocking put (PVA) that waits on this record fails. Setting
 * ppn->status is outside dbNotify's documented contract: it is the only
 * way Base gives to fail a put because of device support (see README,
 * Reliability). */
static void refuse(dbCommon *prec, const char *why)
{
    prec->nsta = WRITE_ALARM;
    prec->nsev = INVALID_ALARM;
    strncpy(prec->namsg, why, sizeof(prec->namsg) - 1);
    prec->namsg[sizeof(prec->namsg) - 1] = '\0';
    if (prec->ppn && prec->ppn->status == notifyOK)
        prec->ppn->status = notifyError;
}

int twin_devsup_owns(const dbCommon *prec);

/* Keeps an ao's last good value in step with a value Rust put into it. */
void twin_devsup_value_set(dbCommon *prec);
void twin_devsup_value_set(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (twin_devsup_owns(prec) && p && p->is_ao)
        p->last = ((aoRecord *)prec)->val;
}

/* The processing generation of a Twin record (0 for other records). */
unsigned twin_devsup_generation(const dbCommon *prec);
unsigned twin_devsup_generation(const dbCommon *prec)
{
    const twin_dpvt *p = prec->dpvt;
    return twin_devsup_owns(prec) && p ? p->gen : 0;
}

/* A PV Access put to the record begins (write trap, before-call). Under
 * dbScanLock. */
void twin_devsup_pva_begin(dbCommon *prec);
void twin_devsup_pva_begin(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (twin_devsup_owns(prec) && p)
        p->pva_puts++;
}

/* It ended (after-call). Returns 1 if a restore was skipped while PVA puts
 * were in flight and this was the last: the record must be processed so
 * the twin sees what VAL holds. Under dbScanLock. */
int twin_devsup_pva_end(dbCommon *prec);
int twin_devsup_pva_end(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (!twin_devsup_owns(prec) || !p || p->pva_puts <= 0)
        return 0;
    if (--p->pva_puts > 0 || !p->restore_skipped)
        return 0;
    p->restore_skipped = 0;
    return 1;
}

/* Whether a client's write is in flight on the record: being processed
 * (PACT), waiting to be reprocessed (RPRO), or a PV Access put between
 * the write trap's calls. Under dbScanLock. */
int twin_devsup_client_busy(dbCommon *prec);
int twin_devsup_client_busy(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (!twin_devsup_owns(prec) || !p)
        return 0;
    return prec->pact || prec->rpro || p->pva_puts > 0;
}

/* Whether restoring the last good value into VAL may overwrite it now: not
 * while a PV Access put is in flight (its value may be in VAL already).
 * Records the skip. Under dbScanLock. */
int twin_devsup_restore_allowed(dbCommon *prec);
int twin_devsup_restore_allowed(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (!twin_devsup_owns(prec) || !p || p->pva_puts == 0)
        return 1;
    p->restore_skipped = 1;
    return 0;
}

/* The write trap refuses a client's put: DISP stays set until the last
 * concurrent refusal ends. Both calls run under dbScanLock. Returns 0 if
 * the record is not the twin's. */
int twin_devsup_veto_begin(dbCommon *prec);
int twin_devsup_veto_begin(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (!twin_devsup_owns(prec) || !p)
        return 0;
    if (p->vetoes++ == 0)
        prec->disp = 1;
    return 1;
}

void twin_devsup_veto_end(dbCommon *prec);
void twin_devsup_veto_end(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (!twin_devsup_owns(prec) || !p || p->vetoes <= 0)
        return;
    if (--p->vetoes == 0)
        prec->disp = 0;
}

/* Shows a refused put as WRITE/INVALID; while the record is busy (PACT)
 * the alarm waits for the end of the write in flight, which would
 * otherwise clear it. Returns 1 if deferred. Called under dbScanLock. */
int twin_devsup_defer_refusal(dbCommon *prec, const char *why);
int twin_devsup_defer_refusal(dbCommon *prec, const char *why)
{
    twin_dpvt *p = prec->dpvt;
    if (!twin_devsup_owns(prec) || !p || !prec->pact)
        return 0;
    strncpy(p->deferred, why, sizeof(p->deferred) - 1);
    p->deferred[sizeof(p->deferred) - 1] = '\0';
    return 1;
}

/* A client's put reached the record (the write trap did not refuse it):
 * it supersedes a refusal still waiting to be shown. Called under
 * dbScanLock. */
void twin_devsup_superseded(dbCommon *prec);
void twin_devsup_superseded(dbCommon *prec)
{
    twin_dpvt *p = prec->dpvt;
    if (twin_devsup_owns(prec) && p)
        p->deferred[0] = '\0';
}

/* Finishes the write in the caller's thread: the second pass runs here,
 * with the record locked, as callbackRequestProcessCallback's callback
 * would run it in a callback thread. Handing it to a callback thread cost
 * a thread hop on the path of every put-callback (that thread had to be
 * woken and scheduled on a busy 2-core machine). The caller holds no
 * record lock (Rust completes writes only from its own threads, outside
 * every post), so taking this record's lock cannot invert a lock order. */
int twin_complete(void *record, int status, const char *msg)
{
    dbCommon *prec = record;
    twin_dpvt *p = prec->dpvt;
    struct typed_rset *prset = (struct typed_rset *)prec->rset;
    if (!p || !prset || !prset->process)
        return -1;
    dbScanLock(prec);
    p->status = status;
    p->msg[0] = '\0';
    if (msg) {
        strncpy(p->msg, msg, sizeof(p->msg) - 1);
        p->msg[sizeof(p->msg) - 1] = '\0';
    }
    (*prset->process)(prec);
    dbScanUnlock(prec);
    return 0;
}

/* Common write logic. Returns the status the record support expects. */
static long twin_write(dbCommon *prec, twin_write_event *ev)
{
    twin_dpvt *p = prec->dpvt;
    if (!p)
        return S_dev_noDeviceFound;
    if (prec->pact) {
        /* Second pass: Rust has finished with this write (and put back the
         * record's last good value if it refused it). */
        if (p->is_ao)
            p->last = ((aoRecord *)prec)->val;
        /* RPRO: a client wrote the record while this write was in flight;
         * that put is processed next, and a refusal deferred after it
         * belongs after it */
        p->carry = prec->rpro;
        if (p->status) {
            if (!p->carry)
                p->deferred[0] = '\0';
            refuse(prec, p->msg[0] ? p->msg : "write refused");
            return S_twin_refused;
        }
        if (p->deferred[0] && !p->carry) {
            /* the write in flight succeeded; a later put was refused */
            prec->nsta = WRITE_ALARM;
            prec->nsev = INVALID_ALARM;
            strncpy(prec->namsg, p->deferred, sizeof(prec->namsg) - 1);
            prec->namsg[sizeof(prec->namsg) - 1] = '\0';
            p->deferred[0] = '\0';
        }
        return 0;
    }
    p->gen++;
    if (p->carry)
        p->carry = 0; /* the put that superseded nothing after a refusal */
    else
        p->deferred[0] = '\0'; /* a new write supersedes an earlier refusal */
    prec->namsg[0] = '\0'; /* and its message (see twin_post) */
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

static long init_ao(aoRecord *prec)
{
    long s = init_dpvt((dbCommon *)prec);
    if (s)
        return s;
    twin_dpvt *p = prec->dpvt;
    p->is_ao = 1;
    p->last = isfinite(prec->val) ? prec->val : 0.0;
    return 2;
}
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
    twin_dpvt *p = prec->dpvt;
    if (!prec->pact && p && !isfinite(prec->val)) {
        /* refused at once: the put fails (CA ECA_PUTFAIL, PVA "value is
         * not a finite number"), the record keeps its last good value */
        prec->val = prec->oval = prec->pval = p->last;
        prec->udf = FALSE;
        refuse((dbCommon *)prec, "value is not a finite number");
        return S_twin_notFinite;
    }
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

int twin_devsup_owns(const dbCommon *prec)
{
    const void *d = prec->dset;
    return d == &devTwinAo || d == &devTwinBo || d == &devTwinMbbo || d == &devTwinLo || d == &devTwinSo
        || d == &devTwinAao;
}

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
