//! The machine profile: everything specific to one ring — the PV names of
//! its diagnostics and RF, its BPM formats and slot counts, its BBA
//! hardware — read from `config/<machine>/profile.toml`. The Rust code
//! holds no machine names; a second ring needs a new profile, not code.
//! Data files named here are relative to the profile's directory.
mod load;
mod ops;

use std::path::PathBuf;

use serde::Deserialize;

pub use load::ProfileError;
pub use ops::{Alarms, Annunciation, Archive, ArchivePolicy, Limits, Operations, SamplingMethod, Severity};

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
    /// The top-up injection engine, if the machine has one.
    pub topup: Option<TopUp>,
    /// Alarm limits and archive policies of the PV families.
    pub operations: Operations,
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
    /// The machine's measured BPM offsets `[{bpm_name, offset_x, offset_y}]`
    /// [mm] (the configuration's `[errors] bpm_offsets_measured`).
    #[serde(default)]
    pub bpm_offsets: Option<PathBuf>,
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
    /// Converters the machine's clients know that drive no magnet of the
    /// lattice data (served, stated as such, never silently ignored).
    #[serde(default)]
    pub unmodelled_converters: Vec<String>,
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
    /// Hardware readback of the frequency = master clock + offset [kHz].
    pub hardware_readback: Option<String>,
    /// The summed offset the hardware adds (orbit-length feed-forward) [kHz].
    pub offset: Option<String>,
}

/// The tune measurement: posted with every computation and re-posted at
/// the diagnostics rate, as a running measurement updates.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tunes {
    /// frac(Q_x) · f_rev [kHz].
    pub horizontal: String,
    /// frac(Q_y) · f_rev [kHz].
    pub vertical: String,
    /// Further names of the fractional tunes (x, y) [1].
    #[serde(default)]
    pub fractional: Vec<[String; 2]>,
    /// Names of the total tunes (x, y) [1].
    #[serde(default)]
    pub total: Vec<[String; 2]>,
    /// Counter of tune measurements.
    pub count: Option<String>,
    /// Horizontal spectrum of the tune measurement (0 … f_rev/2).
    pub spectrum: Option<String>,
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
    /// s of the slots [m].
    pub s_positions: Option<String>,
    /// NTTable (PVA) of the model optics at the BPMs: BPM, SPos, BetaHor,
    /// BetaVer, PhaseAdvanceHor, PhaseAdvanceVer.
    pub model_table: Option<String>,
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
    /// Status word of a BPM without signal (no power).
    #[serde(default)]
    pub status_dead: i16,
    /// Status word of a BPM whose gain control lost the signal
    /// (saturation: its positions are garbage).
    #[serde(default)]
    pub status_saturated: i16,
    /// Acquisition flag: low while a vector is acquired, high once it is out.
    pub ready: Option<String>,
}

/// Beam current and lifetime PVs. All monitors of one quantity show the
/// one beam: the first name is the record, the others are its aliases.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeamMonitors {
    /// Stored current [mA].
    #[serde(default)]
    pub current: Vec<String>,
    /// Lifetime [h].
    #[serde(default)]
    pub lifetime: Vec<String>,
    /// Multibunch current: the stored current without the single bunch [mA].
    #[serde(default)]
    pub multibunch_current: Vec<String>,
}

/// The top-up injection engine as its clients see it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    /// Automatic top-up on/off (bo) and its two state names.
    pub state: String,
    pub state_names: [String; 2],
    /// Estimated time to the next injection [s].
    pub countdown: String,
    /// Injection trigger (bi) and its two state names.
    pub trigger: String,
    /// An injection sequence is running (bi, same state names).
    pub busy: String,
    pub trigger_names: [String; 2],
    /// Injection rate (mbbo): names and rates [Hz].
    pub rate: String,
    pub rate_names: Vec<String>,
    pub rates_hz: Vec<f64>,
    /// Current of the single (camshaft) bunch [mA].
    pub single_bunch_current: String,
    /// Bunches filled by top-up (longin) and their number.
    pub max_bunches: String,
    pub max_bunches_value: i32,
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
    /// Relays disabled (bi, 0 = enabled).
    pub disable: String,
    /// Relay power supply (bi, 1 = on).
    pub relay_ps: String,
    /// Suffix of the supply's on/off command (bo) on `supply`.
    pub supply_command_suffix: String,
    /// Switching from one quad to another opens the relays first: the name
    /// shows `off_name` for this long before the new quad [s].
    pub relay_switch_s: f64,
    /// The BBA measurement: supply currents of the steps [A] ...
    pub bba_steps_a: Vec<f64>,
    /// ... and orbit readings per step (the first after a step is discarded).
    pub bba_readings_per_step: usize,
    /// Coverage factor of the published σ of a BBA centre: the fit's
    /// standard uncertainty times this (1 = the plain standard
    /// uncertainty; see README "Beam-based alignment").
    #[serde(default = "plain_coverage")]
    pub bba_sigma_coverage: f64,
}

fn plain_coverage() -> f64 {
    1.0
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
