/* twin_monitor.c - database monitors for servers other than RSRV and
 * QSRV2 (the HTTP API's PV Web Socket): a subscription to a channel's
 * value and alarm changes on an event task of the twin's own, delivered
 * as plain C values to a callback. */
#define USE_TYPED_RSET
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbAccess.h>
#include <dbChannel.h>
#include <dbEvent.h>
#include <db_field_log.h>
#include <epicsThread.h>

#include "twin_shim.h"

static dbEventCtx events;
static epicsThreadOnceId events_once = EPICS_THREAD_ONCE_INIT;

static void start_events(void *unused)
{
    (void)unused;
    dbEventCtx ctx = db_init_events();
    if (ctx && db_start_events(ctx, "twinMonitor", NULL, NULL, epicsThreadPriorityCAServerLow) == 0)
        events = ctx;
}

typedef struct twin_monitor {
    dbChannel *chan;
    dbEventSubscription sub;
    twin_monitor_fn fn;
    void *ctx;
    int text;          /* DBF_STRING: the value as text */
    int is_enum;
    long capacity;
    double *values;
    char *strings;     /* a string array: capacity x MAX_STRING_SIZE */
} twin_monitor;

static void on_event(void *arg, struct dbChannel *chan, int remaining, struct db_field_log *pfl)
{
    (void)remaining;
    twin_monitor *m = arg;
    dbCommon *prec = dbChannelRecord(chan);
    char text[MAX_STRING_SIZE + 1] = "";
    twin_monitor_update u;
    memset(&u, 0, sizeof(u));
    int lock = !pfl || pfl->type == dbfl_type_ref;
    if (lock)
        dbScanLock(prec);
    long n = m->capacity;
    long status;
    if (m->strings) {
        status = dbChannelGet(chan, DBR_STRING, m->strings, NULL, &n, pfl);
    } else if (m->text) {
        n = 1;
        status = dbChannelGet(chan, DBR_STRING, text, NULL, &n, pfl);
    } else {
        status = dbChannelGet(chan, DBR_DOUBLE, m->values, NULL, &n, pfl);
        if (!status && m->is_enum) {
            long one = 1;
            dbChannelGet(chan, DBR_STRING, text, NULL, &one, pfl);
        }
    }
    epicsTimeStamp t = pfl ? pfl->time : prec->time;
    u.severity = pfl ? pfl->sevr : prec->sevr;
    if (lock)
        dbScanUnlock(prec);
    if (status)
        return;
    text[MAX_STRING_SIZE] = 0;
    if (m->strings) {
        for (long i = 0; i < n; i++)
            m->strings[(i + 1) * MAX_STRING_SIZE - 1] = 0;
        u.strings = m->strings;
        u.count = (uint32_t)n;
    } else {
        u.text = (m->text || m->is_enum) ? text : NULL;
        u.values = m->text ? NULL : m->values;
        u.count = m->text ? 0 : (uint32_t)n;
    }
    u.sec_past_epoch = t.secPastEpoch;
    u.nsec = t.nsec;
    m->fn(m->ctx, &u);
}

void *twin_monitor_start(const char *pv, twin_monitor_fn fn, void *ctx)
{
    epicsThreadOnce(&events_once, start_events, NULL);
    if (!events)
        return NULL;
    dbChannel *chan = dbChannelCreate(pv);
    if (!chan)
        return NULL;
    if (dbChannelOpen(chan)) {
        dbChannelDelete(chan);
        return NULL;
    }
    twin_monitor *m = calloc(1, sizeof(*m));
    if (!m) {
        dbChannelDelete(chan);
        return NULL;
    }
    short type = dbChannelFinalFieldType(chan);
    m->chan = chan;
    m->fn = fn;
    m->ctx = ctx;
    m->text = type == DBF_STRING || type >= DBF_INLINK;
    m->is_enum = type == DBF_ENUM || type == DBF_MENU || type == DBF_DEVICE;
    m->capacity = dbChannelFinalElements(chan) > 0 ? dbChannelFinalElements(chan) : 1;
    m->values = calloc((size_t)m->capacity, sizeof(double));
    if (m->text && m->capacity > 1)
        m->strings = calloc((size_t)m->capacity, MAX_STRING_SIZE);
    int allocated = m->values && (!m->text || m->capacity == 1 || m->strings);
    m->sub = allocated ? db_add_event(events, chan, on_event, m, DBE_VALUE | DBE_ALARM) : NULL;
    if (!m->sub) {
        free(m->values);
        free(m->strings);
        free(m);
        dbChannelDelete(chan);
        return NULL;
    }
    db_event_enable(m->sub);
    db_post_single_event(m->sub);
    return m;
}

void twin_monitor_stop(void *handle)
{
    twin_monitor *m = handle;
    if (!m)
        return;
    db_cancel_event(m->sub); /* waits for a callback in progress */
    dbChannelDelete(m->chan);
    free(m->values);
    free(m->strings);
    free(m);
}

/* Units, precision and description of the channel's record (empty or -1
 * where the record has none). */
int twin_monitor_meta(const char *pv, char *units, size_t units_len, int *precision, char *desc, size_t desc_len)
{
    DBADDR addr;
    if (dbNameToAddr(pv, &addr))
        return -1;
    char name[PVNAME_STRINGSZ + 8];
    char buf[MAX_STRING_SIZE + 1];
    const char *rec = addr.precord->name;
    DBADDR field;
    long n = 1;
    units[0] = desc[0] = 0;
    *precision = -1;
    snprintf(name, sizeof(name), "%s.EGU", rec);
    if (!dbNameToAddr(name, &field) && !dbGetField(&field, DBR_STRING, buf, NULL, &n, NULL))
        snprintf(units, units_len, "%s", buf);
    n = 1;
    snprintf(name, sizeof(name), "%s.DESC", rec);
    if (!dbNameToAddr(name, &field) && !dbGetField(&field, DBR_STRING, buf, NULL, &n, NULL))
        snprintf(desc, desc_len, "%s", buf);
    n = 1;
    epicsInt32 prec = -1;
    snprintf(name, sizeof(name), "%s.PREC", rec);
    if (!dbNameToAddr(name, &field) && !dbGetField(&field, DBR_LONG, &prec, NULL, &n, NULL))
        *precision = prec;
    return 0;
}
