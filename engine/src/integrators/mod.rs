//! Element integrators equivalent to pyAT's passmethods, generic over the
//! scalar type. One wrapper applies the fixed sequence
//! (entrance misalignment → edge → body → edge → exit misalignment).
mod cavity;
mod drift;
mod edge;
mod kick;
mod misalign;
pub mod symplectic4;

pub use cavity::TurnClock;
pub use drift::{drift, drift_at};
pub use kick::{RadiationConstant, b2_perp, field};

use crate::constants::c_gamma_m_per_ev3;
use crate::coords::Coords;
use crate::lattice::{Element, ElementKind, KickCoefficients, MagnetBody};
use crate::real::Real;

/// Which physics a pass includes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dynamics {
    /// Transverse only: cavities are drifts, no radiation (pyAT `disable_6d`).
    FourD,
    /// Cavities on, no radiation.
    SixD,
    /// Cavities on, classical radiation in magnets (pyAT `enable_6d`).
    SixDRadiation,
}

/// Everything an element pass needs besides the element.
#[derive(Clone, Copy, Debug)]
pub struct PassContext {
    pub dynamics: Dynamics,
    /// Reference beam energy [eV].
    pub energy_ev: f64,
    pub clock: TurnClock,
    /// C_γ E³ / (2π) [m], computed once for the pass.
    radiation_m: f64,
}

impl PassContext {
    pub fn new(dynamics: Dynamics, energy_ev: f64, clock: TurnClock) -> Self {
        let radiation_m = c_gamma_m_per_ev3() * energy_ev.powi(3) / std::f64::consts::TAU;
        Self { dynamics, energy_ev, clock, radiation_m }
    }

    #[inline]
    fn radiation_constant(&self, body: &MagnetBody) -> Option<f64> {
        (self.dynamics == Dynamics::SixDRadiation && body.radiates).then_some(self.radiation_m)
    }
}

/// A thin kick of a magnet body as a pass applies it (for observers).
#[derive(Clone, Copy, Debug)]
pub struct KickSite<'a> {
    pub coefficients: &'a KickCoefficients,
    /// Integrated length [m].
    pub length_m: f64,
    /// Curvature of the frame [1/m] (0 for straight magnets).
    pub irho: f64,
    /// `Some(C_γ E³/2π)` where the kick radiates.
    pub radiation: RadiationConstant,
}

/// The fixed sequence of an element pass, with `$kick(r, coefficients,
/// length, irho, radiation, p_norm)` for every thin kick of a magnet body.
/// A macro, so that `pass` and `pass_observed` share one body while `pass`
/// stays the plain function it was: sharing it through an observer
/// argument (even a no-op one, compiled out) made tracking twice as slow.
macro_rules! element_pass {
    ($el:expr, $r:expr, $ctx:expr, $kick:expr) => {{
        let (el, r, ctx) = ($el, $r, $ctx);
        let misaligned = !el.misalignment.is_zero();
        if misaligned {
            misalign::enter(r, &el.misalignment);
        }
        match &el.kind {
            ElementKind::Marker | ElementKind::Monitor => {}
            ElementKind::Drift { length_m } => drift(r, *length_m),
            ElementKind::Quadrupole(m) | ElementKind::Sextupole(m) => {
                let crad = ctx.radiation_constant(&m.body);
                let c = m.body.kick_coefficients(m.length_m);
                let steps = symplectic4::Steps::new(m.length_m, m.body.n_steps, crad.is_some());
                steps.integrate(r, |r, l, p| $kick(r, &c, l, 0.0, crad, p));
            }
            ElementKind::Dipole(b) => {
                let irho = b.curvature_per_m();
                let crad = ctx.radiation_constant(&b.body);
                let c = b.body.kick_coefficients(b.length_m);
                let steps = symplectic4::Steps::new(b.length_m, b.body.n_steps, crad.is_some());
                edge::edge(r, irho, b.entrance_angle_rad, b.fint_entrance, b.full_gap_m);
                steps.integrate(r, |r, l, p| $kick(r, &c, l, irho, crad, p));
                edge::edge(r, irho, b.exit_angle_rad, b.fint_exit, b.full_gap_m);
            }
            ElementKind::Cavity(c) => match ctx.dynamics {
                Dynamics::FourD => drift(r, c.length_m),
                Dynamics::SixD | Dynamics::SixDRadiation => cavity::cavity(r, c, ctx.energy_ev, ctx.clock),
            },
        }
        if misaligned {
            misalign::exit(r, &el.misalignment);
        }
    }};
}

/// Tracks one particle through one element.
pub fn pass<R: Real>(el: &Element, r: &mut Coords<R>, ctx: &PassContext) {
    element_pass!(el, r, ctx, kick::thin_kick)
}

/// `pass`, calling `on_kick(before, after, site)` around every thin kick
/// of a magnet body (the quantum diffusion of the envelope is made there).
pub fn pass_observed<R: Real>(
    el: &Element,
    r: &mut Coords<R>,
    ctx: &PassContext,
    mut on_kick: impl FnMut(&Coords<R>, &Coords<R>, &KickSite),
) {
    let mut observed = |r: &mut Coords<R>, c: &KickCoefficients, l: f64, irho: f64, crad: RadiationConstant, p: R| {
        let before = *r;
        kick::thin_kick(r, c, l, irho, crad, p);
        on_kick(&before, r, &KickSite { coefficients: c, length_m: l, irho, radiation: crad });
    };
    element_pass!(el, r, ctx, observed)
}
