//! Beam-based alignment fit (as done at BESSY II): from orbit readings at
//! all BPMs while the strength of one quadrupole is stepped, find the
//! beam-to-quad displacement and the quad's magnetic centre as seen by the
//! BPMs.
//!
//! Measurement model: reading(p, b, k, r) = o_pb + Σ_q d_q · R^pq_bk +
//! Σ_q x′_q · S^pq_bk + noise, with p, q the planes, o_pb one offset per
//! BPM and plane, d_q the beam-to-quad displacement at the quad centre,
//! R^pq_bk the model's orbit change at BPM b per unit displacement when the
//! auxiliary supply is at the current of step k (the scaled response to
//! the quad's kick, exact for a thick quad and every order of the step, see
//! `bba_model`; the cross-plane terms come from coupling, e.g. the orbit in
//! the sextupoles), and x′_q S^pq_bk the small part from the beam's slope in
//! the quad (x′ from the reconstruction, iterated). The linear terms are
//! taken around the model's own answer: what the model, stepped alike,
//! shows for its beam (d_model, x′_model) from its closed orbits, so
//! nonlinear terms (orbit in the sextupoles) are in; the fit finds
//! d − d_model. Linear least squares for (d_x, d_y) and the o_pb over all
//! BPMs and readings. The quad's centre in
//! BPM coordinates is then the beam position at the quad, reconstructed
//! from the two BPMs around it with the model optics and the quad's own
//! offset, minus d.
//!
//! Transverse states (x, x′, y, y′) are indexed with the coordinate names
//! of `coords` (X, PX, Y, PY: the same order).
use nalgebra::{Matrix2, Matrix4, SMatrix, Vector2, Vector4};

use crate::coords::{PX, PY, X, Y, momentum, position};
use crate::lattice::{ElementId, SettingError};
use crate::optics::OpticsError;

/// Readings taken at one auxiliary-supply current.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Auxiliary current [A].
    pub current_a: f64,
    /// readings[r][b]: reading r at BPM b [m] (plane of the fit).
    pub readings: Vec<Vec<f64>>,
}

/// The model's orbit change at one auxiliary current.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResponse {
    /// Auxiliary current [A].
    pub current_a: f64,
    /// change[p][c][b]: orbit change in plane p (x, y) at BPM b per unit
    /// of the beam's state c at the quad centre relative to its axis (x,
    /// x′, y, y′) [m/m, m/rad].
    pub change: [[Vec<f64>; 4]; 2],
    /// model_change[p][b]: what the model itself shows at BPM b in plane p
    /// at this current, its beam in the state `BbaModel::model_beam`
    /// (closed orbits: nonlinear terms included) [m].
    pub model_change: [Vec<f64>; 2],
}

/// Model optics around the quad: transverse maps (x, x′, y, y′) of
/// deviations from the model orbit.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalOptics {
    /// Index (into the BPM list) of the BPM upstream and downstream.
    pub upstream_bpm: usize,
    pub downstream_bpm: usize,
    /// Index (into the BPM list) of the BPM nearest to the quad centre in
    /// s: one of the two.
    pub nearest_bpm: usize,
    /// Upstream BPM → quad entrance.
    pub to_entrance: Matrix4<f64>,
    /// Quad entrance → quad centre.
    pub first_half: Matrix4<f64>,
    /// The whole quad.
    pub quad: Matrix4<f64>,
    /// Quad exit → downstream BPM.
    pub to_downstream: Matrix4<f64>,
    /// Model orbit (x, x′, y, y′) at the upstream BPM, the quad centre and
    /// the downstream BPM [m, rad]: readings are reconstructed as
    /// deviations from it, so known kicks (steerers) cancel.
    pub model_upstream: Vector4<f64>,
    pub model_centre: Vector4<f64>,
    pub model_downstream: Vector4<f64>,
    /// Offset (x, y) of this quad in the model (a previous estimate) [m].
    pub model_offset_m: [f64; 2],
}

/// What the fit needs besides the readings.
#[derive(Clone, Debug, PartialEq)]
pub struct BbaModel {
    /// The model beam's state at the quad centre relative to the quad's
    /// axis (x, x′, y, y′) [m, rad]: the fit finds the real beam's
    /// difference from it, so the model's own nonlinear response carries
    /// what the linear one misses.
    pub model_beam: Vector4<f64>,
    /// The orbit change at each current of the measurement.
    pub responses: Vec<StepResponse>,
    /// Change of K1 per ampere of the auxiliary supply [1/m²/A].
    pub dk1_per_a: f64,
    /// Design K1 of the quad [1/m²] and its length [m].
    pub k1_per_m2: f64,
    pub length_m: f64,
    pub local: LocalOptics,
}

/// Result for one quad and plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BbaFit {
    /// Kick change per ampere at small currents [rad/A].
    pub kick_per_a_rad: f64,
    /// Beam-to-quad displacement d at the quad [m].
    pub displacement_m: f64,
    /// Quad centre in BPM coordinates: the reading that centres the beam [m].
    pub offset_m: f64,
    /// One-sigma uncertainty of `offset_m` [m].
    pub sigma_m: f64,
    /// The reading of the BPM nearest to the quad
    /// (`LocalOptics::nearest_bpm`) less the beam's displacement d at the
    /// quad [m]. Less the lattice orbit's own change of position from the
    /// quad centre to the BPM (`bba_model::beam_step`), it is the BPM's
    /// offset relative to the quad's centre when the beam runs parallel to
    /// that orbit between the two (what BBA cannot see: the beam's slope
    /// deviation there times the distance, stays in it, as on the machine).
    pub bpm_offset_m: f64,
    /// One-sigma uncertainty of `bpm_offset_m` [m].
    pub bpm_sigma_m: f64,
    /// Fit residual: residual sum of squares per degree of freedom [m²].
    pub chi2: f64,
    /// Residual rms of the readings [m].
    pub residual_rms_m: f64,
    pub readings: usize,
}

/// Why no result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BbaError {
    #[error("no current steps: the auxiliary supply was not varied")]
    NoSteps,
    #[error("insufficient signal: the orbit response to the quad is {0:.2e} (too small to fit)")]
    InsufficientSignal(f64),
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
    #[error("{0} is not a quadrupole")]
    NotAQuadrupole(String),
    #[error("no BPMs to read")]
    NoBpms,
    #[error("singular optics: {0}")]
    SingularOptics(&'static str),
    #[error("singular optics: the map from the start to the exit of element #{} is not invertible", .element.0)]
    SingularTransfer { element: ElementId },
    #[error("the analyst's model: {0}")]
    Model(#[from] OpticsError),
    #[error("the analyst's model: {0}")]
    Setting(#[from] SettingError),
}

/// The mean orbit of the readings at zero auxiliary current [m] (what the
/// machine shows without the measurement), or None without such readings.
pub fn zero_current_orbit(steps: &[Step]) -> Option<Vec<f64>> {
    let at_zero: Vec<&Vec<f64>> = steps.iter().filter(|s| s.current_a == 0.0).flat_map(|s| &s.readings).collect();
    let first = at_zero.first()?;
    let n = at_zero.len() as f64;
    Some(
        (0..first.len())
            .map(|b| at_zero.iter().map(|r| r.get(b).copied().unwrap_or(f64::NAN)).sum::<f64>() / n)
            .collect(),
    )
}

/// The distinct currents of a measurement [A], in order of appearance.
pub fn step_currents(steps: &[Step]) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for s in steps {
        if !out.contains(&s.current_a) {
            out.push(s.current_a);
        }
    }
    out
}

/// The floor of the noise estimate [m]: readings are never more exact.
const NOISE_FLOOR_M: f64 = 1e-12;
/// Currents closer than this are the same step [A].
const CURRENT_MATCH_A: f64 = 1e-9;

/// Fits both planes: `x` and `y` are the readings of the same steps.
pub fn fit(model: &BbaModel, x: &[Step], y: &[Step]) -> Result<[BbaFit; 2], BbaError> {
    let rows = rows(model, x, y)?;
    // the beam at the quad centre is reconstructed from the readings at I = 0
    let (Some(mx), Some(my)) = (zero_current_orbit(x), zero_current_orbit(y)) else {
        return Err(BbaError::Inconsistent("no readings at zero current".into()));
    };
    let l = &model.local;
    let (a, b) = (l.upstream_bpm, l.downstream_bpm);
    let zero = ZeroCurrent {
        around_quad: Vector4::new(mx[a], my[a], mx[b], my[b]),
        nearest: [mx[l.nearest_bpm], my[l.nearest_bpm]],
        readings: rows.iter().filter(|r| r.current_a == 0.0).count(),
    };
    // the slope of the beam in the quad: the model's, then twice from the
    // reconstruction of the previous pass
    let c = model.local.model_centre;
    let first = fit_pass(model, &rows, &zero, [c[PX], c[PY]])?;
    let second = fit_pass(model, &rows, &zero, first.slopes_rad)?;
    fit_pass(model, &rows, &zero, second.slopes_rad).map(|r| r.fits)
}

/// The mean readings at zero auxiliary current at the BPMs around the quad
/// (x_a, y_a, x_b, y_b) and at the nearest one (x, y) [m], and how many
/// readings they average.
struct ZeroCurrent {
    around_quad: Vector4<f64>,
    nearest: [f64; 2],
    readings: usize,
}

struct Pass {
    fits: [BbaFit; 2],
    slopes_rad: [f64; 2],
}

/// One reading (both planes) with the model's response at its current.
struct Row<'a> {
    current_a: f64,
    response: &'a StepResponse,
    reading: [&'a [f64]; 2],
}

impl BbaModel {
    fn bpm_count(&self) -> usize {
        self.responses.first().map_or(0, |r| r.change[0][0].len())
    }

    fn response_at(&self, current_a: f64) -> Result<&StepResponse, BbaError> {
        self.responses
            .iter()
            .find(|r| (r.current_a - current_a).abs() < CURRENT_MATCH_A)
            .ok_or_else(|| BbaError::Inconsistent(format!("the model has no response at {current_a} A")))
    }
}

fn rows<'a>(model: &'a BbaModel, x: &'a [Step], y: &'a [Step]) -> Result<Vec<Row<'a>>, BbaError> {
    let nb = model.bpm_count();
    if x.iter().all(|s| s.current_a == x.first().map_or(0.0, |f| f.current_a)) {
        return Err(BbaError::NoSteps);
    }
    if x.len() != y.len() {
        return Err(BbaError::Inconsistent(format!("{} horizontal and {} vertical steps", x.len(), y.len())));
    }
    let mut out = Vec::new();
    for (sx, sy) in x.iter().zip(y) {
        if sx.current_a != sy.current_a || sx.readings.len() != sy.readings.len() {
            return Err(BbaError::Inconsistent(format!("the planes differ at {} A", sx.current_a)));
        }
        let response = model.response_at(sx.current_a)?;
        for (rx, ry) in sx.readings.iter().zip(&sy.readings) {
            if rx.len() != nb || ry.len() != nb {
                return Err(BbaError::Inconsistent(format!("readings do not have {nb} BPMs")));
            }
            out.push(Row { current_a: sx.current_a, response, reading: [rx, ry] });
        }
    }
    if out.len() < 3 {
        return Err(BbaError::NoSteps);
    }
    Ok(out)
}

/// The least-squares displacements d (x, y) at the quad [m], their
/// covariance [m²], each plane's residual sum of squares [m²] and noise
/// [m], and the degrees of freedom per plane.
struct Displacements {
    d: Vector2<f64>,
    cov: Matrix2<f64>,
    ss: [f64; 2],
    noise: [f64; 2],
    dof: f64,
}

/// The linear least squares for Δd = d − d_model and the offsets o_pb,
/// with the beam's slopes in the quad `slopes_rad` (x′, y′).
fn displacements(model: &BbaModel, rows: &[Row], slopes_rad: [f64; 2]) -> Result<Displacements, BbaError> {
    let nb = model.bpm_count();
    let n = rows.len() as f64;
    // readings without what the model beam does and without the slopes'
    // difference from the model's: o_pb + Σ_q Δd_q·R^pq_bk, Δd = d − d_model
    let mb = model.model_beam;
    let y = |row: &Row, p: usize, b: usize| {
        let slopes: f64 =
            (0..2).map(|q| (slopes_rad[q] - mb[momentum(q)]) * row.response.change[p][momentum(q)][b]).sum();
        row.reading[p][b] - row.response.model_change[p][b] - slopes
    };
    let r = |row: &Row, p: usize, q: usize, b: usize| row.response.change[p][position(q)][b];
    let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let mut per_plane = [Matrix2::zeros(); 2];
    let mut rhs = Vector2::zeros();
    let mut data: Vec<(usize, f64, Vector2<f64>)> = Vec::with_capacity(rows.len() * nb * 2);
    for (p, normal_p) in per_plane.iter_mut().enumerate() {
        for b in 0..nb {
            let my = mean(&|row| y(row, p, b));
            let mr = Vector2::new(mean(&|row| r(row, p, 0, b)), mean(&|row| r(row, p, 1, b)));
            for row in rows {
                let dy = y(row, p, b) - my;
                let dr = Vector2::new(r(row, p, 0, b), r(row, p, 1, b)) - mr;
                *normal_p += dr * dr.transpose();
                rhs += dr * dy;
                data.push((p, dy, dr));
            }
        }
    }
    let normal = per_plane[0] + per_plane[1];
    let signal = [normal[(0, 0)].sqrt(), normal[(1, 1)].sqrt()];
    if signal.iter().any(|s| *s < 1e-6) {
        return Err(BbaError::InsufficientSignal(signal[0].min(signal[1])));
    }
    let inverse = normal.try_inverse().ok_or(BbaError::InsufficientSignal(0.0))?;
    let delta_d = inverse * rhs;
    let d = Vector2::new(mb[X], mb[Y]) + delta_d;
    let mut ss = [0.0; 2];
    for (p, dy, dr) in &data {
        ss[*p] += (dy - dr.dot(&delta_d)).powi(2);
    }
    // each plane: nb offsets and its share of the two displacements
    let dof = (rows.len() * nb).saturating_sub(nb + 1).max(1) as f64;
    let noise = ss.map(|s| (s / dof).sqrt().max(NOISE_FLOOR_M));
    // unweighted least squares with the noise of each plane
    let cov = inverse * (per_plane[0] * noise[0].powi(2) + per_plane[1] * noise[1].powi(2)) * inverse;
    Ok(Displacements { d, cov, ss, noise, dof })
}

fn fit_pass(model: &BbaModel, rows: &[Row], zero: &ZeroCurrent, slopes_rad: [f64; 2]) -> Result<Pass, BbaError> {
    let nb = model.bpm_count();
    let Displacements { d, cov: cov_d, ss, noise, dof } = displacements(model, rows, slopes_rad)?;
    // Beam position at the quad centre from the readings at I = 0.
    let (l, read) = (&model.local, zero.around_quad);
    let (centre, offsets) = reconstruct(l, &read, &d)?;
    // Linear error propagation through the (linear) reconstruction.
    let h = 1e-6;
    let mut j_read = SMatrix::<f64, 2, 4>::zeros();
    for i in 0..4 {
        let mut r2 = read;
        r2[i] += h;
        j_read.set_column(i, &((reconstruct(l, &r2, &d)?.1 - offsets) / h));
    }
    let mut j_d = Matrix2::zeros();
    for q in 0..2 {
        let mut d2 = d;
        d2[q] += h;
        j_d.set_column(q, &((reconstruct(l, &read, &d2)?.1 - offsets) / h));
    }
    let var_mean = |p: usize| noise[p].powi(2) / zero.readings as f64;
    let cov_read = Matrix4::from_diagonal(&Vector4::new(var_mean(0), var_mean(1), var_mean(0), var_mean(1)));
    let cov = j_read * cov_read * j_read.transpose() + j_d * cov_d * j_d.transpose();
    // the nearest BPM's reading less the beam's displacement at the quad
    // (the lattice orbit's own change between the quad centre and the BPM
    // is the caller's: `bba_model::beam_step`)
    let bpm_offset = Vector2::from(zero.nearest) - d;
    let bpm_cov = Matrix2::from_diagonal(&Vector2::new(var_mean(0), var_mean(1))) + cov_d;
    let sign = [-1.0, 1.0];
    let fit = |p: usize| BbaFit {
        kick_per_a_rad: sign[p] * model.dk1_per_a * model.length_m * d[p],
        displacement_m: d[p],
        offset_m: offsets[p],
        sigma_m: cov[(p, p)].sqrt(),
        bpm_offset_m: bpm_offset[p],
        bpm_sigma_m: bpm_cov[(p, p)].sqrt(),
        chi2: ss[p] / dof,
        residual_rms_m: (ss[p] / (rows.len() * nb) as f64).sqrt(),
        readings: rows.len(),
    };
    Ok(Pass { fits: [fit(0), fit(1)], slopes_rad: [centre[PX], centre[PY]] })
}

/// The beam's state (x, x′, y, y′) at the quad centre and the quad's axis
/// (x, y) in BPM coordinates, from the readings `read` = (x_a, y_a, x_b,
/// y_b) at the BPMs around it and the displacements `d`: the deviation from
/// the model orbit at the upstream BPM (its angles unknown) is carried
/// through the quad, whose axis is Δm away from the model's (Δm unknown:
/// shifting a linear map's axis adds (1 − M)·Δm), to the downstream BPM,
/// where it must read (x_b, y_b); and the axis is where the beam is d away
/// from: x_c − d = m + Δm. Four linear equations in (angles, Δm).
fn reconstruct(
    l: &LocalOptics,
    read: &Vector4<f64>,
    d: &Vector2<f64>,
) -> Result<(Vector4<f64>, Vector2<f64>), BbaError> {
    let (ma, mc, mb) = (l.model_upstream, l.model_centre, l.model_downstream);
    let unit = |i: usize| Vector4::from_fn(|k, _| f64::from(u8::from(k == i)));
    let v0 = l.to_entrance * Vector4::new(read[0] - ma[X], 0.0, read[1] - ma[Y], 0.0);
    // columns: the unknowns (angle x, angle y, Δm_x, Δm_y)
    let at_entrance = [l.to_entrance * unit(PX), l.to_entrance * unit(PY), Vector4::zeros(), Vector4::zeros()];
    let shift = |m: &Matrix4<f64>, q: usize| (Matrix4::identity() - m) * unit(position(q));
    let at_centre =
        |j: usize| l.first_half * at_entrance[j] + if j >= 2 { shift(&l.first_half, j - 2) } else { Vector4::zeros() };
    let at_exit = |j: usize| l.quad * at_entrance[j] + if j >= 2 { shift(&l.quad, j - 2) } else { Vector4::zeros() };
    let mut a = Matrix4::zeros();
    for j in 0..4 {
        let down = l.to_downstream * at_exit(j);
        let c = at_centre(j);
        for q in 0..2 {
            a[(q, j)] = down[position(q)];
            // Δm_q − x_c,q = −(m_q + d_q) + model centre
            a[(2 + q, j)] = f64::from(u8::from(j == 2 + q)) - c[position(q)];
        }
    }
    let down0 = l.to_downstream * l.quad * v0;
    let centre0 = l.first_half * v0;
    let rhs = Vector4::new(
        read[2] - mb[X] - down0[X],
        read[3] - mb[Y] - down0[Y],
        mc[X] + centre0[X] - d[0] - l.model_offset_m[0],
        mc[Y] + centre0[Y] - d[1] - l.model_offset_m[1],
    );
    let u = a.lu().solve(&rhs).ok_or_else(|| {
        BbaError::Inconsistent("the optics between the BPMs around the quad do not determine the beam there".into())
    })?;
    let zc = centre0 + (0..4).map(|j| at_centre(j) * u[j]).fold(Vector4::zeros(), |s, v| s + v);
    let centre = mc + zc;
    Ok((centre, Vector2::new(centre[X] - d[0], centre[Y] - d[1])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orbit change per unit displacement per ampere: [plane][plane of d][bpm].
    const RESPONSE: [[[f64; 4]; 2]; 2] =
        [[[10.0, -5.0, 3.0, 8.0], [0.1, 0.2, -0.1, 0.0]], [[0.0, 0.3, 0.1, -0.2], [4.0, 6.0, -7.0, 2.0]]];

    fn drift(l: f64) -> Matrix4<f64> {
        let mut m = Matrix4::identity();
        m[(0, 1)] = l;
        m[(2, 3)] = l;
        m
    }

    /// Four BPMs, the quad between the first two with 0.5 m of drift on
    /// each side and no strength of its own (a straight line through it).
    fn model() -> BbaModel {
        let change = |i: f64, p: usize| -> [Vec<f64>; 4] {
            let r = |q: usize| RESPONSE[p][q].iter().map(|v| 0.01 * i * v).collect();
            [r(0), vec![0.0; 4], r(1), vec![0.0; 4]]
        };
        BbaModel {
            model_beam: Vector4::zeros(),
            responses: [0.0, -2.0, 2.0]
                .iter()
                .map(|&i| StepResponse {
                    current_a: i,
                    change: [change(i, 0), change(i, 1)],
                    model_change: [vec![0.0; 4], vec![0.0; 4]],
                })
                .collect(),
            dk1_per_a: -0.03,
            k1_per_m2: 0.0,
            length_m: 0.25,
            local: LocalOptics {
                upstream_bpm: 0,
                downstream_bpm: 1,
                nearest_bpm: 1,
                to_entrance: drift(0.5),
                first_half: Matrix4::identity(),
                quad: Matrix4::identity(),
                to_downstream: drift(0.5),
                model_upstream: Vector4::zeros(),
                model_centre: Vector4::zeros(),
                model_downstream: Vector4::zeros(),
                model_offset_m: [0.0; 2],
            },
        }
    }

    fn steps(d: [f64; 2], offsets: [[f64; 4]; 2]) -> [Vec<Step>; 2] {
        std::array::from_fn(|p| {
            [0.0, -2.0, 0.0, 2.0, 0.0]
                .iter()
                .map(|&i| Step {
                    current_a: i,
                    readings: vec![
                        (0..4)
                            .map(|b| offsets[p][b] + (0..2).map(|q| d[q] * 0.01 * i * RESPONSE[p][q][b]).sum::<f64>())
                            .collect();
                        2
                    ],
                })
                .collect()
        })
    }

    #[test]
    fn recovers_synthetic_displacements_and_centres_exactly() {
        let d = [3e-5, -2e-5];
        let offsets = [[1e-4, -2e-4, 5e-5, 0.0], [-3e-5, 7e-5, 0.0, 1e-5]];
        let [x, y] = steps(d, offsets);
        let fits = fit(&model(), &x, &y).unwrap();
        for p in 0..2 {
            assert!((fits[p].displacement_m - d[p]).abs() < 1e-17, "{:?}", fits[p]);
            // straight line between BPMs 0 and 1: the beam at the centre is
            // their mean, the quad's centre d away from it
            let want = (offsets[p][0] + offsets[p][1]) / 2.0 - d[p];
            assert!((fits[p].offset_m - want).abs() < 1e-15, "{} vs {want}", fits[p].offset_m);
            // the nearest BPM (1): its zero-current reading − d
            let (bpm, want) = (fits[p].bpm_offset_m, offsets[p][1] - d[p]);
            assert!((bpm - want).abs() < 1e-15, "{bpm} vs {want}");
            assert!(fits[p].residual_rms_m < 1e-17);
        }
    }

    #[test]
    fn no_variation_is_an_error() {
        let steps = vec![Step { current_a: 0.0, readings: vec![vec![0.0; 4]; 3] }];
        assert_eq!(fit(&model(), &steps, &steps), Err(BbaError::NoSteps));
    }

    #[test]
    fn a_current_the_model_does_not_know_is_an_error() {
        let [mut x, mut y] = steps([1e-5, 0.0], [[0.0; 4]; 2]);
        x[1].current_a = -1.5;
        y[1].current_a = -1.5;
        assert!(matches!(fit(&model(), &x, &y), Err(BbaError::Inconsistent(m)) if m.contains("-1.5 A")));
    }

    #[test]
    fn the_orbit_without_the_measurement_is_the_zero_current_mean() {
        let [x, _] = steps([1e-5, 0.0], [[1.0, 2.0, 3.0, 4.0], [0.0; 4]]);
        assert_eq!(zero_current_orbit(&x), Some(vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(step_currents(&x), vec![0.0, -2.0, 2.0]);
    }
}
