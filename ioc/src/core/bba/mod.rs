//! The BBA service: runs the machine's BBA procedure on the twin through a
//! small [`Hardware`] trait (set a setpoint and recompute, read the orbit,
//! report), fits every measured quad and refits until the centres settle.
//! The core implements the trait; tests use a fake machine.
mod analysis;
mod bump;
mod run;
mod service;
#[cfg(test)]
mod sigma_study;
#[cfg(test)]
mod tests;

use twin_engine::lattice::Lattice;

pub use run::PlaneFit;
pub use service::{BbaService, Procedure};

use super::journal::BbaRecord;
use super::snapshot::BbaView;
use crate::machine::{QuadId, Setpoint};

/// Commands to the BBA service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BbaCommand {
    /// Measure one quad.
    Run(QuadId),
    /// Measure every quad on the multiplexer.
    RunAll,
    /// Stop: supply to 0, multiplexer off.
    Abort,
    /// Forget the centres found so far.
    Clear,
}

/// What the service needs of the machine.
pub trait Hardware {
    /// Sets a setpoint as a client's write would (validated, committed,
    /// recomputed, published); the error is the refusal.
    fn set(&mut self, setpoint: Setpoint, value: f64) -> Result<(), String>;
    /// Sets several setpoints as one client batch: all or none, one
    /// recompute (a bump's steerers together: one at a time would open
    /// the bump around the ring).
    fn set_all(&mut self, writes: &[(Setpoint, f64)]) -> Result<(), String>;
    /// One reading of the lattice BPMs (x, y) [m] with the read-out noise
    /// and the BPMs' errors; NaN where a BPM gives no number (dead, or
    /// its status flags the reading).
    fn read_orbit(&mut self) -> Result<[Vec<f64>; 2], String>;
    /// The lattice as set now: the analyst's starting point (the quads'
    /// offsets are replaced by the centres found so far).
    fn lattice(&self) -> &Lattice;
    /// The value a setpoint has now (its record's unit).
    fn value(&self, setpoint: Setpoint) -> f64;
    /// Shows the service's state to clients.
    fn report(&mut self, view: &BbaView);
    /// Stores a finished measurement.
    fn record(&mut self, record: BbaRecord) -> anyhow::Result<()>;
}
