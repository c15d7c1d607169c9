//! Thin multipole kicks (AT `strthinkick`, `bndthinkick` and their
//! radiating variants `diff_bnd_kick`).
use crate::coords::{CT, Coords, DELTA, PX, PY, X, Y};
use crate::lattice::KickCoefficients;
use crate::real::Real;

/// (Re, Im) of the field sum Σ (B_n + i A_n)(x + i y)^n by Horner's rule:
/// Re = B_y/(Bρ), Im = B_x/(Bρ) in AT's normalisation.
/// Without skew terms of order ≥ 1, quadrupoles and sextupoles skip the
/// products with zero (the same operations less the vanishing ones: the
/// same result to the bit).
#[inline(always)]
pub fn field<R: Real>(r: &Coords<R>, c: &KickCoefficients) -> (R, R) {
    let top = c.max_order;
    if !c.skew {
        let (x, y) = (r[X], r[Y]);
        match top {
            1 => return (x * c.b[1] + c.b[0], y * c.b[1] + c.a[0]),
            2 => {
                let re = x * c.b[2] + c.b[1];
                let im = y * c.b[2];
                return (re * x - im * y + c.b[0], im * x + re * y + c.a[0]);
            }
            _ => {}
        }
    }
    let (mut re, mut im) = (R::cst(c.b[top]), R::cst(c.a[top]));
    for n in (0..top).rev() {
        let t = re * r[X] - im * r[Y] + c.b[n];
        im = im * r[X] + re * r[Y] + c.a[n];
        re = t;
    }
    (re, im)
}

/// Radiation switch of a kick: `None` = symplectic, `Some(c)` with
/// c = C_γ E0³ / (2π) [m] (= 2/3 r_e γ³).
pub type RadiationConstant = Option<f64>;

/// Thin kick of integrated length `l` [m] in a frame of curvature
/// `irho` [1/m] (0 for straight magnets); `p_norm` = 1/(1+δ) of `r`.
#[inline(always)]
pub fn thin_kick<R: Real>(
    r: &mut Coords<R>,
    coefficients: &KickCoefficients,
    l: f64,
    irho: f64,
    radiation: RadiationConstant,
    p_norm: R,
) {
    let (re, im) = field(r, coefficients);
    let dp0 = r[DELTA];
    if let Some(crad) = radiation {
        radiate(r, re, im, l, irho, crad, p_norm);
    }
    if irho == 0.0 {
        r[PX] -= re * l;
    } else {
        r[PX] -= (re - (dp0 - r[X] * irho) * irho) * l;
        if R::PATH_LENGTH {
            r[CT] += r[X] * (irho * l);
        }
    }
    r[PY] += im * l;
}

/// |e × B|² (normalised field) for velocity direction (x', y', 1 + x/ρ)
/// = (`xpr`, `ypr`, `curv`) and field (`bx`, `by`) (AT `B2perp`).
#[inline(always)]
pub fn b2_perp<R: Real>(bx: R, by: R, curv: R, xpr: R, ypr: R) -> R {
    let v_norm2 = (curv * curv + xpr * xpr + ypr * ypr).recip();
    let cross = bx * ypr - by * xpr;
    (by * curv * (by * curv) + bx * curv * (bx * curv) + cross * cross) * v_norm2
}

/// Classical radiation loss in a kick: δ decreases by
/// C·|e × B|²·(1 + x/ρ + (x'² + y'²)/2)·(1+δ)²·l; the angles are kept.
/// (AT divides by 1/(1+δ) where this multiplies by 1+δ: the same up to
/// rounding; with 1/(1+δ) from the integrator, one division instead of
/// six.)
#[inline(always)]
fn radiate<R: Real>(r: &mut Coords<R>, re: R, im: R, l: f64, irho: f64, crad: f64, p_norm: R) {
    let one_plus = r[DELTA] + 1.0;
    let (x, xpr, ypr) = (r[X], r[PX] * p_norm, r[PY] * p_norm);
    let curv = x * irho + 1.0;
    let b2p = b2_perp(im, re + irho, curv, xpr, ypr);
    let factor = (curv + (xpr * xpr + ypr * ypr) * 0.5) * (one_plus * one_plus) * l;
    r[DELTA] -= b2p * factor * crad;
    let one_plus = r[DELTA] + 1.0;
    r[PX] = xpr * one_plus;
    r[PY] = ypr * one_plus;
}
