//! Command line of `twin-ioc`.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::prefix::Prefix;

/// BESSY II digital twin: an EPICS IOC (CA + PVA) serving a live model of the storage ring.
#[derive(Debug, Parser)]
#[command(name = "twin-ioc", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// iocsh startup script (loads records, calls iocInit).
    #[arg(default_value = "st.cmd")]
    pub st_cmd: PathBuf,

    /// PV prefix put before every PV name, passed to the script as macro and env `P`.
    #[arg(long, env = "TWIN_PREFIX", default_value = "TWIN:")]
    pub prefix: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the model offline and print JSON (tunes, optics at BPMs, ORM).
    Model(ModelArgs),
    /// Print the substitutions generated from config/: power converters
    /// (db/bessy2_pc.substitutions) or, with --bba, the quads (db/bessy2_bba.substitutions).
    Substitutions {
        #[arg(long)]
        bba: bool,
    },
    /// Load the machine data of config/ into the store (TWIN_STORE_URI or config [store]).
    Import {
        /// Another lattice file (lat2db JSON) instead of the configured one.
        #[arg(long)]
        lattice: Option<PathBuf>,
    },
    /// Write the store's machine and state back to files.
    Export {
        /// Output directory.
        #[arg(long, default_value = "var/export")]
        out: PathBuf,
    },
}

/// Arguments of `twin-ioc model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Lattice file (lat2db JSON).
    #[arg(long, default_value = "config/bessy2/bessy2_storage_ring_reflat.json")]
    pub lattice: PathBuf,
    /// Steerer kick, e.g. HS4M2D1R=2e-5 (rad); HS4M2D1R acts on S4M2D1R.
    #[arg(long = "kick", value_name = "STEERER=RAD")]
    pub kicks: Vec<String>,
    /// Quadrupole offset, e.g. Q3M1D2R=1e-4,-5e-5 (m).
    #[arg(long = "offset", value_name = "QUAD=DX_M,DY_M")]
    pub offsets: Vec<String>,
    /// Scale a quadrupole's K1, e.g. Q1M2D1R=1.01.
    #[arg(long = "k1-scale", value_name = "QUAD=FACTOR")]
    pub k1_scales: Vec<String>,
    /// 6D: closed orbit with cavities and radiation (fixed RF frequency).
    #[arg(long = "6d")]
    pub six_d: bool,
    /// Include the orbit response matrix of all steerers at all BPMs (m/rad).
    #[arg(long)]
    pub orm: bool,
}

/// What the IOC run needs from the command line.
#[derive(Debug)]
pub struct IocOptions {
    pub st_cmd: PathBuf,
    pub prefix: Prefix,
}

impl Cli {
    pub fn ioc_options(&self) -> IocOptions {
        IocOptions { st_cmd: self.st_cmd.clone(), prefix: Prefix::new(self.prefix.clone()) }
    }
}
