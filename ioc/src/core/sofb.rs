//! The slow orbit feedback's settings as twin state: written through the
//! setpoint path like any other (`TWIN:SOFB:*`), read by the feedback
//! (`crate::sofb`) from the snapshots. The reference orbit taken from the
//! current one is set by the core after the computation it asks for
//! (`MachineState::after_computation`).
use std::sync::Arc;

use crate::machine::SOFB_DEFAULTS;
pub use crate::machine::SofbPlanes;

/// The feedback's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SofbSettings {
    pub on: bool,
    /// Fraction of the computed correction applied per iteration.
    pub gain: f64,
    /// Iterations per second [Hz].
    pub rate_hz: f64,
    /// Singular values below this fraction of the largest are cut.
    pub singular_cut: f64,
    pub planes: SofbPlanes,
    /// Pause while a BBA measurement runs (as the machine's feedback is
    /// handled during BBA).
    pub pause_for_bba: bool,
    /// The reference (golden) orbit: what each lattice BPM should read
    /// (x, y by `BpmId`) [m]; None: the design orbit.
    pub reference_m: Option<Arc<[Vec<f64>; 2]>>,
    /// The next computation's readings become the reference.
    pub take_reference: bool,
}

impl Default for SofbSettings {
    fn default() -> Self {
        Self {
            on: false,
            gain: SOFB_DEFAULTS.gain,
            rate_hz: SOFB_DEFAULTS.rate_hz,
            singular_cut: SOFB_DEFAULTS.singular_cut,
            planes: SofbPlanes::Both,
            pause_for_bba: SOFB_DEFAULTS.pause_for_bba,
            reference_m: None,
            take_reference: false,
        }
    }
}
