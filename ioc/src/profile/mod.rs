//! The machine profile: everything specific to one ring — the PV names of
//! its diagnostics and RF, its BPM formats and slot counts, its BBA
//! hardware — read from `config/<machine>/profile.toml`. The Rust code
//! holds no machine names; a second ring needs a new profile, not code.
//! Data files named here are relative to the profile's directory.
mod load;

use std::path::PathBuf;

use serde::Deserialize;

pub use load::ProfileError;

/// One machine as its clients see it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Machine name (the store's `_id` of its lattice document).
    pub name: String,
    pub files: Files,
    pub magnets: MagnetRules,
    pub rf: Rf,
    pub tunes: Tunes,
    pub orbit: Orbit,
    /// The classic packed BPM vector, if the machine has one.
    pub packed_bpm: Option<PackedBpm>,
    /// Beam current and lifetime monitors.
    #[serde(default)]
    pub beam: BeamMonitors,
    /// The BBA multiplexer and its auxiliary supply, if the machine has one.
    pub multiplexer: Option<Multiplexer>,
}

/// Data files of the machine (paths relative to the profile; absolute
/// after loading).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// Lattice in the lat2db JSON format.
    pub lattice: PathBuf,
    /// Magnets: `[{type, name, magnetic_strength, pc}]`.
    pub magnets: PathBuf,
    /// Slots of the packed BPM vector: `[{bpm_name, idx}]` (idx 1-based).
    pub packed_slots: Option<PathBuf>,
    /// Slot order of the orbit vector: `{col: [{name}]}`.
    pub orbit_slots: PathBuf,
    /// Directory of the EPICS records generated from this profile
    /// (`twin-ioc records`); `st.cmd` loads them from `$(TWIN_DB)`.
    pub records: PathBuf,
}

/// How magnet names map onto the lattice, and the converters' limits.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MagnetRules {
    /// A steering winding's device name is this letter + the name of the
    /// lattice element carrying it (horizontal).
    pub horizontal_steerer_prefix: String,
    /// The same for vertical windings.
    pub vertical_steerer_prefix: String,
    /// Suffix of a converter's setpoint PV (`<PC>:set`).
    pub setpoint_suffix: String,
    /// Suffix of a converter's readback PV (`<PC>:rdbk`).
    pub readback_suffix: String,
    /// Quadrupole and sextupole families drive from 0 to this factor × design.
    pub family_limit_factor: f64,
    /// Steerers drive within ± this [A].
    pub steerer_limit_a: f64,
}

/// The RF master clock and the cavities that follow it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rf {
    /// Writable master clock PV [kHz].
    pub master_clock: String,
    /// Cavity frequency PVs following the master clock [kHz].
    #[serde(default)]
    pub cavities: Vec<String>,
    /// Drive limits around the design frequency [kHz].
    pub range_khz: f64,
}

/// The tune measurement.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tunes {
    /// frac(Q_x) · f_rev [kHz].
    pub horizontal: String,
    /// frac(Q_y) · f_rev [kHz].
    pub vertical: String,
}

/// The orbit interface: positions interleaved x, y per slot (nm), names,
/// counter, button signals and the PVA table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Orbit {
    pub slots: usize,
    pub positions: String,
    pub names: String,
    pub count: String,
    pub buttons: String,
    /// NTTable (PVA) with columns BPM, X, Y, A, B, C, D.
    pub table: String,
    /// Half-aperture that turns positions into button signals [m].
    pub button_scale_m: f64,
}

/// The classic packed vector: 8 rows × `slots` int16 (x, y, intensity z,
/// intensity s, status, gain, x rms, y rms), zero-padded to `length`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedBpm {
    pub data: String,
    pub count: String,
    pub slots: usize,
    pub length: usize,
    /// ± this position is ± 2^15 counts [m].
    pub full_scale_m: f64,
    /// Sign of x in the vector (−1: the newer electronics, data[slot] = −x).
    pub x_sign: f64,
    /// Status word of a working BPM.
    pub status_ok: i16,
}

/// Beam current and lifetime PVs (all show the one beam).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeamMonitors {
    /// Current monitors [mA].
    #[serde(default)]
    pub current: Vec<String>,
    /// Lifetime [h].
    #[serde(default)]
    pub lifetime: Vec<String>,
}

/// The BBA multiplexer: one auxiliary supply switched onto the extra
/// winding of one quadrupole at a time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Multiplexer {
    /// Per-quad switch `<switch_prefix><QUAD>` (bo).
    pub switch_prefix: String,
    /// Selected quad's name, or `off_name` (stringin).
    pub name: String,
    pub off_name: String,
    /// Disconnect all (bo).
    pub off: String,
    /// Quads whose names start with one of these are not on the multiplexer.
    #[serde(default)]
    pub exclude_prefixes: Vec<String>,
    /// The auxiliary supply's PV stem (`<supply>:set`, `:rdbk`, `:stat1`, `:stat2`).
    pub supply: String,
    /// Effective main-coil current per ampere of the supply.
    pub turns_ratio: f64,
    /// A quad may be (de)selected only with |supply| below this [A].
    pub switch_below_a: f64,
    /// Supply drive limit ± [A].
    pub supply_limit_a: f64,
    /// The BBA measurement: supply currents of the steps [A] ...
    pub bba_steps_a: Vec<f64>,
    /// ... and orbit readings per step (the first after a step is discarded).
    pub bba_readings_per_step: usize,
}

impl Multiplexer {
    /// Whether a quad is reachable by the multiplexer.
    pub fn reaches(&self, quad: &str) -> bool {
        !self.exclude_prefixes.iter().any(|p| quad.starts_with(p.as_str()))
    }
}

impl Profile {
    /// Reads and checks a profile; file paths become relative to the
    /// current directory.
    pub fn load(path: &std::path::Path) -> Result<Self, ProfileError> {
        load::load(path)
    }
}
