//! Start-up of the one IOC a process may hold.
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::error::{EpicsError, Result};
use crate::field::{Field, RecordKey};
use crate::putlog::{self, PutEntry};
use crate::raw;
use crate::value::FieldType;
use crate::write::{WriteRequest, install};

/// The expanded DBD (base + pvxsIoc + the Twin device support), built in.
const EXPANDED_DBD: &str = include_str!(concat!(env!("OUT_DIR"), "/twin.dbd"));

/// Process-wide guard: EPICS keeps one global database.
static STARTED: AtomicBool = AtomicBool::new(false);

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| EpicsError::Nul(s.into()))
}

/// Sets an EPICS environment variable (epicsEnvSet: visible to iocsh macros
/// and to getenv in the servers).
fn env_set(name: &str, value: &str) -> Result<()> {
    let (n, v) = (cstring(name)?, cstring(value)?);
    // SAFETY: both strings are valid for the call; epicsEnvSet copies them.
    unsafe { raw::twin_env_set(n.as_ptr(), v.as_ptr()) };
    Ok(())
}

/// EPICS Base version, e.g. "7.0.10.1-DEV".
pub fn epics_version() -> &'static str {
    // SAFETY: returns a pointer to a static string literal.
    unsafe { CStr::from_ptr(raw::twin_epics_version()) }.to_str().unwrap_or("?")
}

/// Loads the DBD and registers all record, device and server support, after
/// setting `env` (e.g. `PVXS_QSRV_ENABLE`). Once per process.
pub fn prepare(env: &[(&str, &str)]) -> Result<Prepared> {
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(EpicsError::AlreadyStarted);
    }
    for (name, value) in env {
        env_set(name, value)?;
    }
    let path = std::env::temp_dir().join(format!("twin-ioc-{}.dbd", std::process::id()));
    std::fs::write(&path, EXPANDED_DBD).map_err(|source| EpicsError::DbdWrite { path: path.clone(), source })?;
    let c_path = cstring(&path.to_string_lossy())?;
    // SAFETY: c_path is valid for the call; the STARTED guard makes this the
    // only call in the process.
    let status = unsafe { raw::twin_prepare(c_path.as_ptr()) };
    let _ = std::fs::remove_file(&path);
    if status != 0 {
        let step = match status {
            -1 => "dbLoadDatabase",
            -2 => "registryDeviceSupportAdd",
            -4 => "initHookRegister",
            -5 => "asTrapWriteRegisterListener",
            _ => "registerAllRecordDeviceDrivers",
        };
        return Err(EpicsError::Prepare { step, status });
    }
    let (tx, rx) = unbounded_channel();
    install(tx);
    let (put_tx, puts) = unbounded_channel();
    putlog::install(put_tx);
    Ok(Prepared { writes: rx, puts })
}

/// An IOC whose database definitions are loaded, before its startup script.
pub struct Prepared {
    writes: UnboundedReceiver<WriteRequest>,
    puts: UnboundedReceiver<PutEntry>,
}

impl Prepared {
    /// Sets an environment variable for the startup script (e.g. `P`).
    pub fn set_env(&self, name: &str, value: &str) -> Result<()> {
        env_set(name, value)
    }

    /// Puts `value` into `record.field` before the records initialise (as
    /// autosave's pass 0): outputs then start from restored values and
    /// their PINI processing carries them.
    pub fn set_initial_value(&self, record: &str, field: &str, value: &str) -> Result<()> {
        let (r, f, v) = (cstring(record)?, cstring(field)?, cstring(value)?);
        // SAFETY: all three strings are valid for the call; the shim copies them.
        let status = unsafe { raw::twin_add_initial_value(r.as_ptr(), f.as_ptr(), v.as_ptr()) };
        if status != 0 {
            return Err(EpicsError::Command { command: format!("initial value {record}.{field}"), status });
        }
        Ok(())
    }

    /// Runs `script` through iocsh with `macros` ("P=TWIN:,X=1"). The script
    /// must load records and call `iocInit`, like any IOC's st.cmd.
    pub fn run_script(self, script: &Path, macros: &str) -> Result<Ioc> {
        let c_path = cstring(&script.to_string_lossy())?;
        let c_macros = cstring(macros)?;
        // SAFETY: both strings are valid for the call.
        let status = unsafe { raw::twin_iocsh_load(c_path.as_ptr(), c_macros.as_ptr()) };
        if status != 0 {
            return Err(EpicsError::Script { path: script.into(), status });
        }
        // SAFETY: reads a global flag.
        if unsafe { raw::twin_ioc_running() } == 0 {
            return Err(EpicsError::NotInitialised(PathBuf::from(script)));
        }
        // SAFETY: reads a counter written during iocInit, which has returned.
        let failures = unsafe { raw::twin_initial_value_failures() };
        if failures != 0 {
            return Err(EpicsError::InitialValues(failures));
        }
        audit_access_security()?;
        // SAFETY: reads a status the init hook wrote during iocInit.
        match unsafe { raw::twin_pva_guard_status() } {
            raw::PVA_GUARD_INSTALLED | raw::PVA_GUARD_NO_QSRV => {}
            other => return Err(EpicsError::PvaGuard(other)),
        }
        Ok(Ioc { writes: Some(self.writes), puts: Some(self.puts) })
    }
}

/// Refuses an IOC whose access security would let clients write the
/// records' configuration fields (level 1) or would bypass the write trap
/// (a write rule without TRAPWRITE), or that loaded no access security file.
fn audit_access_security() -> Result<()> {
    let mut why = [0 as c_char; 256];
    // SAFETY: the shim writes at most why.len() bytes, NUL-terminated; it
    // reads asLib's tables, which iocInit has built and nothing changes now.
    let status = unsafe { raw::twin_access_audit(why.as_mut_ptr(), why.len()) };
    if status == 0 {
        return Ok(());
    }
    // SAFETY: why is NUL-terminated by snprintf in the shim.
    let text = unsafe { CStr::from_ptr(why.as_ptr()) };
    Err(EpicsError::AccessSecurity(text.to_string_lossy().into_owned()))
}

/// The running IOC.
pub struct Ioc {
    writes: Option<UnboundedReceiver<WriteRequest>>,
    puts: Option<UnboundedReceiver<PutEntry>>,
}

/// PV Access clients of the IOC's QSRV2 server at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PvaClients {
    /// Open client connections.
    pub connections: u32,
    /// Channels open on them (one per PV and client connection).
    pub channels: u32,
}

impl Ioc {
    /// How many PVA clients and channels QSRV2 serves now; `None` without QSRV2.
    pub fn pva_clients(&self) -> Option<PvaClients> {
        let (mut connections, mut channels) = (0u32, 0u32);
        // SAFETY: both pointers are valid for the call; the shim only reads
        // pvxs's server report (thread safe) and writes the two counts.
        let status = unsafe { raw::twin_pva_clients(&mut connections, &mut channels) };
        (status == 0).then_some(PvaClients { connections, channels })
    }

    /// The stream of accepted client puts (the put log); `None` after the first call.
    pub fn take_puts(&mut self) -> Option<UnboundedReceiver<PutEntry>> {
        self.puts.take()
    }

    /// The stream of writes to `DTYP "Twin"` records; `None` after the first call.
    pub fn take_writes(&mut self) -> Option<UnboundedReceiver<WriteRequest>> {
        self.writes.take()
    }

    /// Resolves a typed handle to `name` (record or `record.FIELD`).
    pub fn field<T: FieldType + ?Sized>(&self, name: &str) -> Result<Field<T>> {
        Field::resolve(name)
    }

    /// Identity of the record `name`, whatever its type (for routing writes).
    pub fn record_key(&self, name: &str) -> Result<RecordKey> {
        Field::<str>::key_of(name)
    }

    /// Runs one iocsh command (`dbl`, `dbpf X 1`, ...).
    pub fn shell(&self, command: &str) -> Result<()> {
        let c = cstring(command)?;
        // SAFETY: c is valid for the call; iocsh is reentrant per call.
        let status = unsafe { raw::twin_iocsh_cmd(c.as_ptr()) };
        if status != 0 {
            return Err(EpicsError::Command { command: command.into(), status });
        }
        Ok(())
    }

    /// Interactive iocsh on stdin/stdout; returns when the user types
    /// `exit` or stdin ends. Blocks the calling thread.
    pub fn interactive_shell(&self) -> i32 {
        // SAFETY: iocsh(NULL) reads stdin; no Rust state is shared with it.
        unsafe { raw::twin_iocsh_interactive() }
    }

    /// Stops the servers and exits the process through epicsExit, which
    /// runs the IOC's exit handlers (CA and PVA servers shut down).
    pub fn exit(&self, code: i32) -> ! {
        // SAFETY: epicsExit runs registered exit handlers and calls exit().
        unsafe { raw::twin_exit(code) };
        std::process::exit(code)
    }
}
