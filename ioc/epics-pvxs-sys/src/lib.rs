//! Embeds the genuine EPICS 7 IOC core (RSRV for Channel Access, pvxs QSRV2
//! for PV Access) in a Rust process.
//!
//! Layers, bottom up:
//! - `raw`: declarations of the small C shim (`shim/`), private;
//! - [`prepare`] / [`Prepared`] / [`Ioc`]: start the IOC once per process,
//!   run a real `st.cmd` through iocsh;
//! - [`Field`]: typed handle to a record field, resolved once by name, with
//!   the update path ([`Field::post`]) and client-style access;
//! - [`WriteRequest`]: a write to a `DTYP "Twin"` output record, delivered to
//!   an async channel, finished through its [`Completion`];
//! - [`PutEntry`]: every accepted client put, for the put log;
//! - [`Follower`]: a read-only Channel Access client following another IOC's channels.
//!
//! All `unsafe` code of the project lives in this crate.
#![deny(clippy::undocumented_unsafe_blocks)]
mod alarm;
mod error;
mod field;
mod follow;
mod ioc;
mod monitor;
mod putlog;
mod raw;
mod value;
mod write;

pub use alarm::{Alarm, AlarmStatus, Severity, Update};
pub use error::{EpicsError, Result};
pub use field::{Field, RecordKey};
pub use follow::{FollowEvent, FollowUpdate, Follower};
pub use ioc::{Ioc, Prepared, PvaClients, epics_version, prepare};
pub use monitor::{Metadata, Monitor, MonitorUpdate, can_read, metadata};
pub use putlog::{Protocol, PutEntry};
pub use value::{EnumIndex, FieldType};
pub use write::{Completion, WriteRequest, WriteValue};
