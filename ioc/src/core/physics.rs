//! One model computation: the fixed-RF closed orbit (6D with cavities and
//! radiation, what the BPMs see), 6D tunes, 4D optics, chromaticity and the
//! radiation integrals.
use std::time::{Duration, Instant};

use twin_engine::lattice::Lattice;
use twin_engine::optics::OpticsError;
use twin_engine::recompute::{Memory, RingModel, recompute};

/// Physics of one valid computation: the engine's ring model.
pub type Physics = RingModel;

/// Why the model has no valid state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    Unstable(String),
    NoOrbit(String),
}

impl Invalid {
    pub fn message(&self) -> &str {
        match self {
            Invalid::Unstable(m) | Invalid::NoOrbit(m) => m,
        }
    }
}

fn classify(e: OpticsError) -> Invalid {
    match e {
        OpticsError::Orbit(o) => Invalid::NoOrbit(o.to_string()),
        other => Invalid::Unstable(other.to_string()),
    }
}

/// Computes the physics of `lattice`, warm-started from `memory` (the
/// fixed points of the last valid computation); returns it with the
/// memory for the next one and the time it took. On failure the memory is
/// unchanged.
pub fn compute(lattice: &Lattice, memory: &Memory) -> (Result<(Physics, Memory), Invalid>, Duration) {
    let t0 = Instant::now();
    let result = recompute(lattice, memory).map_err(classify);
    (result, t0.elapsed())
}
