/* twin_trap.c - the write trap: every client put to a record of the twin
 * passes here before and after it is written (asTrapWrite listener; the
 * access security file's TRAPWRITE rule enables it).
 *
 * Channel Access (the listener gets the client's payload):
 * - a put to a numeric value field whose data are not complete finite
 *   numbers ("", "1.0abc", "1,5", "0x10", "nan") is vetoed: the record's
 *   puts are disabled (DISP) for this one request, so the value never
 *   reaches the record and the client's put fails (ECA_PUTFAIL); afterwards
 *   the record shows WRITE/INVALID with the reason.
 * PV Access (QSRV2 passes no data):
 * - a put that wrote the value field without processing the record
 *   (pvRequest record[process=false]) is processed right after, so the
 *   twin's model takes it like any other write.
 * Every put the trap does not veto, to any record and field, goes to the
 * put log (twin_set_putlog_handler): user, host, protocol, channel, the
 * value before and after as text. */
#define USE_TYPED_RSET
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alarm.h>
#include <asTrapWrite.h>
#include <dbAccess.h>
#include <dbChannel.h>
#include <dbCommon.h>
#include <dbEvent.h>
#include <dbLock.h>
#include <recGbl.h>

#include "twin_shim.h"

int twin_devsup_owns(const dbCommon *prec);
unsigned twin_devsup_generation(const dbCommon *prec);
int twin_devsup_veto_begin(dbCommon *prec);
int twin_devsup_defer_refusal(dbCommon *prec, const char *why);
void twin_devsup_pva_begin(dbCommon *prec);
int twin_devsup_pva_end(dbCommon *prec);
void twin_devsup_veto_end(dbCommon *prec);
void twin_devsup_superseded(dbCommon *prec);
int twin_ca_put_is_number(int dbr_type, long count, const void *data, int integer, char *why, size_t why_len);

/* What the before-call leaves for the after-call. */
typedef struct twin_trap_state {
    int vetoed;
    unsigned gen;
    char why[TWIN_AMSG_SIZE];
    char old_value[TWIN_PUTLOG_VALUE_SIZE];
} twin_trap_state;

static twin_putlog_fn putlog_fn;
static void *putlog_ctx;

void twin_set_putlog_handler(twin_putlog_fn fn, void *ctx)
{
    putlog_ctx = ctx;
    putlog_fn = fn;
}

/* The channel's value as text: the first element, and the element count
 * of an array. Takes the record lock itself (recursive). */
static void value_text(struct dbChannel *chan, char *out, size_t len)
{
    char first[MAX_STRING_SIZE + 1] = "";
    long n = 1;
    if (dbChannelGetField(chan, DBR_STRING, first, NULL, &n, NULL) || n < 1) {
        snprintf(out, len, "(unreadable)");
        return;
    }
    first[MAX_STRING_SIZE] = 0;
    long elements = dbChannelFinalElements(chan);
    if (elements > 1)
        snprintf(out, len, "%s (of %ld elements)", first, elements);
    else
        snprintf(out, len, "%s", first);
}

static twin_trap_state *state_new(void)
{
    return calloc(1, sizeof(twin_trap_state));
}

/* The Twin record whose value field the channel addresses, or NULL. */
static dbCommon *twin_value_channel(struct dbChannel *chan)
{
    if (!chan)
        return NULL;
    dbCommon *prec = dbChannelRecord(chan);
    if (!twin_devsup_owns(prec) || !dbIsValueField(dbChannelFldDes(chan)))
        return NULL;
    return prec;
}

static void before(asTrapWriteMessage *m, dbCommon *prec)
{
    twin_trap_state *st = state_new();
    if (!st)
        return;
    m->userPvt = st;
    value_text(m->serverSpecific, st->old_value, sizeof(st->old_value));
    if (!prec)
        return;
    st->gen = twin_devsup_generation(prec);
    if (!m->data) {
        dbScanLock(prec);
        twin_devsup_pva_begin(prec);
        dbScanUnlock(prec);
    }
    dbfType type = dbChannelFldDes(m->serverSpecific)->field_type;
    int floating = type == DBF_DOUBLE || type == DBF_FLOAT;
    int integer = type >= DBF_CHAR && type <= DBF_UINT64;
    if (m->data && (floating || integer)
        && !twin_ca_put_is_number(m->dbrType, m->no_elements, m->data, integer, st->why, sizeof(st->why))) {
        dbScanLock(prec);
        st->vetoed = twin_devsup_veto_begin(prec);
        dbScanUnlock(prec);
    }
}

/* The record shows a refused put: WRITE/INVALID with the reason, posted
 * with its (unchanged) value. Called with the record locked. */
static void show_refusal(dbCommon *prec, void *value_field, const char *why)
{
    if (twin_devsup_defer_refusal(prec, why))
        return;
    recGblSetSevrMsg(prec, WRITE_ALARM, INVALID_ALARM, "%s", why);
    unsigned short mask = recGblResetAlarms(prec);
    db_post_events(prec, value_field, mask | DBE_ALARM);
}

void twin_trap_refused_by_name(const char *name, const char *why)
{
    DBADDR addr;
    if (dbNameToAddr(name, &addr) || !twin_devsup_owns(addr.precord))
        return;
    dbScanLock(addr.precord);
    show_refusal(addr.precord, addr.pfield, why);
    dbScanUnlock(addr.precord);
}

/* Hands an accepted put to the put log. */
static void log_put(asTrapWriteMessage *m, const twin_trap_state *st)
{
    twin_putlog_fn fn = putlog_fn;
    if (!fn)
        return;
    char new_value[TWIN_PUTLOG_VALUE_SIZE];
    value_text(m->serverSpecific, new_value, sizeof(new_value));
    twin_put_entry e = {
        .user = m->userid ? m->userid : "",
        .host = m->hostid ? m->hostid : "",
        .pv = dbChannelName((struct dbChannel *)m->serverSpecific),
        .protocol = m->data ? TWIN_PUT_CA : TWIN_PUT_PVA,
        .old_value = st->old_value,
        .new_value = new_value,
    };
    fn(putlog_ctx, &e);
}

static void after(asTrapWriteMessage *m, dbCommon *prec)
{
    twin_trap_state *st = m->userPvt;
    if (!st)
        return;
    if (!prec) {
        log_put(m, st);
        free(st);
        m->userPvt = NULL;
        return;
    }
    dbScanLock(prec);
    if (st->vetoed) {
        twin_devsup_veto_end(prec);
        show_refusal(prec, dbChannelField(m->serverSpecific), st->why);
        dbScanUnlock(prec);
        free(st);
        m->userPvt = NULL;
        return;
    }
    /* this put got through: a refusal of an earlier one no longer shows */
    twin_devsup_superseded(prec);
    /* a refusal's restore skipped while this put was in flight: whatever
     * VAL holds now must reach the twin */
    int forced = !m->data && twin_devsup_pva_end(prec);
    if (!m->data && (forced || st->gen == twin_devsup_generation(prec)) && !prec->ppn) {
        /* a PV Access put wrote the value without processing: process now */
        if (prec->pact)
            prec->rpro = TRUE;
        else {
            prec->putf = TRUE;
            dbProcess(prec);
        }
    }
    dbScanUnlock(prec);
    log_put(m, st);
    free(st);
    m->userPvt = NULL;
}

static void twin_trap(asTrapWriteMessage *m, int is_after)
{
    if (!m->serverSpecific)
        return;
    dbCommon *prec = twin_value_channel(m->serverSpecific);
    if (is_after)
        after(m, prec);
    else
        before(m, prec);
}

int twin_trap_register(void)
{
    return asTrapWriteRegisterListener(twin_trap) ? 0 : -1;
}
