//! What the model core publishes: one immutable snapshot per change, on a
//! `tokio::sync::watch` channel. Every reader takes the latest; nobody
//! else keeps physics.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::envelope::EnvelopeView;
use super::physics::{Invalid, Physics};
use crate::machine::{QuadId, Setpoint};

/// The machine's settings as the model uses them.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Converter currents, by `PcId` [A].
    pub currents_a: Vec<f64>,
    /// Tripped converters, by `PcId`: their output is 0.
    pub tripped: Vec<bool>,
    /// Stuck converters, by `PcId`: the output they are stuck at [A].
    pub stuck_a: Vec<Option<f64>>,
    /// RF seen by the beam minus the master clock [Hz] (a fault).
    pub rf_offset_hz: f64,
    /// Converters without a magnet in the model, by `UnmodelledId` [A].
    pub unmodelled_a: Vec<f64>,
    /// RF master clock [kHz].
    pub rf_khz: f64,
    /// Hidden offsets (dx, dy) of the elements carrying magnets, by `AlignId` [m].
    pub offsets_m: Vec<[f64; 2]>,
    /// Hidden rolls about s of the elements carrying magnets, by `AlignId` [rad].
    pub rolls_rad: Vec<f64>,
    /// Hidden relative field errors of the dipoles, by `DipoleId`.
    pub dipole_field: Vec<f64>,
    /// Strength added to each magnet's converter strength, by `MagnetId`
    /// (the magnet's strength unit: K1 [1/m²], K2 [1/m³], kick [rad]).
    pub trims: Vec<f64>,
    /// Hidden relative calibration error of each magnet, by `MagnetId`.
    pub calibration: Vec<f64>,
    /// Quad switched onto the multiplexer.
    pub mux: Option<QuadId>,
    /// A switch to this quad is under way (relays open, `mux` is None).
    pub mux_pending: Option<QuadId>,
    /// Auxiliary supply setpoint [A] ...
    pub aux_a: f64,
    /// ... and whether the supply is on (off: no current flows).
    pub aux_on: bool,
    /// Automatic top-up on, and the index of its injection rate.
    pub topup_on: bool,
    pub topup_rate: usize,
    /// BPM read-out noise.
    pub noise: Noise,
    /// Hidden errors and faults of the lattice BPMs, by `BpmId`.
    pub bpms: Vec<super::bpm::BpmErrors>,
    /// The slow orbit feedback's settings.
    pub sofb: super::sofb::SofbSettings,
    /// The BBA service bumps the beam onto each quad (its bump variant).
    pub bba_bump: bool,
    /// Shadow mode's what-if overlay: added to what each followed
    /// converter delivers, by `PcId` [A].
    pub whatif_a: Vec<f64>,
}

impl Settings {
    /// What a converter delivers [A]: its current; 0 when tripped; where
    /// it stuck when stuck.
    pub fn output_a(&self, pc: crate::machine::PcId) -> f64 {
        if self.tripped.get(pc.0).copied().unwrap_or(false) {
            return 0.0;
        }
        let delivering = self.stuck_a.get(pc.0).copied().flatten().unwrap_or(self.currents_a[pc.0]);
        delivering + self.whatif_a.get(pc.0).copied().unwrap_or(0.0)
    }
}

impl Settings {
    /// The auxiliary supply's current flowing [A].
    pub fn aux_flowing_a(&self) -> f64 {
        if self.aux_on { self.aux_a } else { 0.0 }
    }
}

/// BPM read-out noise (Gaussian, seeded).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    pub on: bool,
    /// rms [µm], the unit of its record: what a client wrote is what the
    /// model holds, with no conversion round trip.
    pub rms_um: f64,
}

impl Noise {
    /// rms in effect [m]: 0 when switched off.
    pub fn effective_rms_m(self) -> f64 {
        if self.on { self.rms_um * 1e-6 } else { 0.0 }
    }
}

/// Counters of the recompute loop.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub recomputes: i32,
    pub writes: i32,
    /// Writes merged into the last recompute.
    pub merged: i32,
    pub duration: Duration,
}

/// The stored beam and the top-up engine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeamState {
    pub current_ma: f64,
    /// 0 without beam [h].
    pub lifetime_h: f64,
    /// Current of the single (camshaft) bunch [mA].
    pub single_bunch_ma: f64,
    /// An injection sequence is running.
    pub injecting: bool,
    /// Estimated time to the next injection (0 while injecting or off) [s].
    pub countdown_s: f64,
}

/// State of the BBA service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BbaStatus {
    Idle = 0,
    Running = 1,
    Done = 2,
    Aborted = 3,
    Error = 4,
}

/// One quad's published BBA result (NaN where a plane failed) [m, m, µm²].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuadResult {
    /// The quad's centre in the frame of the BPMs around it (x, y) [m].
    pub offset_m: [f64; 2],
    pub sigma_m: [f64; 2],
    /// The machine's BBA result: the reading of the nearest BPM at which
    /// the beam passes the quad's centre (x, y) [m].
    pub bpm_offset_m: [f64; 2],
    pub bpm_sigma_m: [f64; 2],
    /// Residual per degree of freedom, x + y [m²].
    pub chi2_m2: f64,
}

/// What clients see of the BBA service.
#[derive(Clone, Debug, PartialEq)]
pub struct BbaView {
    pub status: BbaStatus,
    pub message: String,
    /// The quad being measured.
    pub current: String,
    /// [%]
    pub progress: f64,
    /// Time left [s].
    pub eta_s: f64,
    /// Results by `QuadId` (None: not measured or not on the multiplexer).
    pub results: Vec<Option<QuadResult>>,
}

impl BbaView {
    pub fn idle(quads: usize) -> Self {
        Self {
            status: BbaStatus::Idle,
            message: String::new(),
            current: String::new(),
            progress: 0.0,
            eta_s: 0.0,
            results: vec![None; quads],
        }
    }
}

/// The model's state as its status record shows it (the mbbi's states,
/// in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelStatus {
    Valid = 0,
    Unstable = 1,
    NoOrbit = 2,
}

impl ModelStatus {
    /// The state's name (ZRST, ONST, TWST of `TWIN:MODEL:STATUS`).
    pub fn name(self) -> &'static str {
        match self {
            ModelStatus::Valid => "VALID",
            ModelStatus::Unstable => "UNSTABLE",
            ModelStatus::NoOrbit => "NO ORBIT",
        }
    }
}

/// Everything one publication carries.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Publication sequence number (every snapshot).
    pub seq: u64,
    /// Which computation the physics belongs to (changes with every recompute).
    pub computation: u64,
    /// When the computation was published: one time stamp for all its PVs.
    pub time: SystemTime,
    pub settings: Arc<Settings>,
    /// This computation, or why the model has no valid state.
    pub model: Result<Arc<Physics>, Invalid>,
    /// The latest valid computation (this one when valid).
    pub last_valid: Option<Arc<Physics>>,
    pub stats: Stats,
    pub beam: BeamState,
    pub bba: Arc<BbaView>,
    /// Setpoints clients wrote since the previous snapshot, with the value
    /// each record holds from that write.
    pub written: Arc<Vec<(Setpoint, f64)>>,
    /// The equilibrium envelope of a recent computation (it follows at the
    /// beam-update cadence: `core::envelope`).
    pub envelope: Option<Arc<EnvelopeView>>,
}

impl Snapshot {
    /// The model's state and why it is not valid ("" when valid).
    pub fn status(&self) -> (ModelStatus, &str) {
        match &self.model {
            Ok(_) => (ModelStatus::Valid, ""),
            Err(Invalid::Unstable(m)) => (ModelStatus::Unstable, m),
            Err(Invalid::NoOrbit(m)) => (ModelStatus::NoOrbit, m),
        }
    }
}
