//! Error budget of the BBA fit on the BESSY II lattice, as the twin runs it
//! (fixed-RF 6D orbit with radiation, orbit corrected, no noise): for each
//! hidden offset, the fitted beam-to-quad displacement d and the
//! reconstructed beam position at the quad centre against the truth.
//!
//! cargo run --release -p twin-engine --example bba_budget [-- all]
use twin_engine::bba::{Step, fit};
use twin_engine::bba_model::{bba_model, first_half, reference_6d};
use twin_engine::constants::electron_rigidity_tm;
use twin_engine::integrators::Dynamics;
use twin_engine::integrators::pass;
use twin_engine::lattice::{ElementId, ElementKind, Lattice, Misalignment, Plane, from_lat2db_json};
use twin_engine::orbit::{closed_orbit_6d, closed_orbit_xy};
use twin_engine::orbit_match::{Steering, match_orbit_6d};
use twin_engine::tracking::{context, orbit_along};

const AUX_TURNS_RATIO: f64 = -2.67857;
const STRENGTH_PER_A: f64 = 0.0606;

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
    ([c[0], c[1], c[2], c[3]], c[4])
}

/// What the slow orbit feedback does: the orbit back onto the design's
/// (steerers and RF, as `match_orbit_6d` steers a model).
fn correct(truth: &mut Lattice, design: &Lattice) {
    let (x, y) = at_bpms(design, &design.bpms());
    let steering = Steering::new(design, &design.bpms(), feedback_cut()).expect("steering");
    match_orbit_6d(truth, &design.bpms(), [&x, &y], &steering).expect("corrected");
}

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The slow orbit feedback's singular-value cut (BBA_FEEDBACK_CUT).
fn feedback_cut() -> f64 {
    env_or("BBA_FEEDBACK_CUT", 0.02)
}

/// The analyst's model's cut (BBA_ANALYST_CUT).
fn analyst_cut() -> f64 {
    env_or("BBA_ANALYST_CUT", twin_engine::orbit_match::ANALYST_SINGULAR_CUT)
}

fn main() {
    let all = std::env::args().any(|a| a == "all");
    let text = std::fs::read_to_string("config/bessy2/bessy2_storage_ring_reflat.json").expect("lattice file");
    let design = from_lat2db_json("BESSY II", &text).expect("lattice");
    let quads: Vec<ElementId> = (0..design.len())
        .map(ElementId)
        .filter(|&id| matches!(design.element(id).kind, ElementKind::Quadrupole(_)))
        .filter(|&id| {
            let n = design.element(id).name.as_bytes();
            n.len() > 2 && n[0] == b'Q' && (b'1'..=b'5').contains(&n[1])
        })
        .collect();
    let hidden: Vec<(ElementId, f64, f64)> = if all {
        // deterministic pseudo-random offsets, rms ~50 µm
        let mut s = 12345u64;
        let mut rnd = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * 50e-6 * 3f64.sqrt()
        };
        quads.iter().map(|&q| (q, rnd(), rnd())).collect()
    } else {
        [("Q1M2D1R", 60e-6, -40e-6), ("Q3M1T3R", -80e-6, 50e-6), ("Q4M2D5R", 40e-6, 70e-6), ("Q2M1T6R", -50e-6, -60e-6)]
            .iter()
            .map(|(n, x, y)| (design.find(n).unwrap(), *x, *y))
            .collect()
    };
    let mut truth = design.clone();
    for &(q, dx, dy) in &hidden {
        truth.set_misalignment(q, Misalignment { dx_m: dx, dy_m: dy, roll_rad: 0.0 }).unwrap();
    }
    correct(&mut truth, &design);
    let bpms = design.bpms();
    let dk1_per_a = AUX_TURNS_RATIO * STRENGTH_PER_A / electron_rigidity_tm(design.energy_ev());
    let noise_m: f64 = std::env::var("BBA_NOISE_M").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let mut seed = 987654321u64;
    let mut gauss = move || {
        let mut u = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let mut noisy = |v: &[f64]| -> Vec<f64> { v.iter().map(|x| x + noise_m * gauss()).collect() };
    let steering = Steering::new(&design, &bpms, analyst_cut()).expect("steering");
    let mut estimates: Vec<Option<[f64; 2]>> = vec![None; design.len()];
    let mut measured = Vec::new();
    for &(q, _, _) in &hidden {
        let k0 = truth.element(q).body().unwrap().polynom_b[1];
        let (mut sx, mut sy) = (Vec::new(), Vec::new());
        for current in [0.0, -2.0, 0.0, 2.0, 0.0] {
            truth.set_polynom_b(q, 1, k0 + current * dk1_per_a).unwrap();
            let (x, y) = at_bpms(&truth, &bpms);
            sx.push(Step { current_a: current, readings: vec![noisy(&x), noisy(&x)] });
            sy.push(Step { current_a: current, readings: vec![noisy(&y), noisy(&y)] });
        }
        truth.set_polynom_b(q, 1, k0).unwrap();
        measured.push((q, sx, sy));
    }
    let passes: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(if all { 4 } else { 2 });
    let mut errs = Vec::new();
    let mut pulls: Vec<f64> = Vec::new();
    for pass in 0..passes {
        errs.clear();
        pulls.clear();
        for ((q, sx, sy), &(_, dx, dy)) in measured.iter().zip(&hidden) {
            let mut analyst = truth.clone();
            for &(qq, _, _) in &hidden {
                let [ex, ey] = estimates[qq.0].unwrap_or([0.0; 2]);
                analyst.set_misalignment(qq, Misalignment { dx_m: ex, dy_m: ey, roll_rad: 0.0 }).unwrap();
            }
            let as_set = analyst.clone();
            let measured = (&sx[0].readings[0], &sy[0].readings[0]);
            let reference = if std::env::var("BBA_NO_MATCH").is_ok() {
                reference_6d(&analyst, None).expect("reference")
            } else {
                match_orbit_6d(&mut analyst, &bpms, [measured.0, measured.1], &steering).expect("matched")
            };
            let (c, delta) = centre_truth(&truth, *q);
            let model = bba_model(&analyst, &as_set, &reference, *q, dk1_per_a, &[0.0, -2.0, 2.0], &bpms).unwrap();
            let fits = fit(&model, sx, sy).unwrap();
            let mut est = [0.0; 2];
            for (k, (plane, want)) in [(Plane::Horizontal, dx), (Plane::Vertical, dy)].into_iter().enumerate() {
                let f = fits[k];
                let xc_true = c[2 * k];
                let d_true = xc_true - want;
                est[k] = f.offset_m;
                errs.push(f.offset_m - want);
                pulls.push((f.offset_m - want) / f.sigma_m);
                if pass == passes - 1 && (!all || (f.offset_m - want).abs() > 3e-6) {
                    println!(
                        "{:9} {:?}: err {:+7.3} µm | d {:+8.1} err {:+7.3} µm | xc err {:+7.3} µm | sigma {:.3} µm | Δδ (truth − model) {:+.2e}",
                        design.element(*q).name,
                        plane,
                        (f.offset_m - want) * 1e6,
                        d_true * 1e6,
                        (f.displacement_m - d_true) * 1e6,
                        (f.offset_m + f.displacement_m - xc_true) * 1e6,
                        f.sigma_m * 1e6,
                        delta - reference.orbit[q.0][4]
                    );
                }
            }
            estimates[q.0] = Some(est);
        }
        let rms = (errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64).sqrt();
        let max = errs.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        let within = pulls.iter().filter(|p| p.abs() < 3.0).count() as f64 / pulls.len() as f64;
        println!("pass {pass}: rms {:.3} µm, max {:.3} µm, within 3σ {:.0} %", rms * 1e6, max * 1e6, within * 100.0);
    }
}
