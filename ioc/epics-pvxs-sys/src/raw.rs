//! Raw declarations of the C shim (`shim/twin_shim.h`). Private to the crate:
//! everything above this module is safe Rust.
use std::ffi::{c_char, c_int, c_long, c_void};

pub(crate) const KIND_STRING: c_int = 0;
pub(crate) const KIND_INT16: c_int = 1;
pub(crate) const KIND_INT32: c_int = 2;
pub(crate) const KIND_ENUM: c_int = 3;
pub(crate) const KIND_DOUBLE: c_int = 4;
pub(crate) const KIND_UINT8: c_int = 5;

/// Size of an EPICS string value including its NUL.
pub(crate) const STRING_SIZE: usize = 40;

#[repr(C)]
pub(crate) struct WriteEvent {
    pub record: *mut c_void,
    pub kind: c_int,
    pub count: u32,
    pub dval: f64,
    pub lval: i32,
    pub sval: *const c_char,
    pub darray: *const f64,
}

#[repr(C)]
pub(crate) struct PostMeta {
    pub severity: c_int,
    pub status: c_int,
    pub message: *const c_char,
    pub has_time: c_int,
    pub sec_past_epoch: u32,
    pub nsec: u32,
}

#[repr(C)]
pub(crate) struct PutEntry {
    pub user: *const c_char,
    pub host: *const c_char,
    pub pv: *const c_char,
    pub protocol: c_int,
    pub old_value: *const c_char,
    pub new_value: *const c_char,
}

/// `TWIN_PUT_SKIPPED`: an output update skipped, a client's write is in flight.
pub(crate) const PUT_SKIPPED: c_long = 1;

/// `TWIN_PUT_PVA`: the put came through QSRV2.
pub(crate) const PUT_PVA: c_int = 1;

#[repr(C)]
pub(crate) struct MonitorUpdate {
    pub values: *const f64,
    pub count: u32,
    pub text: *const c_char,
    pub strings: *const c_char,
    pub severity: c_int,
    pub sec_past_epoch: u32,
    pub nsec: u32,
}

pub(crate) type MonitorFn = unsafe extern "C" fn(ctx: *mut c_void, u: *const MonitorUpdate);

/// `TWIN_FOLLOW_*` events of the follower's callback.
pub(crate) const FOLLOW_DISCONNECTED: c_int = 0;
pub(crate) const FOLLOW_CONNECTED: c_int = 1;
pub(crate) const FOLLOW_UPDATE: c_int = 2;
pub(crate) const FOLLOW_FAILED: c_int = 3;

/// `TWIN_FOLLOW_STEP_*`: where `twin_follow_start` failed.
pub(crate) const FOLLOW_STEP_MEMORY: c_int = 1;
pub(crate) const FOLLOW_STEP_CONTEXT: c_int = 2;
pub(crate) const FOLLOW_STEP_CHANNEL: c_int = 3;
pub(crate) const FOLLOW_STEP_SUBSCRIPTION: c_int = 4;

#[repr(C)]
pub(crate) struct FollowUpdate {
    pub values: *const f64,
    pub count: u32,
    pub status: u16,
    pub severity: u16,
    pub sec_past_epoch: u32,
    pub nsec: u32,
}

pub(crate) type FollowFn = unsafe extern "C" fn(ctx: *mut c_void, index: usize, event: c_int, u: *const FollowUpdate);

pub(crate) type PutLogFn = unsafe extern "C" fn(ctx: *mut c_void, e: *const PutEntry);

pub(crate) type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, ev: *const WriteEvent) -> c_int;

/// `twin_pva_guard_status()`: the guard wraps QSRV2's source.
pub(crate) const PVA_GUARD_INSTALLED: c_int = 1;
/// `twin_pva_guard_status()`: QSRV2 is disabled, nothing to guard.
pub(crate) const PVA_GUARD_NO_QSRV: c_int = 2;

unsafe extern "C" {
    pub(crate) fn twin_set_write_handler(f: Option<WriteFn>, ctx: *mut c_void);
    pub(crate) fn twin_set_putlog_handler(f: Option<PutLogFn>, ctx: *mut c_void);
    pub(crate) fn twin_pva_clients(connections: *mut u32, channels: *mut u32) -> c_int;
    pub(crate) fn twin_monitor_start(pv: *const c_char, f: Option<MonitorFn>, ctx: *mut c_void) -> *mut c_void;
    pub(crate) fn twin_monitor_stop(handle: *mut c_void);
    pub(crate) fn twin_monitor_meta(
        pv: *const c_char,
        units: *mut c_char,
        units_len: usize,
        precision: *mut c_int,
        desc: *mut c_char,
        desc_len: usize,
    ) -> c_int;
    pub(crate) fn twin_follow_start(
        names: *const *const c_char,
        count: usize,
        f: Option<FollowFn>,
        ctx: *mut c_void,
        handle: *mut *mut c_void,
        step: *mut c_int,
        failed_index: *mut usize,
    ) -> c_int;
    pub(crate) fn twin_follow_stop(handle: *mut c_void);
    pub(crate) fn twin_access_can_read(pv: *const c_char, user: *const c_char, host: *const c_char) -> c_int;
    pub(crate) fn twin_complete(record: *mut c_void, status: c_int, msg: *const c_char) -> c_int;
    pub(crate) fn twin_prepare(dbd_path: *const c_char) -> c_int;
    pub(crate) fn twin_add_initial_value(record: *const c_char, field: *const c_char, value: *const c_char) -> c_int;
    pub(crate) fn twin_initial_value_failures() -> c_int;
    pub(crate) fn twin_iocsh_load(path: *const c_char, macros: *const c_char) -> c_int;
    pub(crate) fn twin_iocsh_cmd(cmd: *const c_char) -> c_int;
    pub(crate) fn twin_iocsh_interactive() -> c_int;
    pub(crate) fn twin_ioc_running() -> c_int;
    pub(crate) fn twin_access_audit(why: *mut c_char, why_len: usize) -> c_int;
    pub(crate) fn twin_pva_guard_status() -> c_int;
    pub(crate) fn twin_env_set(name: *const c_char, value: *const c_char);
    pub(crate) fn twin_epics_version() -> *const c_char;
    pub(crate) fn twin_exit(code: c_int);
    pub(crate) fn twin_addr_new(name: *const c_char) -> *mut c_void;
    pub(crate) fn twin_addr_free(addr: *mut c_void);
    pub(crate) fn twin_addr_record(addr: *const c_void) -> *mut c_void;
    pub(crate) fn twin_addr_kind(addr: *const c_void) -> c_int;
    pub(crate) fn twin_addr_capacity(addr: *const c_void) -> u32;
    pub(crate) fn twin_post(
        addr: *mut c_void,
        kind: c_int,
        data: *const c_void,
        count: u32,
        meta: *const PostMeta,
    ) -> c_long;
    pub(crate) fn twin_put_noprocess(
        addr: *mut c_void,
        kind: c_int,
        data: *const c_void,
        count: u32,
        post_events: c_int,
    ) -> c_long;
    pub(crate) fn twin_get_field(addr: *mut c_void, kind: c_int, buf: *mut c_void, count: *mut u32) -> c_long;
    pub(crate) fn twin_put_field(addr: *mut c_void, kind: c_int, data: *const c_void, count: u32) -> c_long;
}
