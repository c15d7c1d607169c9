//! What the model core publishes: one immutable snapshot per change, on a
//! `tokio::sync::watch` channel. Every reader takes the latest; nobody
//! else keeps physics.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::physics::{Invalid, Physics};
use crate::machine::QuadId;

/// The machine's settings as the model uses them.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Converter currents, by `PcId` [A].
    pub currents_a: Vec<f64>,
    /// RF master clock [kHz].
    pub rf_khz: f64,
    /// Hidden offsets (dx, dy) per quad, by `QuadId` [m].
    pub offsets_m: Vec<[f64; 2]>,
    /// Quad switched onto the multiplexer.
    pub mux: Option<QuadId>,
    /// Auxiliary supply current [A].
    pub aux_a: f64,
    /// BPM read-out noise.
    pub noise: Noise,
}

/// BPM read-out noise (Gaussian, seeded).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    pub on: bool,
    pub rms_m: f64,
}

impl Noise {
    /// rms in effect [m]: 0 when switched off.
    pub fn effective_rms_m(self) -> f64 {
        if self.on { self.rms_m } else { 0.0 }
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

/// The stored beam.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeamState {
    pub current_ma: f64,
    /// 0 without beam [h].
    pub lifetime_h: f64,
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
    pub offset_m: [f64; 2],
    pub sigma_m: [f64; 2],
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
}
