//! The twin's model computation for one lattice state: the fixed-RF 6D
//! closed orbit with radiation along the ring (what the BPMs see) and its
//! three tunes, the 4D optics at δ = 0, the chromaticity and the radiation
//! integrals.
//!
//! `recompute` starts from the fixed points of the previous state
//! (`Memory`): chord steps with the previous one-turn Jacobians need scalar
//! passes only, and the one dual-number pass that confirms each fixed
//! point also yields its maps (6D tunes and the orbit along the ring, the
//! optics); one second-order pass gives the chromaticity. The 6D and the
//! 4D parts run on two cores. Without a memory, or if the warm start
//! fails, it solves from zero as `closed_orbit_6d`/`linear_optics_4d` do;
//! both routes reach the same fixed points to the closed-orbit tolerance.
mod parts;
mod predict;
mod warm;

use std::sync::Arc;

use nalgebra::{SMatrix, SVector};

use crate::coords::{Coords, DELTA, X, Y};
use crate::lattice::{ElementId, Lattice, Plane};
use crate::optics::{OpticsError, RadiationSummary, RingOptics, radiation_integrals};

pub use parts::SixD;
use predict::Trace;

/// Physics of one valid computation.
#[derive(Clone, Debug, PartialEq)]
pub struct RingModel {
    /// 6D closed orbit (x, px, y, py, δ, cτ) at each element entrance, the
    /// last point the end of the ring [m, rad, 1, m].
    pub orbit: Vec<Coords<f64>>,
    /// (horizontal, vertical, synchrotron) fractional tunes, 6D.
    pub tunes: [f64; 3],
    /// 4D optics at δ = 0 (β, α, phase, dispersion).
    pub optics: RingOptics,
    /// dQ/dδ (horizontal, vertical), from the derivative of the one-turn
    /// matrix along the closed orbit (`chromaticity_from_derivative`).
    pub chromaticity: [f64; 2],
    pub radiation: RadiationSummary,
}

impl RingModel {
    /// Closed orbit (x, y) at the entrance of element `index` [m].
    pub fn position_m(&self, index: usize) -> [f64; 2] {
        let o = &self.orbit[index];
        [o[X], o[Y]]
    }

    /// Momentum deviation δ of the fixed-RF closed orbit.
    pub fn delta(&self) -> f64 {
        self.orbit[0][DELTA]
    }
}

/// A fixed point and ∂F/∂x there (F(x) = one turn − x − θ).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fixed<const N: usize> {
    pub x: SVector<f64, N>,
    pub jacobian: SMatrix<f64, N, N>,
}

/// The fixed points of the last valid computation: where the next one
/// starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Memory {
    /// 6D fixed-RF orbit with radiation at the ring's start.
    six_d: Option<Fixed<6>>,
    /// 4D orbit at δ = 0 (transverse).
    four_d: Option<Fixed<4>>,
    /// The 6D pass along the ring from `six_d`, which predicts the next
    /// start from what changed since (`predict`).
    trace: Option<Arc<Trace>>,
}

impl Memory {
    /// No earlier state: the next computation solves from zero.
    pub fn is_empty(&self) -> bool {
        self.six_d.is_none() && self.four_d.is_none()
    }
}

/// The fixed-RF 6D closed orbit with radiation along the ring and its
/// tunes, from `previous` (a nearby fixed point and its Jacobian) or from
/// zero.
pub fn orbit_6d(lattice: &Lattice, previous: Option<&Fixed<6>>) -> Result<SixD, OpticsError> {
    parts::six_d(lattice, previous)
}

/// Steps of the continuation in `orbit_6d_continued`.
const CONTINUATION_STEPS: usize = 8;

/// The fixed-RF 6D orbit from zero (`orbit_6d`); where Newton from zero
/// does not find it (steering kicks of a bump millimetres high), by
/// continuation: the steering kicks switched on in `CONTINUATION_STEPS`
/// equal steps, each solve starting from the last. Err as from zero when
/// that fails too.
pub fn orbit_6d_continued(lattice: &Lattice) -> Result<SixD, OpticsError> {
    let error = match orbit_6d(lattice, None) {
        Err(e) => e,
        done => return done,
    };
    let kicks: Vec<(ElementId, Plane, f64)> = [Plane::Horizontal, Plane::Vertical]
        .into_iter()
        .flat_map(|p| lattice.steerers(p).into_iter().map(move |e| (e, p)))
        .map(|(e, p)| (e, p, lattice.kick_rad(e, p)))
        .filter(|(.., k)| *k != 0.0)
        .collect();
    if kicks.is_empty() {
        return Err(error);
    }
    let mut scaled = lattice.clone();
    let mut last: Option<SixD> = None;
    for step in 0..=CONTINUATION_STEPS {
        let f = step as f64 / CONTINUATION_STEPS as f64;
        for &(e, p, k) in &kicks {
            scaled.set_kick_rad(e, p, f * k).map_err(|_| error.clone())?;
        }
        last = Some(orbit_6d(&scaled, last.as_ref().map(|s| &s.fixed)).map_err(|_| error.clone())?);
    }
    last.ok_or(error)
}

/// The chromaticity at δ = 0 from 4D optics (their closed orbit and
/// dispersion): one second-order dual pass.
pub fn chromaticity(lattice: &Lattice, optics: &RingOptics) -> Result<[f64; 2], OpticsError> {
    parts::chromaticity(lattice, optics)
}

/// The model of `lattice`, warm-started from `memory`, with the memory
/// for the next computation.
pub fn recompute(lattice: &Lattice, memory: &Memory) -> Result<(RingModel, Memory), OpticsError> {
    if !memory.is_empty()
        && let Ok(done) = solve(lattice, memory)
    {
        return Ok(done);
    }
    solve(lattice, &Memory::default())
}

fn solve(lattice: &Lattice, memory: &Memory) -> Result<(RingModel, Memory), OpticsError> {
    // two parts, two cores: rayon's pool, whose threads persist with warm
    // caches and allocator heaps (a scoped thread per computation started
    // cold: in the IOC the computation took 1.25 ms median against 1.05
    // ms on the pool, 2026-12-06, although idle pool workers spin a
    // while before they sleep)
    let (six, four) = rayon::join(
        || {
            let start = match (&memory.six_d, &memory.trace) {
                (Some(fixed), Some(trace)) => predict::predicted(lattice, fixed, trace).or(Some(*fixed)),
                (fixed, _) => *fixed,
            };
            parts::six_d(lattice, start.as_ref())
        },
        || {
            let optics = parts::optics(lattice, memory.four_d.as_ref())?;
            let chromaticity = parts::chromaticity(lattice, &optics.optics)?;
            let radiation = radiation_integrals(lattice, &optics.optics);
            Ok::<_, OpticsError>((optics, chromaticity, radiation))
        },
    );
    let (six, (optics, chromaticity, radiation)) = (six?, four?);
    let trace = Trace { revision: lattice.revision(), along: six.along };
    let memory = Memory { six_d: Some(six.fixed), four_d: Some(optics.fixed_point()), trace: Some(Arc::new(trace)) };
    let model = RingModel { orbit: six.orbit, tunes: six.tunes, optics: optics.optics, chromaticity, radiation };
    Ok((model, memory))
}
