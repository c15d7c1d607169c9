//! The write path: `DTYP "Twin"` output records hand their value to Rust.
use std::ffi::{CStr, CString, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use tokio::sync::mpsc::UnboundedSender;

use crate::field::RecordKey;
use crate::raw;
use crate::value::EnumIndex;

/// The value a client wrote, after the record's own processing (DRVH/DRVL
/// clamping for ao).
#[derive(Clone, Debug, PartialEq)]
pub enum WriteValue {
    Double(f64),
    Long(i32),
    Enum(EnumIndex),
    Text(String),
    DoubleArray(Vec<f64>),
}

/// One write to an output record. The record stays busy (PACT) and a
/// client's put-callback stays pending until `completion` is finished.
#[derive(Debug)]
pub struct WriteRequest {
    pub record: RecordKey,
    pub value: WriteValue,
    pub completion: Completion,
}

/// Finishes an asynchronous write exactly once. Dropping it unfinished
/// fails the write (WRITE/INVALID alarm) so no record stays busy forever.
#[derive(Debug)]
pub struct Completion {
    record: RecordPtr,
    armed: bool,
}

#[derive(Debug)]
struct RecordPtr(*mut c_void);

// SAFETY: the pointer identifies a record, which lives as long as the
// process; it is only handed back to twin_complete, which is thread safe
// (it queues a callback that takes the record lock).
unsafe impl Send for RecordPtr {}

impl Completion {
    /// The write was handled: the record finishes processing, monitors and
    /// the client's put-callback fire.
    pub fn succeed(mut self) {
        self.finish(0, None);
    }

    /// The write was refused: the record goes into WRITE/INVALID alarm with
    /// `message` (at most 39 bytes reach the client) and the put completes.
    pub fn fail(mut self, message: &str) {
        self.finish(1, Some(message));
    }

    fn finish(&mut self, status: c_int, message: Option<&str>) {
        if !self.armed {
            return;
        }
        self.armed = false;
        let msg = message.map(|m| CString::new(m.replace('\0', " ")).unwrap_or_default());
        let ptr = msg.as_ref().map_or(std::ptr::null(), |m| m.as_ptr());
        // SAFETY: the record pointer came from the device support with
        // PACT set and is completed exactly once (armed flag); msg outlives
        // the call, which copies it.
        let rc = unsafe { raw::twin_complete(self.record.0, status, ptr) };
        if rc != 0 {
            tracing::error!(rc, "callbackRequestProcessCallback refused a completion");
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.finish(1, Some("write abandoned"));
    }
}

/// Decodes the C event. Returns None for a kind the shim never sends.
///
/// SAFETY (caller): `ev` points to a valid event whose pointers are valid
/// for the duration of the call.
unsafe fn decode(ev: &raw::WriteEvent) -> Option<WriteValue> {
    Some(match (ev.kind, ev.darray.is_null()) {
        (raw::KIND_DOUBLE, true) => WriteValue::Double(ev.dval),
        (raw::KIND_DOUBLE, false) => {
            // SAFETY: the shim passes the aao buffer with NORD elements.
            let s = unsafe { std::slice::from_raw_parts(ev.darray, ev.count as usize) };
            WriteValue::DoubleArray(s.to_vec())
        }
        (raw::KIND_INT32, _) => WriteValue::Long(ev.lval),
        (raw::KIND_ENUM, _) => WriteValue::Enum(EnumIndex(u16::try_from(ev.lval).ok()?)),
        (raw::KIND_STRING, _) if !ev.sval.is_null() => {
            // SAFETY: the shim passes the stringout VAL, NUL terminated.
            let s = unsafe { CStr::from_ptr(ev.sval) };
            WriteValue::Text(s.to_string_lossy().into_owned())
        }
        _ => return None,
    })
}

/// The handler the device support calls, with the record locked. Never
/// blocks: it only sends on an unbounded channel.
///
/// SAFETY (caller): ctx is the pointer installed by `install`, ev a valid event.
unsafe extern "C" fn on_write(ctx: *mut c_void, ev: *const raw::WriteEvent) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the leaked sender from `install`, never freed.
        let sender = unsafe { &*(ctx as *const UnboundedSender<WriteRequest>) };
        // SAFETY: the shim passes a valid event for the call's duration.
        let ev = unsafe { &*ev };
        // SAFETY: see above.
        let Some(value) = (unsafe { decode(ev) }) else {
            return -1;
        };
        let request = WriteRequest {
            record: RecordKey(ev.record as usize),
            value,
            completion: Completion { record: RecordPtr(ev.record), armed: true },
        };
        match sender.send(request) {
            Ok(()) => 0,
            Err(rejected) => {
                // Nobody listens: the shim fails the write synchronously, so
                // the completion must not also request reprocessing.
                let mut req = rejected.0;
                req.completion.armed = false;
                -1
            }
        }
    }));
    result.unwrap_or(-1)
}

/// Installs the write handler. Called once, from `prepare`, before iocInit.
pub(crate) fn install(sender: UnboundedSender<WriteRequest>) {
    let ctx = Box::into_raw(Box::new(sender)).cast::<c_void>();
    // SAFETY: ctx stays valid for the rest of the process (leaked on
    // purpose: records may write until exit); on_write matches WriteFn.
    unsafe { raw::twin_set_write_handler(Some(on_write), ctx) }
}
