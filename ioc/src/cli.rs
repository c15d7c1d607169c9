//! Command line of `twin-ioc`.
use std::path::PathBuf;

use clap::Parser;

use crate::prefix::Prefix;

/// BESSY II digital twin: an EPICS IOC (CA + PVA) serving a live model of the storage ring.
#[derive(Debug, Parser)]
#[command(name = "twin-ioc", version)]
pub struct Cli {
    /// iocsh startup script (loads records, calls iocInit).
    #[arg(default_value = "st.cmd")]
    pub st_cmd: PathBuf,

    /// PV prefix put before every PV name, passed to the script as macro and env `P`.
    #[arg(long, env = "TWIN_PREFIX", default_value = "TWIN:")]
    pub prefix: String,
}

/// What the IOC run needs from the command line.
#[derive(Debug)]
pub struct IocOptions {
    pub st_cmd: PathBuf,
    pub prefix: Prefix,
}

impl Cli {
    pub fn ioc_options(self) -> IocOptions {
        IocOptions {
            st_cmd: self.st_cmd,
            prefix: Prefix::new(self.prefix),
        }
    }
}
