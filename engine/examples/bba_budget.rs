//! Error budget of the BBA fit on the BESSY II lattice, as the twin runs it
//! (fixed-RF 6D orbit with radiation, orbit corrected, no noise): for each
//! hidden offset, the fitted beam-to-quad displacement d and the
//! reconstructed beam position at the quad centre against the truth.
//!
//! cargo run --release -p twin-engine --example bba_budget -- [all] [PASSES]
//!     [--noise-m M] [--feedback-cut C] [--analyst-cut C] [--no-match]
//!
//! `all`: offsets of rms 50 µm on all quads (Q1–Q5) instead of four;
//! PASSES: refit passes (default 2, 4 with `all`); `--noise-m`: rms noise
//! of each reading [m] (default 0); `--feedback-cut`, `--analyst-cut`: the
//! singular-value cuts of the orbit feedback (default 0.02) and the
//! analyst's model (default `ANALYST_SINGULAR_CUT`); `--no-match`: the
//! analyst's model is not steered onto the measured orbit.
use twin_engine::bba::{Step, fit};
use twin_engine::bba_model::{Reference, bba_model, first_half, reference_6d};
use twin_engine::constants::electron_rigidity_tm;
use twin_engine::coords::{DELTA, PX, PY, X, Y, position};
use twin_engine::integrators::Dynamics;
use twin_engine::integrators::pass;
use twin_engine::lattice::{ElementId, ElementKind, Lattice, Misalignment, Plane, from_lat2db_json};
use twin_engine::orbit::{closed_orbit_6d, closed_orbit_xy};
use twin_engine::orbit_match::{ANALYST_SINGULAR_CUT, Steering, match_orbit_6d};
use twin_engine::tracking::{context, orbit_along};

const AUX_TURNS_RATIO: f64 = -2.67857;
const STRENGTH_PER_A: f64 = 0.0606;

/// What to run (the command line).
struct Options {
    all: bool,
    passes: usize,
    noise_m: f64,
    feedback_cut: f64,
    analyst_cut: f64,
    match_orbit: bool,
}

impl Options {
    fn from_args() -> Result<Self, String> {
        let (mut all, mut passes, mut match_orbit) = (false, None, true);
        let (mut noise_m, mut feedback_cut, mut analyst_cut) = (0.0, 0.02, ANALYST_SINGULAR_CUT);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<f64, String> {
                let v = args.next().ok_or(format!("{name} needs a value"))?;
                v.parse().map_err(|e| format!("{name} {v}: {e}"))
            };
            match arg.as_str() {
                "all" => all = true,
                "--no-match" => match_orbit = false,
                "--noise-m" => noise_m = value("--noise-m")?,
                "--feedback-cut" => feedback_cut = value("--feedback-cut")?,
                "--analyst-cut" => analyst_cut = value("--analyst-cut")?,
                other => passes = Some(other.parse().map_err(|e| format!("passes {other}: {e}"))?),
            }
        }
        let passes = passes.unwrap_or(if all { 4 } else { 2 });
        Ok(Self { all, passes, noise_m, feedback_cut, analyst_cut, match_orbit })
    }
}

/// One measurement: the quad, its hidden offset (x, y) [m] and the
/// readings of both planes.
struct Measurement {
    quad: ElementId,
    hidden_m: [f64; 2],
    x: Vec<Step>,
    y: Vec<Step>,
}

/// Deterministic normal deviates (LCG and Box–Muller).
struct Gauss {
    seed: u64,
}

impl Gauss {
    fn uniform(&mut self) -> f64 {
        self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

fn at_bpms(lattice: &Lattice, bpms: &[ElementId]) -> (Vec<f64>, Vec<f64>) {
    let [x, y] = closed_orbit_xy(lattice, Dynamics::SixDRadiation, None, bpms).expect("6D orbit");
    (x, y)
}

/// The truth at the centre of `quad`: (x, x', y, y') and δ.
fn centre_truth(lattice: &Lattice, quad: ElementId) -> ([f64; 4], f64) {
    let dynamics = Dynamics::SixDRadiation;
    let start = closed_orbit_6d(lattice, dynamics, None).expect("6D orbit").coords;
    let mut c = if quad.0 == 0 { start } else { orbit_along(lattice, &start, dynamics).expect("tracked")[quad.0 - 1] };
    pass(&first_half(lattice.element(quad)), &mut c, &context(lattice, dynamics, 0));
    ([c[X], c[PX], c[Y], c[PY]], c[DELTA])
}

/// What the slow orbit feedback does: the orbit back onto the design's
/// (steerers and RF, as `match_orbit_6d` steers a model).
fn correct(truth: &mut Lattice, design: &Lattice, feedback_cut: f64) {
    let (x, y) = at_bpms(design, &design.bpms());
    let steering = Steering::new(design, &design.bpms(), feedback_cut).expect("steering");
    match_orbit_6d(truth, &design.bpms(), [&x, &y], &steering).expect("corrected");
}

/// The quads with hidden offsets (x, y) [m]: four, or all of Q1–Q5 with
/// deterministic pseudo-random offsets of rms 50 µm.
fn hidden_offsets(design: &Lattice, all: bool) -> Vec<(ElementId, [f64; 2])> {
    if !all {
        let four = [
            ("Q1M2D1R", 60e-6, -40e-6),
            ("Q3M1T3R", -80e-6, 50e-6),
            ("Q4M2D5R", 40e-6, 70e-6),
            ("Q2M1T6R", -50e-6, -60e-6),
        ];
        return four.into_iter().map(|(n, x, y)| (design.find(n).unwrap(), [x, y])).collect();
    }
    let mut s = 12345u64;
    let mut rnd = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * 50e-6 * 3f64.sqrt()
    };
    (0..design.len())
        .map(ElementId)
        .filter(|&id| matches!(design.element(id).kind, ElementKind::Quadrupole(_)))
        .filter(|&id| {
            let n = design.element(id).name.as_bytes();
            n.len() > 2 && n[0] == b'Q' && (b'1'..=b'5').contains(&n[1])
        })
        .map(|q| (q, [rnd(), rnd()]))
        .collect()
}

/// The readings of each quad's measurement on `truth`, with noise.
fn measure(truth: &mut Lattice, hidden: &[(ElementId, [f64; 2])], dk1_per_a: f64, noise_m: f64) -> Vec<Measurement> {
    let bpms = truth.bpms();
    let mut gauss = Gauss { seed: 987654321 };
    let mut noisy = |v: &[f64]| -> Vec<f64> { v.iter().map(|x| x + noise_m * gauss.next()).collect() };
    let mut out = Vec::new();
    for &(quad, hidden_m) in hidden {
        let k0 = truth.element(quad).body().unwrap().polynom_b[1];
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for current in [0.0, -2.0, 0.0, 2.0, 0.0] {
            truth.set_polynom_b(quad, 1, k0 + current * dk1_per_a).unwrap();
            let (ox, oy) = at_bpms(truth, &bpms);
            x.push(Step { current_a: current, readings: vec![noisy(&ox), noisy(&ox)] });
            y.push(Step { current_a: current, readings: vec![noisy(&oy), noisy(&oy)] });
        }
        truth.set_polynom_b(quad, 1, k0).unwrap();
        out.push(Measurement { quad, hidden_m, x, y });
    }
    out
}

/// The analyst's model of `truth` for the measurement `this`: the offsets
/// of all measured quads as estimated so far (0 before their first fit),
/// steered onto the measured orbit unless `match_orbit` is off; with its
/// reference and the same machine without the matching's kicks.
fn analyst_model(
    truth: &Lattice,
    all: &[Measurement],
    estimates: &[Option<[f64; 2]>],
    this: &Measurement,
    steering: &Steering,
    match_orbit: bool,
) -> (Lattice, Lattice, Reference) {
    let mut analyst = truth.clone();
    for q in all.iter().map(|m| m.quad) {
        let [ex, ey] = estimates[q.0].unwrap_or([0.0; 2]);
        analyst.set_misalignment(q, Misalignment { dx_m: ex, dy_m: ey, roll_rad: 0.0 }).unwrap();
    }
    let as_set = analyst.clone();
    let reference = if match_orbit {
        let zero = [&this.x[0].readings[0][..], &this.y[0].readings[0][..]];
        match_orbit_6d(&mut analyst, &truth.bpms(), zero, steering).expect("matched")
    } else {
        reference_6d(&analyst, None).expect("reference")
    };
    (analyst, as_set, reference)
}

fn main() {
    let options = Options::from_args().unwrap_or_else(|e| {
        eprintln!("bba_budget: {e}");
        std::process::exit(2)
    });
    let text = std::fs::read_to_string("config/bessy2/bessy2_storage_ring_reflat.json").expect("lattice file");
    let design = from_lat2db_json("BESSY II", &text).expect("lattice");
    let hidden = hidden_offsets(&design, options.all);
    let mut truth = design.clone();
    for &(q, [dx, dy]) in &hidden {
        truth.set_misalignment(q, Misalignment { dx_m: dx, dy_m: dy, roll_rad: 0.0 }).unwrap();
    }
    correct(&mut truth, &design, options.feedback_cut);
    let bpms = design.bpms();
    let dk1_per_a = AUX_TURNS_RATIO * STRENGTH_PER_A / electron_rigidity_tm(design.energy_ev());
    let measured = measure(&mut truth, &hidden, dk1_per_a, options.noise_m);
    let steering = Steering::new(&design, &bpms, options.analyst_cut).expect("steering");
    let mut estimates: Vec<Option<[f64; 2]>> = vec![None; design.len()];
    for pass in 0..options.passes {
        let last = pass == options.passes - 1;
        let (mut errs, mut pulls) = (Vec::new(), Vec::new());
        for m in &measured {
            let (analyst, as_set, reference) =
                analyst_model(&truth, &measured, &estimates, m, &steering, options.match_orbit);
            let (c, delta) = centre_truth(&truth, m.quad);
            let model = bba_model(&analyst, &as_set, &reference, m.quad, dk1_per_a, &[0.0, -2.0, 2.0], &bpms).unwrap();
            let fits = fit(&model, &m.x, &m.y).unwrap();
            for (k, plane) in [Plane::Horizontal, Plane::Vertical].into_iter().enumerate() {
                let (f, want) = (fits[k], m.hidden_m[k]);
                errs.push(f.offset_m - want);
                pulls.push((f.offset_m - want) / f.sigma_m);
                if last && (!options.all || (f.offset_m - want).abs() > 3e-6) {
                    let xc_true = c[position(k)];
                    let d_true = xc_true - want;
                    println!(
                        "{:9} {:?}: err {:+7.3} µm | d {:+8.1} err {:+7.3} µm | xc err {:+7.3} µm | sigma {:.3} µm | Δδ (truth − model) {:+.2e}",
                        design.element(m.quad).name,
                        plane,
                        (f.offset_m - want) * 1e6,
                        d_true * 1e6,
                        (f.displacement_m - d_true) * 1e6,
                        (f.offset_m + f.displacement_m - xc_true) * 1e6,
                        f.sigma_m * 1e6,
                        delta - reference.orbit[m.quad.0][DELTA]
                    );
                }
            }
            estimates[m.quad.0] = Some([fits[0].offset_m, fits[1].offset_m]);
        }
        let rms = (errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64).sqrt();
        let max = errs.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        let within = pulls.iter().filter(|p| p.abs() < 3.0).count() as f64 / pulls.len() as f64;
        println!("pass {pass}: rms {:.3} µm, max {:.3} µm, within 3σ {:.0} %", rms * 1e6, max * 1e6, within * 100.0);
    }
}
