//! Where a BBA run stands: the measurement as done on the machine (select
//! the quad with the auxiliary supply at 0, step the supply through the
//! profile's currents, take the readings per step — the first after a step
//! is discarded — then supply to 0, multiplexer off, fit), then the refit
//! passes. Run by the core one step at a time, so client writes interleave.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use twin_engine::bba::{BbaFit, Step};
use twin_engine::lattice::{ElementId, Lattice, Plane};
use twin_engine::orbit_match::Steering;

use super::bump::Bump;
use crate::machine::QuadId;

/// Refitting after the measurements (from the raw data, no new readings):
/// each quad again, with the centres of the others and its own from the
/// previous fits in the analyst's model,
/// until no centre moves by more than `SETTLED_M` in a pass, at most
/// `MAX_REFIT_PASSES` passes.
pub const MAX_REFIT_PASSES: usize = 6;
/// Largest change of a centre in a pass that counts as settled [m].
pub const SETTLED_M: f64 = 0.05e-6;

/// Where a measurement stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Select(QuadId),
    Step {
        quad: QuadId,
        index: usize,
        x: Vec<Step>,
        y: Vec<Step>,
    },
    Finish {
        quad: QuadId,
        x: Vec<Step>,
        y: Vec<Step>,
    },
    /// Refit quad `index` of `measured` in pass `pass` (from 1).
    Refit {
        pass: usize,
        index: usize,
    },
}

/// The fit of one plane, or why it failed.
pub type PlaneFit = Result<BbaFit, String>;

/// Raw data of one measured quad, kept for the refit passes, and its
/// latest fit (x, y).
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub quad: QuadId,
    pub x: Vec<Step>,
    pub y: Vec<Step>,
    pub fits: [PlaneFit; 2],
    /// Steerer kicks a bump added while it was measured [rad] (none
    /// without the bump variant): the refits add them to the machine as set.
    pub kicks: Vec<(ElementId, Plane, f64)>,
    /// Measured with the bump variant on (σ counts a beam it left away
    /// from the centre).
    pub bumped: bool,
    /// Measured by an earlier run (refitted with this run's, not stored
    /// again).
    pub earlier: bool,
}

/// A run over one or more quads.
pub struct BbaRun {
    pub queue: VecDeque<QuadId>,
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub started: Instant,
    pub phase: Phase,
    pub measured: Vec<Measured>,
    /// Largest change of a centre in the current refit pass [m].
    pub pass_change_m: f64,
    /// When the current refit pass began.
    pub pass_started: Instant,
    /// How the analyst's models are steered onto the measured orbit (once
    /// per run).
    pub cache: AnalystCache,
    /// The bump in place for the quad being measured (bump variant).
    pub bump: Bump,
    /// The auxiliary supply's steps for the quad being measured, as a
    /// fraction of the procedure's: 1, or `RETRY_STEP_SCALE` once a step
    /// lost the orbit.
    pub step_scale: f64,
}

/// A quad whose step lost the orbit is measured again with its steps
/// scaled by this (once; a second loss fails it): on an orbit of
/// millimetres the quad's full step can shift the tunes onto a resonance.
pub const RETRY_STEP_SCALE: f64 = 0.5;

/// What the analyst computes once per run (again when what it depends on
/// changed): cloned into the parallel refits.
#[derive(Clone, Default)]
pub struct AnalystCache {
    /// How the analyst's models are steered onto the measured orbit.
    pub steering: Option<Arc<Steering>>,
    /// The machine as set without steering and errors, and its 6D closed
    /// orbit (element entrances and the ring end).
    pub unsteered: Option<Arc<Unsteered>>,
}

/// The machine as set without steering and errors, and its orbit.
pub struct Unsteered {
    pub lattice: Lattice,
    pub orbit: Vec<[f64; 6]>,
}

/// Progress shown when all quads are measured [%].
const MEASURED_PCT: f64 = 90.0;

impl BbaRun {
    /// A run over `quads`; the `earlier` measurements (of quads it does
    /// not measure again) are refitted with its own.
    pub fn new(quads: Vec<QuadId>, earlier: &[Measured]) -> Option<Self> {
        let mut queue: VecDeque<QuadId> = quads.into();
        let first = queue.pop_front()?;
        let measured = earlier
            .iter()
            .filter(|m| m.quad != first && !queue.contains(&m.quad))
            .map(|m| Measured { earlier: true, ..m.clone() })
            .collect();
        Some(Self {
            total: queue.len() + 1,
            queue,
            done: 0,
            failed: 0,
            started: Instant::now(),
            phase: Phase::Select(first),
            measured,
            pass_change_m: 0.0,
            pass_started: Instant::now(),
            cache: AnalystCache::default(),
            bump: Bump::default(),
            step_scale: 1.0,
        })
    }

    /// Fraction done [%] and the estimated time left [s]: the measurements
    /// make the first 90 %; the refit passes (their number
    /// depends on how fast the centres settle) each sweep the last 10 %,
    /// with the time left in the pass.
    pub fn progress(&self) -> (f64, f64) {
        let per = |done: usize, started: Instant| started.elapsed().as_secs_f64() / done.max(1) as f64;
        match &self.phase {
            Phase::Refit { index, .. } => {
                let n = self.measured.len().max(1);
                let eta = if *index == 0 { 0.0 } else { per(*index, self.pass_started) * (n - index) as f64 };
                (MEASURED_PCT + (100.0 - MEASURED_PCT) * *index as f64 / n as f64, eta)
            }
            _ if self.done == 0 => (0.0, 0.0),
            _ => (
                MEASURED_PCT * self.done as f64 / self.total as f64,
                per(self.done, self.started) * (self.total - self.done) as f64,
            ),
        }
    }
}
