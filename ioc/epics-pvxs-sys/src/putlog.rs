//! The put log's feed: every client put the write trap lets through
//! (Channel Access and PV Access), delivered to an async channel.
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use tokio::sync::mpsc::UnboundedSender;

use crate::raw;

/// Which server took the put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    ChannelAccess,
    PvAccess,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::ChannelAccess => "ca",
            Protocol::PvAccess => "pva",
        }
    }
}

/// One accepted client put, as the server authenticated its client.
#[derive(Clone, Debug, PartialEq)]
pub struct PutEntry {
    pub user: String,
    pub host: String,
    pub protocol: Protocol,
    /// `record.FIELD` as the client named it (with the prefix).
    pub channel: String,
    /// The value before and after the put, as text.
    pub old: String,
    pub new: String,
}

/// SAFETY (caller): `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: see the function's contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The handler the write trap calls after a put. Never blocks: it only
/// sends on an unbounded channel.
///
/// SAFETY (caller): ctx is the pointer installed by `install`, e a valid entry.
unsafe extern "C" fn on_put(ctx: *mut c_void, e: *const raw::PutEntry) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the leaked sender from `install`, never freed.
        let sender = unsafe { &*(ctx as *const UnboundedSender<PutEntry>) };
        // SAFETY: the shim passes a valid entry for the call's duration.
        let e = unsafe { &*e };
        // SAFETY: the entry's strings are NUL terminated and valid for the call.
        let entry = unsafe {
            PutEntry {
                user: text(e.user),
                host: text(e.host),
                protocol: if e.protocol == raw::PUT_PVA { Protocol::PvAccess } else { Protocol::ChannelAccess },
                channel: text(e.pv),
                old: text(e.old_value),
                new: text(e.new_value),
            }
        };
        // nobody listening (no put log configured): the entry is dropped
        let _ = sender.send(entry);
    }));
}

/// Installs the put-log handler. Called once, from `prepare`, before iocInit.
pub(crate) fn install(sender: UnboundedSender<PutEntry>) {
    let ctx = Box::into_raw(Box::new(sender)).cast::<c_void>();
    // SAFETY: ctx stays valid for the rest of the process (leaked on
    // purpose: clients may write until exit); on_put matches PutLogFn.
    unsafe { raw::twin_set_putlog_handler(Some(on_put), ctx) }
}
