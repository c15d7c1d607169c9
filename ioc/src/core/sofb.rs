//! The slow orbit feedback's settings as twin state: written through the
//! setpoint path like any other (`TWIN:SOFB:*`), read by the feedback
//! (`crate::sofb`) from the snapshots. The reference orbit taken from the
//! current one is set by the core after the computation it asks for.
use std::sync::Arc;

use super::physics::Physics;
use super::snapshot::Settings;
pub use crate::machine::SofbPlanes;
use crate::machine::{SOFB_DEFAULTS, Schema};

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

/// Takes the reference asked for: what every lattice BPM reads of the
/// beam of `physics` without noise.
pub fn take_reference(settings: &mut Settings, schema: &Schema, physics: &Physics) {
    if !std::mem::take(&mut settings.sofb.take_reference) {
        return;
    }
    let mut reference = [Vec::new(), Vec::new()];
    for (b, e) in schema.bpms.iter().zip(&settings.bpms) {
        let [x, y] = e.ideal_reading(physics.position_m(b.element.0));
        reference[0].push(x);
        reference[1].push(y);
    }
    settings.sofb.reference_m = Some(Arc::new(reference));
}
