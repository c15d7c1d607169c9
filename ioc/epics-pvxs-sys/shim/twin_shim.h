/* twin_shim.h - the small C surface the Rust crate binds to.
 *
 * Rust never sees an EPICS struct layout: records are opaque pointers,
 * values cross as plain C types, and every EPICS call that needs record
 * locking happens on this side.
 */
#ifndef TWIN_SHIM_H
#define TWIN_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Value kinds crossing the boundary (stable numbering, mirrored in Rust). */
enum twin_kind {
    TWIN_KIND_STRING = 0,
    TWIN_KIND_INT16 = 1,
    TWIN_KIND_INT32 = 2,
    TWIN_KIND_ENUM = 3,
    TWIN_KIND_DOUBLE = 4,
    TWIN_KIND_UINT8 = 5, /* unsigned char arrays: long strings (FTVL UCHAR) */
    TWIN_KIND_OTHER = 99
};

/* Length of an EPICS string value including the terminating NUL. */
#define TWIN_STRING_SIZE 40
/* Length of an alarm message buffer (dbCommon.amsg). */
#define TWIN_AMSG_SIZE 40

/* One write delivered by the "Twin" device support. Pointers are valid only
 * during the handler call. */
typedef struct twin_write_event {
    void *record;          /* dbCommon*: identity of the record */
    int kind;              /* enum twin_kind of the value */
    uint32_t count;        /* number of elements (1 for scalars) */
    double dval;           /* TWIN_KIND_DOUBLE scalar */
    int32_t lval;          /* TWIN_KIND_INT32 or TWIN_KIND_ENUM scalar */
    const char *sval;      /* TWIN_KIND_STRING, NUL terminated */
    const double *darray;  /* TWIN_KIND_DOUBLE array (count elements) */
} twin_write_event;

/* Handler called with the record locked, from a server thread.
 * Returns 0 when it took ownership of the completion (twin_complete will
 * be called exactly once later), non-zero when it refused the event (the
 * write then completes at once with a WRITE/INVALID alarm). */
typedef int (*twin_write_fn)(void *ctx, const twin_write_event *ev);

void twin_set_write_handler(twin_write_fn fn, void *ctx);

/* Finish an asynchronous write. status 0 = success; otherwise the record
 * goes into WRITE/INVALID alarm with msg (may be NULL). Thread safe. */
int twin_complete(void *record, int status, const char *msg);

/* Values put into record fields through the static database after device
 * support init and before record init (as autosave's pass 0), so records
 * start from restored values. Records the startup script did not load are
 * skipped. Call before iocInit. Returns 0 on success. */
int twin_add_initial_value(const char *record, const char *field, const char *value);
/* Number of initial values that could not be applied (after iocInit). */
int twin_initial_value_failures(void);

/* Start-up, in this order. */
int twin_prepare(const char *dbd_path);     /* load DBD, register support */
int twin_trap_register(void);               /* the write trap (twin_trap.c) */
int twin_access_audit(char *why, size_t why_len); /* twin_access.c: 0 = locked */
/* 1: asLib lets `user` on `host` ("ip" or "ip:port") read the channel `pv`. */
int twin_access_can_read(const char *pv, const char *user, const char *host);

/* The PVA put guard (twin_pva_guard.cpp), installed at initHookAtIocRun. */
enum {
    TWIN_PVA_GUARD_PENDING = 0,
    TWIN_PVA_GUARD_INSTALLED = 1,
    TWIN_PVA_GUARD_NO_QSRV = 2, /* QSRV2 disabled: no PVA server for records */
    TWIN_PVA_GUARD_FAILED = 3,
};
void twin_pva_guard_install(void);
int twin_pva_guard_status(void);
/* PVA connections and channels open on QSRV2 now; 0 on success. */
int twin_pva_clients(uint32_t *connections, uint32_t *channels);
/* The put log: every client put the write trap lets through (CA and
 * PVA, any record and field), after it was written. Called from a server
 * thread, possibly with the record locked: the handler must only queue. */
#define TWIN_PUTLOG_VALUE_SIZE 64
enum { TWIN_PUT_CA = 0, TWIN_PUT_PVA = 1 };
typedef struct twin_put_entry {
    const char *user;
    const char *host;
    const char *pv;         /* record.field as the client named it */
    int protocol;           /* TWIN_PUT_CA or TWIN_PUT_PVA */
    const char *old_value;  /* as text */
    const char *new_value;
} twin_put_entry;
typedef void (*twin_putlog_fn)(void *ctx, const twin_put_entry *e);
void twin_set_putlog_handler(twin_putlog_fn fn, void *ctx);

/* Database monitors (twin_monitor.c) for the HTTP API's PV Web Socket:
 * value and alarm changes of a channel, the first at once. The callback
 * runs on the twin's event task; pointers are valid during the call. */
typedef struct twin_monitor_update {
    const double *values;  /* numbers (an enum's index); NULL for text */
    uint32_t count;
    const char *text;      /* a string; an enum's state name; else NULL */
    const char *strings;   /* a string array: `count` NUL-terminated
                              strings of MAX_STRING_SIZE (40) bytes each;
                              else NULL */
    int severity;
    uint32_t sec_past_epoch; /* EPICS epoch (1990) */
    uint32_t nsec;
} twin_monitor_update;
typedef void (*twin_monitor_fn)(void *ctx, const twin_monitor_update *u);
void *twin_monitor_start(const char *pv, twin_monitor_fn fn, void *ctx); /* NULL: no such channel */
void twin_monitor_stop(void *handle); /* waits for a callback in progress */
int twin_monitor_meta(const char *pv, char *units, size_t units_len, int *precision, char *desc, size_t desc_len);

/* The read-only Channel Access follower (twin_follow.c): a CA client
 * context of its own, one channel and one DBE_VALUE|DBE_ALARM subscription
 * (DBR_TIME_DOUBLE, native element count) per name. libca reads the
 * standard client environment (EPICS_CA_ADDR_LIST, ...) when start creates
 * the context. The callback runs on libca's threads, one call at a time;
 * `u` is non-NULL only for TWIN_FOLLOW_UPDATE and valid during the call. */
enum {
    TWIN_FOLLOW_DISCONNECTED = 0,
    TWIN_FOLLOW_CONNECTED = 1,
    TWIN_FOLLOW_UPDATE = 2,
    TWIN_FOLLOW_FAILED = 3, /* an update CA reports as failed (no value) */
};
typedef struct twin_follow_update {
    const double *values;  /* `count` elements */
    uint32_t count;
    uint16_t status;       /* alarm status (epicsAlarmCondition) */
    uint16_t severity;     /* 0 NO_ALARM .. 3 INVALID */
    uint32_t sec_past_epoch; /* the source's time stamp, EPICS epoch (1990) */
    uint32_t nsec;
} twin_follow_update;
typedef void (*twin_follow_fn)(void *ctx, size_t index, int event, const twin_follow_update *u);
/* Failing step of twin_follow_start. */
enum {
    TWIN_FOLLOW_STEP_MEMORY = 1,
    TWIN_FOLLOW_STEP_CONTEXT = 2,
    TWIN_FOLLOW_STEP_CHANNEL = 3,
    TWIN_FOLLOW_STEP_SUBSCRIPTION = 4,
};
/* 0 and *handle set, or the ECA status of the failing *step (at name
 * *failed_index for the channel steps) with nothing left behind.
 * Callbacks may run before it returns. */
int twin_follow_start(const char *const *names, size_t count, twin_follow_fn fn, void *ctx, void **handle,
                      int *step, size_t *failed_index);
/* Clears the channels and destroys the context; waits for a callback in
 * progress, none runs after it returns. Never call it from the callback. */
void twin_follow_stop(void *handle);

/* Shows a refused put on the record `name` (WRITE/INVALID, reason), if it
 * is one of the twin's (twin_trap.c). */
void twin_trap_refused_by_name(const char *name, const char *why);
void twin_devsup_add_symbols(void);         /* error texts of refusals */
struct dbCommon;
void twin_devsup_value_set(struct dbCommon *prec);
int twin_iocsh_load(const char *path, const char *macros);
int twin_iocsh_cmd(const char *cmd);
int twin_iocsh_interactive(void);
int twin_ioc_running(void);
void twin_env_set(const char *name, const char *value);
const char *twin_epics_version(void);
void twin_exit(int code);

/* Record addresses (DBADDR), resolved once by name. */
void *twin_addr_new(const char *name);
void twin_addr_free(void *addr);
void *twin_addr_record(const void *addr);
int twin_addr_kind(const void *addr);
uint32_t twin_addr_capacity(const void *addr);

/* Update path: put value, raise alarm, set time stamp, process. */
typedef struct twin_post_meta {
    int severity;          /* 0 NO_ALARM, 1 MINOR, 2 MAJOR, 3 INVALID */
    int status;            /* epicsAlarmCondition */
    const char *message;   /* may be NULL */
    int has_time;          /* use sec/nsec (record needs TSE=-2) */
    uint32_t sec_past_epoch; /* EPICS epoch (1990) */
    uint32_t nsec;
} twin_post_meta;

long twin_post(void *addr, int kind, const void *data, uint32_t count,
               const twin_post_meta *meta);

/* Sets a field without processing the record; with post_events, posts its
 * monitors too (an output whose state changed because of another write;
 * returns TWIN_PUT_SKIPPED, nothing set, while a client's write is in
 * flight on the record). Without: restore the last good setpoint of a
 * busy output record, whose completion then posts the monitors. */
#define TWIN_PUT_SKIPPED 1
long twin_put_noprocess(void *addr, int kind, const void *data, uint32_t count, int post_events);

/* Client-like access (dbGetField / dbPutField) for tools and tests. */
long twin_get_field(void *addr, int kind, void *buf, uint32_t *count);
long twin_put_field(void *addr, int kind, const void *data, uint32_t count);

#ifdef __cplusplus
}
#endif
#endif /* TWIN_SHIM_H */
