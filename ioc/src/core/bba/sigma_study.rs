//! BBA on an unprepared machine (issue 18), run by the service against the
//! fake machine: how well the published σ covers the error, and all quads
//! on an uncorrected orbit with the bump variant. The studies are ignored
//! tests (`cargo test --release -p twin-ioc --lib <name> -- --ignored
//! --nocapture`); the last test holds the all-quads case in `make test`.
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use super::tests::{Fake, bessy2, quad, run_to_end, service};
use super::{BbaCommand, Hardware};
use crate::machine::{Machine, QuadId, Setpoint};
use twin_engine::lattice::Plane;

/// The scenario of `tests/test_bba_unprepared.py`: (quad, x, y) [m].
const SIX_QUADS: [(&str, f64, f64); 6] = [
    ("Q1M2D1R", 120e-6, -80e-6),
    ("Q2M1T2R", -150e-6, 60e-6),
    ("Q3M2D3R", 90e-6, 140e-6),
    ("Q4M1T4R", -60e-6, -130e-6),
    ("Q5M2T5R", 30e-6, 100e-6),
    ("Q3M1T6R", -110e-6, -40e-6),
];

/// A study's setting from the environment, or its default.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Coverage of error / σ: rms, % within 2σ and 3σ, largest.
fn coverage(z: &[f64]) -> (f64, f64, f64, f64) {
    let n = z.len() as f64;
    let within = |k: f64| 100.0 * z.iter().filter(|v| v.abs() < k).count() as f64 / n;
    let rms = (z.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
    (rms, within(2.0), within(3.0), z.iter().map(|v| v.abs()).fold(0.0, f64::max))
}

/// Sets hidden offsets (x, y) [m] on quads.
fn offsets(machine: &Machine, hw: &mut Fake, truth: &[(QuadId, [f64; 2])]) {
    for (id, [dx, dy]) in truth {
        let align = machine.schema.quad(*id).align;
        hw.set(Setpoint::Offset(align, Plane::Horizontal), *dx).expect("offset");
        hw.set(Setpoint::Offset(align, Plane::Vertical), *dy).expect("offset");
    }
}

/// Each centre's error and σ [m] in the view after the runs.
fn errors(hw: &Fake, truth: &[(QuadId, [f64; 2])]) -> Vec<(f64, f64)> {
    let view = hw.last();
    let mut out = Vec::new();
    for (id, t) in truth {
        match view.results[id.0] {
            Some(r) => out.extend((0..2).map(|p| (r.offset_m[p] - t[p], r.sigma_m[p]))),
            None => out.extend([(f64::NAN, f64::NAN); 2]),
        }
    }
    out
}

/// error / σ of every centre in `reps` repetitions of the six quads, one
/// run each in turn, fresh 1 µm noise per repetition (seeds 0, 1, …).
fn six_quads(reps: u64) -> Vec<f64> {
    let machine = bessy2();
    let truth: Vec<_> = SIX_QUADS.iter().map(|(q, x, y)| (quad(&machine, q), [*x, *y])).collect();
    let mut z = Vec::new();
    for seed in 0..reps {
        let mut hw = Fake::new(&machine);
        offsets(&machine, &mut hw, &truth);
        hw.noise = Some((StdRng::seed_from_u64(seed), 1e-6));
        let mut bba = service(&machine);
        for (id, _) in &truth {
            bba.command(BbaCommand::Run(*id), &mut hw).expect("started");
            run_to_end(&mut bba, &mut hw);
        }
        z.extend(errors(&hw, &truth).into_iter().map(|(e, s)| e / s));
    }
    z
}

/// `SIGMA_STUDY_REPS` (default 100) repetitions.
#[test]
#[ignore = "a study: a minute of computing"]
fn six_quads_sigma_study() {
    let z = six_quads(env_or("SIGMA_STUDY_REPS", 100));
    let (rms, two, three, max) = coverage(&z);
    println!(
        "{} centres: |e|/sigma rms {rms:.3}, {two:.1} % within 2 sigma, {three:.1} % within 3 sigma, max {max:.2}",
        z.len()
    );
}

/// Every multiplexer quad with a hidden offset of 50 µm rms (seed
/// `seed`, or the "x y" lines of `truth`, one per quad), the orbit left
/// uncorrected, `noise_m` of BPM noise, one `runAll` with or without the
/// bump variant: each centre's error and σ.
fn all_quads(seed: u64, truth_lines: Option<&str>, noise_m: f64, bump: bool) -> (Vec<(f64, f64)>, String) {
    let machine = bessy2();
    let mut hw = Fake::new(&machine);
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 50e-6).expect("rms");
    let mut truth: Vec<_> = machine
        .schema
        .multiplexer_quads()
        .map(|q| (q.id, [normal.sample(&mut rng), normal.sample(&mut rng)]))
        .collect();
    if let Some(text) = truth_lines {
        for (slot, line) in truth.iter_mut().zip(text.lines()) {
            let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().expect("a number")).collect();
            slot.1 = [v[0], v[1]];
        }
    }
    offsets(&machine, &mut hw, &truth);
    if noise_m > 0.0 {
        hw.noise = Some((StdRng::seed_from_u64(seed + 1000), noise_m));
    }
    hw.set(Setpoint::BbaBump, f64::from(u8::from(bump))).expect("the bump variant");
    let mut bba = service(&machine);
    match std::env::var("SIGMA_STUDY_PER_QUAD").is_ok() {
        // one run per quad in turn, as a user would: each refits the earlier ones
        true => {
            for (id, _) in &truth {
                bba.command(BbaCommand::Run(*id), &mut hw).expect("started");
                run_to_end(&mut bba, &mut hw);
            }
        }
        false => {
            bba.command(BbaCommand::RunAll, &mut hw).expect("started");
            run_to_end(&mut bba, &mut hw);
        }
    }
    (errors(&hw, &truth), hw.last().message.clone())
}

/// `SIGMA_STUDY_SEED` (default 3), `SIGMA_STUDY_NOISE_M` (default 0),
/// `SIGMA_STUDY_BUMP` (set: the bump variant).
#[test]
#[ignore = "a study: half a minute of computing"]
fn all_quads_study() {
    let t0 = std::time::Instant::now();
    let bump = std::env::var("SIGMA_STUDY_BUMP").is_ok();
    // a truth of `make bench-bba` (numpy's), one "x y" line per quad
    let truth = std::env::var("SIGMA_STUDY_TRUTH").ok().map(|p| std::fs::read_to_string(p).expect("the truth file"));
    let (e, message) =
        all_quads(env_or("SIGMA_STUDY_SEED", 3), truth.as_deref(), env_or("SIGMA_STUDY_NOISE_M", 0.0), bump);
    println!("{} centres in {:.1} s: {message}", e.len(), t0.elapsed().as_secs_f64());
    if std::env::var("SIGMA_STUDY_LIST").is_ok() {
        let machine = bessy2();
        for (q, c) in machine.schema.multiplexer_quads().zip(e.chunks(2)) {
            println!(
                "{} {:.2} {:.2} um (sigma {:.2} {:.2})",
                q.name,
                c[0].0 * 1e6,
                c[1].0 * 1e6,
                c[0].1 * 1e6,
                c[1].1 * 1e6
            );
        }
    }
    for (p, plane) in ["x", "y"].iter().enumerate() {
        let all: Vec<_> = e.iter().skip(p).step_by(2).copied().collect();
        let mine: Vec<_> = all.iter().copied().filter(|(e, _)| e.is_finite()).collect();
        let rms = (mine.iter().map(|(e, _)| e * e).sum::<f64>() / mine.len() as f64).sqrt();
        let worst = mine.iter().map(|(e, _)| e.abs()).fold(0.0, f64::max);
        let beyond = |m: f64| mine.iter().filter(|(e, _)| e.abs() > m).count();
        println!(
            "{plane}: {} without a result, {} beyond 1 um, {} beyond 3 um",
            all.len() - mine.len(),
            beyond(1e-6),
            beyond(3e-6)
        );
        let (_, two, three, _) = coverage(&mine.iter().map(|(e, s)| e / s).collect::<Vec<_>>());
        println!(
            "{plane}: rms {:.3} um, worst {:.3} um, {two:.1} % within 2 sigma, {three:.1} % within 3 sigma",
            rms * 1e6,
            worst * 1e6
        );
    }
}

/// All quads with the truth of `seed` (or `truth`), no noise, bump variant:
/// none fails, every centre within 1 µm.
fn every_centre_within_a_micrometre(seed: u64, truth: Option<&str>) {
    let (e, message) = all_quads(seed, truth, 0.0, true);
    assert!(message.contains("0 failed"), "{message}");
    let worst = e.iter().map(|(e, _)| e.abs()).fold(0.0, f64::max);
    assert!(worst < 1e-6, "worst centre {worst:e} m off");
}

#[test]
fn all_quads_on_an_uncorrected_orbit_are_found_with_the_bump_variant() {
    // seed 3: an orbit of 1.9 / 0.6 mm rms
    every_centre_within_a_micrometre(3, None);
}

#[test]
fn a_quad_far_off_the_beam_is_bumped_onto_it() {
    // numpy's seed 4 of `make bench-bba` (1.9 mm rms): Q2M1T1R's centre is
    // 1.4 mm from the beam on its BPM's zero; the second bump's model had
    // no closed orbit Newton found from zero (now: by continuation), and
    // the centre came out 1.37 µm off with the beam still 0.3 mm away
    every_centre_within_a_micrometre(0, Some(include_str!("../../../../tests/reference/bba_truth_numpy_seed4.txt")));
}

#[test]
fn the_published_sigma_covers_the_error_of_the_six_quads() {
    // 360 centres: the issue's calibration (with the profile's coverage)
    let z = six_quads(30);
    let (rms, two, three, max) = coverage(&z);
    assert!(two >= 95.0 && three == 100.0, "rms {rms}, {two} % within 2σ, {three} % within 3σ, max {max}");
    // and not a σ inflated beyond use: the errors fill it
    assert!(rms > 0.6, "|error|/σ rms {rms}");
}

#[test]
fn the_issues_truth_on_its_uncorrected_orbit_is_found_everywhere() {
    // numpy's seed 1 of `make bench-bba` (50 µm rms on every quad; an orbit
    // of 4.5 mm rms, 3–9 mm at the BPMs). Before the analyst's matching
    // damped its steps, Q3M2D2R's model of that orbit was unstable (no
    // fit, so no bump: 44 µm off); before a lost orbit was retried with
    // half steps, Q4M1T7R failed and the missing centre put Q5M1T7R 2.8 µm
    // off
    every_centre_within_a_micrometre(0, Some(include_str!("../../../../tests/reference/bba_truth_numpy_seed1.txt")));
}
