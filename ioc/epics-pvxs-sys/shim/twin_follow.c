/* twin_follow.c - a read-only Channel Access client that follows another
 * IOC's channels (the twin's shadow mode): a CA client context of its own,
 * one channel and one value|alarm subscription (DBR_TIME_DOUBLE, native
 * element count) per name, delivered as plain C values to one callback.
 *
 * This file only connects, subscribes and clears: it never writes to a
 * channel (a unit test in src/follow.rs checks the text of this file).
 *
 * Threads: the context is preemptive; callbacks run on libca's threads,
 * one at a time per context. The thread calling start or stop is attached
 * to the context only during the call, and any context it had before is
 * attached again afterwards. Kept apart from dbAccess.h (db_access.h's DBR
 * types must not share a translation unit with it). */
#include <stdlib.h>

#include <cadef.h>
#include <db_access.h>

#include "twin_shim.h"

struct twin_follow;

typedef struct follow_chan {
    struct twin_follow *owner;
    size_t index;
    chid ch;    /* NULL until created */
    evid ev;    /* NULL until subscribed */
} follow_chan;

typedef struct twin_follow {
    struct ca_client_context *ctx;
    twin_follow_fn fn;
    void *user;
    size_t count;
    follow_chan chans[];
} twin_follow;

static void on_connection(struct connection_handler_args args)
{
    follow_chan *c = ca_puser(args.chid);
    if (!c)
        return;
    int kind = args.op == CA_OP_CONN_UP ? TWIN_FOLLOW_CONNECTED : TWIN_FOLLOW_DISCONNECTED;
    c->owner->fn(c->owner->user, c->index, kind, NULL);
}

static void on_update(struct event_handler_args args)
{
    follow_chan *c = args.usr;
    if (!c)
        return;
    if (args.status != ECA_NORMAL || !args.dbr || args.type != DBR_TIME_DOUBLE || args.count < 0) {
        /* e.g. no read access, or a value that does not convert to a
         * double: no valid value for this channel now */
        c->owner->fn(c->owner->user, c->index, TWIN_FOLLOW_FAILED, NULL);
        return;
    }
    const struct dbr_time_double *v = args.dbr;
    twin_follow_update u;
    u.values = &v->value;
    u.count = (uint32_t)args.count;
    u.status = (uint16_t)v->status;
    u.severity = (uint16_t)v->severity;
    u.sec_past_epoch = v->stamp.secPastEpoch;
    u.nsec = v->stamp.nsec;
    c->owner->fn(c->owner->user, c->index, TWIN_FOLLOW_UPDATE, &u);
}

/* Clears what exists of f's channels and destroys its context. The calling
 * thread must be attached to f->ctx; it is detached afterwards. */
static void teardown(twin_follow *f)
{
    for (size_t i = 0; i < f->count; i++) {
        follow_chan *c = &f->chans[i];
        if (c->ev)
            ca_clear_subscription(c->ev); /* waits for a callback in progress */
        if (c->ch)
            ca_clear_channel(c->ch);      /* no disconnect callback follows */
    }
    /* an IOC process must clear its channels before destroying the context */
    ca_context_destroy();
    free(f);
}

/* Creates one channel with its subscription; 0 or the failing step. */
static int follow_one(follow_chan *c, const char *name, int *status)
{
    *status = ca_create_channel(name, on_connection, c, CA_PRIORITY_DEFAULT, &c->ch);
    if (*status != ECA_NORMAL) {
        c->ch = NULL;
        return TWIN_FOLLOW_STEP_CHANNEL;
    }
    /* allowed before the channel connects: libca installs the
     * subscription on every (re)connection, count 0 = native/dynamic */
    *status = ca_create_subscription(DBR_TIME_DOUBLE, 0, c->ch, DBE_VALUE | DBE_ALARM, on_update, c, &c->ev);
    if (*status != ECA_NORMAL) {
        c->ev = NULL;
        return TWIN_FOLLOW_STEP_SUBSCRIPTION;
    }
    return 0;
}

int twin_follow_start(const char *const *names, size_t count, twin_follow_fn fn, void *user, void **handle,
                      int *step, size_t *failed_index)
{
    *handle = NULL;
    *failed_index = 0;
    twin_follow *f = calloc(1, sizeof(*f) + count * sizeof(follow_chan));
    if (!f) {
        *step = TWIN_FOLLOW_STEP_MEMORY;
        return ECA_ALLOCMEM;
    }
    f->fn = fn;
    f->user = user;
    f->count = count;
    for (size_t i = 0; i < count; i++) {
        f->chans[i].owner = f;
        f->chans[i].index = i;
    }
    struct ca_client_context *previous = ca_current_context();
    if (previous)
        ca_detach_context();
    int status = ca_context_create(ca_enable_preemptive_callback);
    f->ctx = status == ECA_NORMAL ? ca_current_context() : NULL;
    if (!f->ctx) {
        *step = TWIN_FOLLOW_STEP_CONTEXT;
        free(f);
        if (previous)
            ca_attach_context(previous);
        return status == ECA_NORMAL ? ECA_INTERNAL : status;
    }
    int failed = 0;
    for (size_t i = 0; i < count && !failed; i++) {
        failed = follow_one(&f->chans[i], names[i], &status);
        *failed_index = i;
    }
    *step = failed;
    if (failed) {
        teardown(f);
    } else {
        ca_flush_io(); /* what the buffer cannot send now, libca sends later */
        ca_detach_context();
        *handle = f;
        status = 0;
    }
    if (previous)
        ca_attach_context(previous);
    return status;
}

void twin_follow_stop(void *handle)
{
    twin_follow *f = handle;
    if (!f)
        return;
    struct ca_client_context *previous = ca_current_context();
    if (previous)
        ca_detach_context();
    ca_attach_context(f->ctx);
    teardown(f);
    if (previous)
        ca_attach_context(previous);
}
