//! Errors of the EPICS layer, each with the context needed to act on it.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EpicsError {
    #[error("the IOC core was already started in this process (one IOC per process)")]
    AlreadyStarted,
    #[error("cannot write the expanded DBD to {path}: {source}")]
    DbdWrite { path: PathBuf, source: std::io::Error },
    #[error("loading the DBD / registering support failed at step {step} (status {status})")]
    Prepare { step: &'static str, status: i32 },
    #[error("startup script {path} failed (iocsh status {status})")]
    Script { path: PathBuf, status: i32 },
    #[error("{0} initial (restored) values could not be applied: see the IOC output")]
    InitialValues(i32),
    #[error("startup script {0} did not call iocInit")]
    NotInitialised(PathBuf),
    #[error(
        "access security refused: {0}; see the access security file st.cmd loads (TWIN_ACF, rendered from [access] or access.file)"
    )]
    AccessSecurity(String),
    #[error("the PV Access put guard could not wrap QSRV2 (status {0}): see the IOC output")]
    PvaGuard(i32),
    #[error("iocsh command `{command}` failed (status {status})")]
    Command { command: String, status: i32 },
    #[error("no channel {0}")]
    NoSuchChannel(String),
    #[error("string contains a NUL byte: {0:?}")]
    Nul(String),
    #[error("record or field {0} not found")]
    NoRecord(String),
    #[error("{name}: field holds {actual}, expected {expected}")]
    WrongType { name: String, expected: &'static str, actual: &'static str },
    #[error("{name}: {count} elements do not fit its capacity of {capacity}")]
    TooLong { name: String, count: usize, capacity: u32 },
    #[error("{name}: EPICS status {status:#x} during {op}")]
    Status { name: String, op: &'static str, status: std::ffi::c_long },
}

pub type Result<T> = std::result::Result<T, EpicsError>;
