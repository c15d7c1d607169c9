//! Times the model recompute (cold, warm after a steerer step) on BESSY II
//! and compares warm with the step-by-step path.
use std::time::Instant;

use twin_engine::integrators::Dynamics;
use twin_engine::lattice::{Plane, from_lat2db_json};
use twin_engine::optics::{chromaticity_4d, linear_optics_4d, tunes_6d};
use twin_engine::recompute::{Memory, recompute};
use twin_engine::tracking::orbit_along;

fn main() {
    let text = std::fs::read_to_string("config/bessy2/bessy2_storage_ring_reflat.json").unwrap();
    let mut lattice = from_lat2db_json("BESSY II", &text).unwrap();
    let steerers = lattice.steerers(Plane::Horizontal);
    let t0 = Instant::now();
    let (_, mut memory) = recompute(&lattice, &Memory::default()).unwrap();
    println!("cold: {:.3} ms", t0.elapsed().as_secs_f64() * 1e3);
    let n = 300;
    let mut times = Vec::with_capacity(n);
    for k in 0..n {
        let id = steerers[k % steerers.len()];
        lattice.set_kick_rad(id, Plane::Horizontal, 1e-5 * ((k % 7) as f64 - 3.0)).unwrap();
        let t0 = Instant::now();
        let (model, next) = recompute(&lattice, &memory).unwrap();
        let dt = t0.elapsed().as_secs_f64();
        times.push(dt);
        memory = next;
        if k % 100 == 0 {
            let t0 = Instant::now();
            let six = tunes_6d(&lattice, Dynamics::SixDRadiation, None).unwrap();
            let along = orbit_along(&lattice, &six.orbit.coords, Dynamics::SixDRadiation).unwrap();
            let optics = linear_optics_4d(&lattice, 0.0, None).unwrap();
            let chrom = chromaticity_4d(&lattice, 0.0, Some(&optics.orbit.coords)).unwrap();
            let old = t0.elapsed().as_secs_f64();
            let dx = along
                .iter()
                .zip(&model.orbit[1..])
                .flat_map(|(a, b)| (0..6).map(move |i| (a[i] - b[i]).abs()))
                .fold(0.0, f64::max);
            let dq = (0..3).map(|i| (six.tunes[i] - model.tunes[i]).abs()).fold(0.0, f64::max);
            let dc = (0..2).map(|i| (chrom[i] - model.chromaticity[i]).abs()).fold(0.0, f64::max);
            let db = optics
                .points
                .iter()
                .zip(&model.optics.points)
                .map(|(a, b)| (a.twiss[0].beta_m - b.twiss[0].beta_m).abs())
                .fold(0.0, f64::max);
            println!(
                "step {k}: sequential {:.3} ms; |Δorbit| {dx:.2e} |Δtunes| {dq:.2e} |Δchrom| {dc:.2e} |Δβx| {db:.2e}",
                old * 1e3
            );
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((n - 1) as f64 * q) as usize] * 1e3;
    println!("warm: median {:.3} ms, p90 {:.3} ms, max {:.3} ms", at(0.5), at(0.9), at(1.0));
}
