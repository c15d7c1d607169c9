//! Times single passes through the BESSY II lattice (scalar, Dual<4>, Dual<6>).
use std::time::Instant;

use twin_engine::hyper_dual::HyperDual;
use twin_engine::integrators::Dynamics;
use twin_engine::lattice::from_lat2db_json;
use twin_engine::real::Dual;
use twin_engine::tracking::{context, track_turn};

fn main() {
    let text = std::fs::read_to_string("config/bessy2/bessy2_storage_ring_reflat.json").unwrap();
    let lattice = from_lat2db_json("BESSY II", &text).unwrap();
    for dynamics in [Dynamics::FourD, Dynamics::SixDRadiation] {
        let ctx = context(&lattice, dynamics, 0);
        let n = 200;
        let t0 = Instant::now();
        for _ in 0..n {
            let mut r = [1e-6, 0.0, 1e-6, 0.0, 0.0, 0.0];
            track_turn(&lattice, &mut r, &ctx).unwrap();
        }
        let scalar = t0.elapsed().as_secs_f64() / n as f64;
        let t0 = Instant::now();
        for _ in 0..n {
            let mut r: [Dual<4>; 6] =
                std::array::from_fn(|i| if i < 4 { Dual::seed(1e-6, i) } else { Dual { v: 0.0, d: [0.0; 4] } });
            track_turn(&lattice, &mut r, &ctx).unwrap();
        }
        let d4 = t0.elapsed().as_secs_f64() / n as f64;
        let t0 = Instant::now();
        for _ in 0..n {
            let mut r: [Dual<6>; 6] = std::array::from_fn(|i| Dual::seed(1e-6, i));
            track_turn(&lattice, &mut r, &ctx).unwrap();
        }
        let d6 = t0.elapsed().as_secs_f64() / n as f64;
        let t0 = Instant::now();
        for _ in 0..n {
            let mut r: [HyperDual; 6] = std::array::from_fn(|i| HyperDual::seed(1e-6, (i < 4).then_some(i), 0.1));
            track_turn(&lattice, &mut r, &ctx).unwrap();
        }
        let hyper = t0.elapsed().as_secs_f64() / n as f64;
        println!("{dynamics:?}: hyper {:.1} us", hyper * 1e6);
        println!("{dynamics:?}: scalar {:.1} us, dual4 {:.1} us, dual6 {:.1} us", scalar * 1e6, d4 * 1e6, d6 * 1e6);
    }
}
