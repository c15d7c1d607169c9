//! The follower: a read-only Channel Access client that follows another
//! IOC's channels (the twin's shadow mode).
//!
//! A [`Follower`] owns a CA client context of its own (preemptive
//! callbacks) with one channel and one `DBE_VALUE | DBE_ALARM` subscription
//! per name, requested as `DBR_TIME_DOUBLE` with the channel's native
//! element count (the current length of a dynamic array). It only
//! connects, subscribes and clears: nothing here or in `shim/twin_follow.c`
//! can write to a channel, and a unit test checks both source texts for
//! CA's write calls.
//!
//! Where it searches: libca reads the standard EPICS client environment
//! (`EPICS_CA_ADDR_LIST`, `EPICS_CA_AUTO_ADDR_LIST`, `EPICS_CA_SERVER_PORT`,
//! `EPICS_CA_NAME_SERVERS`, `EPICS_CA_MAX_ARRAY_BYTES`, ...) of the process
//! when [`Follower::start`] creates the context; later changes affect only
//! followers started later. In the twin's process this is the same
//! environment the embedded IOC was given (`prepare` sets variables with
//! `epicsEnvSet`, which sets the process environment).
//!
//! Events, on libca's threads, one at a time per follower, in order per
//! channel:
//! - `Connection { connected: true }` when a channel (re)connects, then an
//!   `Update` with its current value (after every reconnection too);
//! - `Update` on every value or alarm change;
//! - `Connection { connected: false }` when the channel disconnects (the
//!   subscription stays and is installed again on reconnection), and also
//!   when CA reports an update as failed (no read access, a value that
//!   does not convert to a double): the follower then has no valid value
//!   for the channel until its next `Update`.
use std::ffi::{CString, c_char, c_int, c_long, c_void};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::time::SystemTime;

use crate::alarm::from_epics_time;
use crate::error::{EpicsError, Result};
use crate::raw;

/// One value or alarm change of a followed channel.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowUpdate {
    /// Index of the channel's name in the names given to [`Follower::start`].
    pub index: usize,
    /// The value as doubles, the channel's native (current) element count.
    pub values: Vec<f64>,
    /// Alarm status (epicsAlarmCondition: 0 NO_ALARM, 3 HIHI, 17 UDF, ...).
    pub status: u16,
    /// Alarm severity: 0 NO_ALARM, 1 MINOR, 2 MAJOR, 3 INVALID.
    pub severity: u16,
    /// The source's time stamp (a never processed record gives 1990-01-01).
    pub stamp: SystemTime,
}

/// What a [`Follower`] reports.
#[derive(Clone, Debug, PartialEq)]
pub enum FollowEvent {
    /// The channel connected or disconnected (or its update failed; see the
    /// module documentation).
    Connection {
        index: usize,
        connected: bool,
    },
    Update(FollowUpdate),
}

type Sink = Box<dyn Fn(FollowEvent) + Send + Sync>;

/// Owns a CA client context of its own with one channel + one value|alarm
/// subscription per name. Drop destroys the context: no callback runs after
/// drop returns.
///
/// Drop waits for a callback in progress and blocks while libca shuts the
/// context's threads and circuits down (milliseconds): never drop a
/// follower inside its own sink, and keep the sink short (send to a channel).
pub struct Follower {
    handle: NonNull<c_void>,
    sink: *mut Sink,
    channels: usize,
}

// SAFETY: the handle is only passed back to twin_follow_stop, which attaches
// the calling thread to the follower's context itself (any thread will do);
// the sink is Send + Sync and only the shim's callbacks use it.
unsafe impl Send for Follower {}
// SAFETY: no method takes &self to reach the handle or the sink.
unsafe impl Sync for Follower {}

/// SAFETY (caller): `u.values` points at `u.count` doubles (or is NULL with
/// `u.count` 0), valid for the call.
unsafe fn update_from_raw(index: usize, u: &raw::FollowUpdate) -> FollowUpdate {
    let values = if u.values.is_null() || u.count == 0 {
        Vec::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(u.values, u.count as usize) }.to_vec()
    };
    FollowUpdate {
        index,
        values,
        status: u.status,
        severity: u.severity.min(3),
        stamp: from_epics_time(u.sec_past_epoch, u.nsec),
    }
}

/// The one callback of the shim, on a libca thread.
/// SAFETY (caller): ctx is the sink box `start` leaked, `u` NULL or a valid
/// update for the call's duration.
unsafe extern "C" fn on_event(ctx: *mut c_void, index: usize, event: c_int, u: *const raw::FollowUpdate) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx lives until twin_follow_stop has returned (Drop).
        let sink = unsafe { &*(ctx as *const Sink) };
        let event = match event {
            raw::FOLLOW_CONNECTED => FollowEvent::Connection { index, connected: true },
            raw::FOLLOW_DISCONNECTED | raw::FOLLOW_FAILED => FollowEvent::Connection { index, connected: false },
            // SAFETY: a non-NULL update is valid for the call, its values
            // are `count` doubles inside libca's receive buffer.
            raw::FOLLOW_UPDATE if !u.is_null() => FollowEvent::Update(unsafe { update_from_raw(index, &*u) }),
            _ => return,
        };
        sink(event);
    }));
}

/// The error of a failed `twin_follow_start`.
fn start_error(names: &[String], status: c_int, step: c_int, failed_index: usize) -> EpicsError {
    let context = || "CA client context".to_string();
    let channel = || names.get(failed_index).cloned().unwrap_or_else(context);
    let (name, op) = match step {
        raw::FOLLOW_STEP_MEMORY => (context(), "allocating the follower"),
        raw::FOLLOW_STEP_CONTEXT => (context(), "ca_context_create"),
        raw::FOLLOW_STEP_CHANNEL => (channel(), "ca_create_channel"),
        raw::FOLLOW_STEP_SUBSCRIPTION => (channel(), "ca_create_subscription"),
        _ => (context(), "starting the follower"),
    };
    EpicsError::Status { name, op, status: c_long::from(status) }
}

impl Follower {
    /// Creates the context, the channels and their subscriptions, and
    /// returns without waiting for any connection: channels connect (and
    /// reconnect) in the background. `sink` may already be called before
    /// this returns, and on error it may have seen events of the names
    /// before the failing one.
    pub fn start(names: &[String], sink: impl Fn(FollowEvent) + Send + Sync + 'static) -> Result<Follower> {
        let c_names = names
            .iter()
            .map(|n| CString::new(n.as_str()).map_err(|_| EpicsError::Nul(n.clone())))
            .collect::<Result<Vec<_>>>()?;
        let pointers: Vec<*const c_char> = c_names.iter().map(|c| c.as_ptr()).collect();
        let sink: *mut Sink = Box::into_raw(Box::new(Box::new(sink)));
        let (mut handle, mut step, mut failed_index) = (std::ptr::null_mut(), 0, 0);
        // SAFETY: the name pointers are valid NUL-terminated strings for the
        // call (libca copies them); the sink stays valid until Drop has
        // stopped the follower; on_event matches twin_follow_fn.
        let status = unsafe {
            raw::twin_follow_start(
                pointers.as_ptr(),
                pointers.len(),
                Some(on_event),
                sink.cast(),
                &mut handle,
                &mut step,
                &mut failed_index,
            )
        };
        match NonNull::new(handle) {
            Some(handle) if status == 0 => Ok(Follower { handle, sink, channels: names.len() }),
            _ => {
                // SAFETY: on failure the shim has destroyed the context (after
                // any callback in progress) and kept no pointer to the sink.
                drop(unsafe { Box::from_raw(sink) });
                Err(start_error(names, status, step, failed_index))
            }
        }
    }
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower").field("channels", &self.channels).finish_non_exhaustive()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        // SAFETY: the handle came from twin_follow_start and is stopped once;
        // after stop returns no callback runs, so the sink can be freed.
        unsafe {
            raw::twin_follow_stop(self.handle.as_ptr());
            drop(Box::from_raw(self.sink));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// CA's write calls, each written in two pieces so that this file's
    /// text does not contain them.
    const WRITE_CALLS: [[&str; 2]; 4] = [["ca_p", "ut"], ["ca_array_p", "ut"], ["ca_sg_array_p", "ut"], ["_p", "ut("]];

    #[test]
    fn sources_contain_no_channel_access_write() {
        let sources = [
            ("src/follow.rs", include_str!("follow.rs")),
            ("shim/twin_follow.c", include_str!("../shim/twin_follow.c")),
        ];
        for (file, text) in sources {
            assert!(text.contains("ca_create_subscription"), "{file}: not the follower's source");
            for call in WRITE_CALLS.map(|p| p.concat()) {
                assert!(!text.contains(&call), "{file} contains {call:?}: the follower must stay read-only");
            }
        }
    }

    #[test]
    fn epics_epoch_is_1990() {
        assert_eq!(from_epics_time(0, 0), SystemTime::UNIX_EPOCH + Duration::from_secs(631_152_000));
        let t = from_epics_time(1_000_000_000, 250_000_000);
        let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(since, Duration::new(1_631_152_000, 250_000_000));
    }

    fn collect() -> (Arc<Mutex<Vec<FollowEvent>>>, *mut Sink) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let sink: Sink = Box::new(move |e| seen.lock().unwrap().push(e));
        (events, Box::into_raw(Box::new(sink)))
    }

    #[test]
    fn trampoline_converts_events() {
        let (events, sink) = collect();
        let values = [1.5, -2.0, 3.25];
        let u = raw::FollowUpdate {
            values: values.as_ptr(),
            count: 3,
            status: 3,
            severity: 2,
            sec_past_epoch: 10,
            nsec: 5,
        };
        // SAFETY: sink is a live Sink box; u and values outlive the calls.
        unsafe {
            on_event(sink.cast(), 4, raw::FOLLOW_CONNECTED, std::ptr::null());
            on_event(sink.cast(), 4, raw::FOLLOW_UPDATE, &u);
            on_event(sink.cast(), 4, raw::FOLLOW_FAILED, std::ptr::null());
            on_event(sink.cast(), 4, raw::FOLLOW_UPDATE, std::ptr::null());
            on_event(sink.cast(), 1, raw::FOLLOW_DISCONNECTED, std::ptr::null());
            drop(Box::from_raw(sink));
        }
        let update = FollowUpdate {
            index: 4,
            values: values.to_vec(),
            status: 3,
            severity: 2,
            stamp: SystemTime::UNIX_EPOCH + Duration::new(631_152_010, 5),
        };
        let expected = vec![
            FollowEvent::Connection { index: 4, connected: true },
            FollowEvent::Update(update),
            FollowEvent::Connection { index: 4, connected: false },
            FollowEvent::Connection { index: 1, connected: false },
        ];
        assert_eq!(*events.lock().unwrap(), expected);
    }

    #[test]
    fn a_panicking_sink_does_not_unwind_into_c() {
        let sink: Sink = Box::new(|_| panic!("sink fails"));
        let sink = Box::into_raw(Box::new(sink));
        // SAFETY: sink is a live Sink box, freed after the call.
        unsafe {
            on_event(sink.cast(), 0, raw::FOLLOW_CONNECTED, std::ptr::null());
            drop(Box::from_raw(sink));
        }
    }

    #[test]
    fn a_name_with_nul_is_refused_before_ca() {
        let names = vec!["OK".to_string(), "BAD\0NAME".to_string()];
        assert!(matches!(Follower::start(&names, |_| {}), Err(EpicsError::Nul(n)) if n == "BAD\0NAME"));
    }

    #[test]
    fn an_empty_name_is_refused_by_ca_and_nothing_leaks() {
        let names = vec![String::new()];
        let err = Follower::start(&names, |_| {}).unwrap_err();
        assert!(matches!(err, EpicsError::Status { op: "ca_create_channel", .. }), "{err}");
    }

    #[test]
    fn start_and_drop_without_channels() {
        let follower = Follower::start(&[], |_| {}).expect("context");
        drop(follower);
    }
}
