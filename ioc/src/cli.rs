//! Command line of `twin-ioc`.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::CliOverrides;

/// A digital twin of a storage ring: an EPICS IOC (CA + PVA) serving a live model of the machine.
#[derive(Debug, Parser)]
#[command(name = "twin-ioc", version)]
pub struct Cli {
    /// iocsh startup script (loads records, calls iocInit).
    #[arg(default_value = "st.cmd")]
    pub st_cmd: PathBuf,

    /// PV prefix put before every PV name (passed to the script as macro and env `P`);
    /// overrides TWIN_PREFIX and the configuration file.
    #[arg(long, global = true)]
    pub prefix: Option<String>,

    /// Configuration file (else TWIN_CONFIG, else config/twin.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,

    /// Start from design: set the stored machine and state aside (kept for
    /// inspection) instead of refusing to start on a store that cannot be used.
    #[arg(long)]
    pub reset_store: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the model offline and print JSON (tunes, optics at BPMs, ORM).
    Model(ModelArgs),
    /// Write the EPICS records generated from the machine profile (into the
    /// profile's records directory, or OUT).
    Records {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the operations artefacts generated from the machine profile and
    /// its records: Phoebus alarm configuration (alarm/), Archiver Appliance
    /// request (archiver/), Phoebus screens (screens/); into ops/ or OUT.
    Ops {
        /// Output directory (default: ops/ in the working directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write this PV prefix instead of `$(P)` (the alarm and archiver files
        /// have no macros; the screens keep `$(P)` and get it as their macro
        /// P's default). Not the global --prefix, which is the IOC's prefix.
        #[arg(long, value_name = "PREFIX")]
        expand_prefix: Option<String>,
    },
    /// Load the machine data of the profile into the store (TWIN_STORE_URI or config [store]).
    Import {
        /// Another lattice file (lat2db JSON) instead of the profile's.
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
    /// Lattice file (lat2db JSON); default: the profile's.
    #[arg(long)]
    pub lattice: Option<PathBuf>,
    /// Steerer kick by its device name, e.g. HS4M2D1R=2e-5 (rad): the profile's
    /// steerer prefix + the element carrying the winding (HS4M2D1R acts on S4M2D1R).
    #[arg(long = "kick", value_name = "STEERER=RAD")]
    pub kicks: Vec<String>,
    /// Quadrupole offset, e.g. Q3M1D2R=1e-4,-5e-5 (m).
    #[arg(long = "offset", value_name = "QUAD=DX_M,DY_M")]
    pub offsets: Vec<String>,
    /// Scale a quadrupole's K1, e.g. Q1M2D1R=1.01.
    #[arg(long = "k1-scale", value_name = "QUAD=FACTOR")]
    pub k1_scales: Vec<String>,
    /// Roll of a magnet about s, e.g. Q1M1D1R=2e-4 (rad).
    #[arg(long = "roll", value_name = "MAGNET=RAD")]
    pub rolls: Vec<String>,
    /// Skew quadrupole component PolynomA[1] of a magnet, e.g. S1M1D1R=0.01 (m^-2).
    #[arg(long = "skew", value_name = "MAGNET=A1")]
    pub skews: Vec<String>,
    /// A dipole's relative field error (repeatable).
    #[arg(long = "dipole-field", value_name = "DIPOLE=REL")]
    pub dipole_fields: Vec<String>,
    /// Normal modes (coupled tunes, β of both modes at the BPMs) and the
    /// equilibrium envelope with radiation (mode and projected emittances).
    #[arg(long)]
    pub envelope: bool,
    /// 6D: closed orbit with cavities and radiation (fixed RF frequency).
    #[arg(long = "6d")]
    pub six_d: bool,
    /// Include the orbit response matrix of all steerers at all BPMs (m/rad).
    #[arg(long)]
    pub orm: bool,
    /// Include the closed orbit at every element entrance and the ring end.
    #[arg(long)]
    pub elements: bool,
}

impl Cli {
    /// What the command line sets in the configuration.
    pub fn overrides(&self) -> CliOverrides {
        CliOverrides { config_file: self.config.clone(), prefix: self.prefix.clone(), reset_store: self.reset_store }
    }
}
