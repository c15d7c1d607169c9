//! Typed handles to record fields, resolved once by name.
use std::ffi::{CString, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::alarm::{Update, to_epics_time};
use crate::error::{EpicsError, Result};
use crate::raw;
use crate::value::FieldType;

/// Identity of a record: equal for every [`Field`] of the record and for the
/// [`WriteRequest`](crate::WriteRequest)s it produces. Lets the application
/// map writes to its own typed targets without comparing names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(pub(crate) usize);

impl RecordKey {
    /// A key that names no record: for tests of routing tables without an IOC.
    pub fn detached(id: usize) -> Self {
        RecordKey(usize::MAX - id)
    }
}

/// An EPICS address (DBADDR) owned by this handle.
struct Addr(NonNull<c_void>);

// SAFETY: a DBADDR is plain data written once by dbNameToAddr and only read
// afterwards; the record it points to lives as long as the process (EPICS
// never frees records), and every access to the record through the shim
// takes the record's lock (dbScanLock or dbGet/PutField's own locking).
unsafe impl Send for Addr {}
// SAFETY: see Send; shared use only reads the DBADDR.
unsafe impl Sync for Addr {}

impl Drop for Addr {
    fn drop(&mut self) {
        // SAFETY: the pointer came from twin_addr_new and is freed once here.
        unsafe { raw::twin_addr_free(self.0.as_ptr()) }
    }
}

/// A typed handle to one field (usually VAL) of one record.
pub struct Field<T: FieldType + ?Sized> {
    addr: Addr,
    name: String,
    capacity: u32,
    _type: PhantomData<fn(&T)>,
}

fn kind_name(kind: i32) -> &'static str {
    match kind {
        raw::KIND_STRING => "string",
        raw::KIND_INT16 => "int16",
        raw::KIND_INT32 => "long",
        raw::KIND_ENUM => "enum",
        raw::KIND_DOUBLE => "double",
        _ => "another type",
    }
}

impl Addr {
    fn resolve(name: &str) -> Result<Self> {
        let c = CString::new(name).map_err(|_| EpicsError::Nul(name.into()))?;
        // SAFETY: c is a valid NUL-terminated string for the call's duration.
        let ptr = unsafe { raw::twin_addr_new(c.as_ptr()) };
        NonNull::new(ptr).map(Addr).ok_or_else(|| EpicsError::NoRecord(name.into()))
    }

    fn record_key(&self) -> RecordKey {
        // SAFETY: self.0 is a valid DBADDR; the call only reads it.
        RecordKey(unsafe { raw::twin_addr_record(self.0.as_ptr()) } as usize)
    }
}

impl Field<str> {
    /// Record identity of `name` without a type check.
    pub(crate) fn key_of(name: &str) -> Result<RecordKey> {
        Ok(Addr::resolve(name)?.record_key())
    }
}

impl<T: FieldType + ?Sized> Field<T> {
    /// Resolves `name` (a record name or `record.FIELD`) and checks that the
    /// field holds `T`: same element type, scalar or array as `T` says.
    pub(crate) fn resolve(name: &str) -> Result<Self> {
        let addr = Addr::resolve(name)?;
        // SAFETY: addr is a valid DBADDR from twin_addr_new.
        let (kind, capacity) =
            unsafe { (raw::twin_addr_kind(addr.0.as_ptr()), raw::twin_addr_capacity(addr.0.as_ptr())) };
        let shape_ok = if T::ARRAY { capacity >= 1 } else { capacity == 1 };
        if kind != T::KIND || !shape_ok {
            let actual = if capacity > 1 { "an array" } else { kind_name(kind) };
            return Err(EpicsError::WrongType {
                name: name.into(),
                expected: T::NAME,
                actual: if kind != T::KIND { kind_name(kind) } else { actual },
            });
        }
        Ok(Self { addr, name: name.into(), capacity, _type: PhantomData })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Maximum number of elements (NELM for arrays, 1 for scalars).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn record_key(&self) -> RecordKey {
        self.addr.record_key()
    }

    /// Update path: puts `value`, raises `update.alarm`, applies
    /// `update.time` (records with TSE=-2) and processes the record, so that
    /// monitors fire on CA and PVA. Takes the record lock; never call it from
    /// a write handler.
    pub fn post(&self, value: &T, update: &Update) -> Result<()> {
        let msg = update.alarm.as_ref().map(|a| CString::new(a.message.replace('\0', " ")));
        let msg = msg.transpose().map_err(|_| EpicsError::Nul(self.name.clone()))?;
        let (sec, nsec) = update.time.map(to_epics_time).unwrap_or((0, 0));
        let meta = raw::PostMeta {
            severity: update.alarm.as_ref().map_or(0, |a| a.severity as i32),
            status: update.alarm.as_ref().map_or(0, |a| a.status as i32),
            message: msg.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
            has_time: i32::from(update.time.is_some()),
            sec_past_epoch: sec,
            nsec,
        };
        // SAFETY: addr is a valid DBADDR, data points to n elements of
        // T::KIND that stay alive for the call, meta and its message
        // outlive the call.
        self.write(value, "post", |addr, data, n| unsafe { raw::twin_post(addr, T::KIND, data, n, &meta) })
    }

    /// Client-style write (dbPutField): processes the record like a CA/PVA
    /// put, so output records deliver a write to the application.
    pub fn put(&self, value: &T) -> Result<()> {
        // SAFETY: as in post; dbPutField takes the record lock itself.
        self.write(value, "put", |addr, data, n| unsafe { raw::twin_put_field(addr, T::KIND, data, n) })
    }

    /// Sets the field without processing the record: restores the last good
    /// value of an output record whose write was refused (the completion's
    /// processing then posts the monitors). Nothing is set when a client
    /// has written the record again meanwhile (RPRO): that newer value is
    /// processed next and is the one the twin decides on.
    pub fn set_without_processing(&self, value: &T) -> Result<()> {
        // SAFETY: as in post; the shim takes the record lock.
        self.write(value, "set", |addr, data, n| unsafe { raw::twin_put_noprocess(addr, T::KIND, data, n, 0) })
    }

    /// Sets the field without processing and posts its monitors: an output
    /// whose state changed because of another write (e.g. a deselected
    /// multiplexer switch). Returns false, nothing set, while a client's
    /// write is in flight on the record (it is newer): try again later.
    pub fn set_and_post(&self, value: &T) -> Result<bool> {
        self.check_len(value)?;
        let addr = self.addr.0.as_ptr();
        // SAFETY: as in post; the shim takes the record lock.
        let status = value.with_raw(&mut |data, n| unsafe { raw::twin_put_noprocess(addr, T::KIND, data, n, 1) });
        if status == raw::PUT_SKIPPED {
            return Ok(false);
        }
        self.status(status, "set").map(|()| true)
    }

    /// Checks the length, hands the raw value to `op`, converts the status.
    fn write(
        &self,
        value: &T,
        op: &'static str,
        call: impl Fn(*mut c_void, *const c_void, u32) -> std::ffi::c_long,
    ) -> Result<()> {
        self.check_len(value)?;
        let addr = self.addr.0.as_ptr();
        let status = value.with_raw(&mut |data, n| call(addr, data, n));
        self.status(status, op)
    }

    /// Client-style read (dbGetField).
    pub fn get(&self) -> Result<T::Owned> {
        let addr = self.addr.0.as_ptr();
        let (status, v) = T::read(self.capacity, &mut |buf, n| {
            // SAFETY: buf has room for *n elements of T::KIND (T::read
            // allocates `capacity` of them); dbGetField locks the record.
            unsafe { raw::twin_get_field(addr, T::KIND, buf, n) }
        });
        self.status(status, "get")?;
        Ok(v)
    }

    fn check_len(&self, value: &T) -> Result<()> {
        if value.count() > self.capacity as usize {
            return Err(EpicsError::TooLong { name: self.name.clone(), count: value.count(), capacity: self.capacity });
        }
        Ok(())
    }

    fn status(&self, status: std::ffi::c_long, op: &'static str) -> Result<()> {
        if status == 0 { Ok(()) } else { Err(EpicsError::Status { name: self.name.clone(), op, status }) }
    }
}

impl<T: FieldType + ?Sized> std::fmt::Debug for Field<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Field<{}>({})", T::NAME, self.name)
    }
}
