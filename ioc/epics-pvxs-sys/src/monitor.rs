//! Database monitors for the twin's own servers (the HTTP API's PV Web
//! Socket): a channel's value and alarm changes, the first at once,
//! delivered to a callback on the twin's event task.
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::time::SystemTime;

use crate::alarm::from_epics_time;
use crate::error::{EpicsError, Result};
use crate::raw;

/// One change of a monitored channel.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorUpdate {
    /// The numbers (an enum's index); empty for a string.
    pub values: Vec<f64>,
    /// A string's value, or an enum's state name.
    pub text: Option<String>,
    /// A string array's elements (empty otherwise).
    pub strings: Vec<String>,
    /// 0 NO_ALARM, 1 MINOR, 2 MAJOR, 3 INVALID.
    pub severity: u16,
    pub time: SystemTime,
}

/// Units, precision and description of a channel's record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub units: String,
    /// None: the record has no PREC.
    pub precision: Option<i32>,
    pub description: String,
}

type Callback = Box<dyn Fn(MonitorUpdate) + Send + Sync>;

/// A subscription; dropping it stops the callbacks (waits for one in progress).
pub struct Monitor {
    handle: NonNull<c_void>,
    callback: *mut Callback,
}

// SAFETY: the handle is only passed back to twin_monitor_stop, which EPICS
// allows from any thread; the callback is Send + Sync.
unsafe impl Send for Monitor {}

/// Bytes of one element of a string array (EPICS MAX_STRING_SIZE).
const STRING_SIZE: usize = 40;

/// SAFETY (caller): ctx is the callback box `start` leaked, `u` a valid update.
unsafe extern "C" fn on_update(ctx: *mut c_void, u: *const raw::MonitorUpdate) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx lives until twin_monitor_stop has returned (Drop).
        let callback = unsafe { &*(ctx as *const Callback) };
        // SAFETY: the shim passes a valid update for the call's duration.
        let u = unsafe { &*u };
        let values = if u.values.is_null() {
            Vec::new()
        } else {
            // SAFETY: `count` doubles at `values`, valid for the call.
            unsafe { std::slice::from_raw_parts(u.values, u.count as usize) }.to_vec()
        };
        // SAFETY: NUL-terminated text valid for the call, or NULL.
        let text = (!u.text.is_null()).then(|| unsafe { CStr::from_ptr(u.text) }.to_string_lossy().into_owned());
        let strings = if u.strings.is_null() {
            Vec::new()
        } else {
            // SAFETY: `count` strings of STRING_SIZE bytes at `strings`, each
            // NUL-terminated by the shim, valid for the call.
            let bytes = unsafe { std::slice::from_raw_parts(u.strings.cast::<u8>(), u.count as usize * STRING_SIZE) };
            bytes
                .chunks(STRING_SIZE)
                .map(|b| CStr::from_bytes_until_nul(b).map(|c| c.to_string_lossy().into_owned()).unwrap_or_default())
                .collect()
        };
        let time = from_epics_time(u.sec_past_epoch, u.nsec);
        callback(MonitorUpdate { values, text, strings, severity: u16::try_from(u.severity).unwrap_or(3), time });
    }));
}

impl Monitor {
    /// Subscribes to `name` (record or record.FIELD).
    pub fn start(name: &str, callback: impl Fn(MonitorUpdate) + Send + Sync + 'static) -> Result<Self> {
        let c_name = CString::new(name).map_err(|_| EpicsError::Nul(name.into()))?;
        let callback: *mut Callback = Box::into_raw(Box::new(Box::new(callback)));
        // SAFETY: c_name is valid for the call; callback stays valid until
        // Drop has stopped the monitor; on_update matches twin_monitor_fn.
        let handle = unsafe { raw::twin_monitor_start(c_name.as_ptr(), Some(on_update), callback.cast()) };
        match NonNull::new(handle) {
            Some(handle) => Ok(Self { handle, callback }),
            None => {
                // SAFETY: the shim did not keep the pointer (no monitor).
                drop(unsafe { Box::from_raw(callback) });
                Err(EpicsError::NoSuchChannel(name.into()))
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // SAFETY: the handle came from twin_monitor_start; after stop
        // returns no callback runs, so the box can be freed.
        unsafe {
            raw::twin_monitor_stop(self.handle.as_ptr());
            drop(Box::from_raw(self.callback));
        }
    }
}

/// Units, precision and description of `name`'s record.
pub fn metadata(name: &str) -> Result<Metadata> {
    let c_name = CString::new(name).map_err(|_| EpicsError::Nul(name.into()))?;
    let (mut units, mut desc) = ([0 as c_char; 64], [0 as c_char; 64]);
    let mut precision: c_int = -1;
    // SAFETY: the buffers and their lengths are valid; the shim writes
    // NUL-terminated text within them.
    let status = unsafe {
        raw::twin_monitor_meta(
            c_name.as_ptr(),
            units.as_mut_ptr(),
            units.len(),
            &mut precision,
            desc.as_mut_ptr(),
            desc.len(),
        )
    };
    if status != 0 {
        return Err(EpicsError::NoSuchChannel(name.into()));
    }
    // SAFETY: NUL-terminated by the shim (snprintf) or left empty.
    let text = |b: &[c_char; 64]| unsafe { CStr::from_ptr(b.as_ptr()) }.to_string_lossy().into_owned();
    Ok(Metadata { units: text(&units), precision: (precision >= 0).then_some(precision), description: text(&desc) })
}

/// Whether asLib lets `user` on `host` read `name` (gets and monitors of
/// servers the twin runs itself).
pub fn can_read(name: &str, user: &str, host: &str) -> bool {
    let (Ok(n), Ok(u), Ok(h)) = (CString::new(name), CString::new(user), CString::new(host)) else { return false };
    // SAFETY: the three strings are valid for the call; the shim reads asLib.
    unsafe { raw::twin_access_can_read(n.as_ptr(), u.as_ptr(), h.as_ptr()) != 0 }
}
