//! Times the engine's operations on the BESSY II lattice and prints JSON
//! (median seconds). Used by tests/bench/bench_engine.py, which runs pyAT's
//! equivalents in the same run and reports the ratios.
//!
//! cargo run --release -p twin-engine --example engine_timing -- LATTICE_JSON REPEATS
use std::time::Instant;

use twin_engine::integrators::Dynamics;
use twin_engine::lattice::{Plane, from_lat2db_json};
use twin_engine::optics::{linear_optics_4d, tunes_6d};
use twin_engine::orbit::closed_orbit_4d;
use twin_engine::orm::{Corrector, orbit_response};
use twin_engine::recompute::{Memory, chromaticity, recompute};
use twin_engine::tracking::track_particles;

/// The twin's allocator (twin-ioc uses it; see ioc/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_s(repeats: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..repeats)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    // rayon's pool as twin-ioc builds it: one worker pinned to each core
    // (see ioc/src/threads.rs)
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    rayon::ThreadPoolBuilder::new()
        .num_threads(cores.len().max(1))
        .start_handler(move |i| {
            if let Some(core) = cores.get(i) {
                core_affinity::set_for_current(*core);
            }
        })
        .build_global()
        .expect("rayon's global pool");
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map_or("config/bessy2/bessy2_storage_ring_reflat.json", String::as_str);
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let text = std::fs::read_to_string(path).expect("lattice file");
    let mut lattice = from_lat2db_json("BESSY II", &text).expect("lattice");
    let steerer = lattice.find("S4M2D1R").expect("S4M2D1R");
    let mut k = 0.0;
    let update = median_s(repeats, || {
        k += 1e-6;
        lattice.set_kick_rad(steerer, Plane::Horizontal, k).expect("kick");
        linear_optics_4d(&lattice, 0.0, None).expect("optics");
    });
    lattice.set_kick_rad(steerer, Plane::Horizontal, 0.0).expect("kick");
    let orbit4 = median_s(repeats, || {
        closed_orbit_4d(&lattice, 0.0, None).expect("orbit");
    });
    let optics_chrom = median_s(repeats, || {
        let optics = linear_optics_4d(&lattice, 0.0, None).expect("optics");
        chromaticity(&lattice, &optics).expect("chromaticity");
    });
    let orbit6 = median_s(repeats, || {
        tunes_6d(&lattice, Dynamics::SixDRadiation, None).expect("6d");
    });
    let correctors: Vec<Corrector> = [Plane::Horizontal, Plane::Vertical]
        .into_iter()
        .flat_map(|p| lattice.steerers(p).into_iter().map(move |element| Corrector { element, plane: p }))
        .collect();
    let bpms = lattice.bpms();
    let orm = median_s(repeats.min(10), || {
        let optics = linear_optics_4d(&lattice, 0.0, None).expect("optics");
        orbit_response(&lattice, &optics, &correctors, &bpms).expect("orm");
    });
    // what the twin does per write: a steerer step, the model warm-started
    // from the previous one
    let (_, mut memory) = recompute(&lattice, &Memory::default()).expect("model");
    let full_recompute = median_s(repeats, || {
        k += 1e-6;
        lattice.set_kick_rad(steerer, Plane::Horizontal, k).expect("kick");
        memory = recompute(&lattice, &memory).expect("model").1;
    });
    lattice.set_kick_rad(steerer, Plane::Horizontal, 0.0).expect("kick");
    // 1000 particles × 100 turns on 1 thread and on all
    let particles: Vec<[f64; 6]> =
        (0..1000).map(|i| [1e-6 * i as f64, 0.0, 1e-6 * (i % 10) as f64, 0.0, 0.0, 0.0]).collect();
    let on_threads = |threads: usize, dynamics: Dynamics| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        median_s(1, || {
            pool.install(|| track_particles(&lattice, &particles, 100, dynamics));
        })
    };
    let cores = rayon::current_num_threads();
    let (track4_1, track4) = (on_threads(1, Dynamics::FourD), on_threads(cores, Dynamics::FourD));
    let (track6_1, track6) = (on_threads(1, Dynamics::SixDRadiation), on_threads(cores, Dynamics::SixDRadiation));
    println!(
        "{{\"update_kick_orbit_optics_s\":{update},\"orbit4_s\":{orbit4},\"optics_chrom_s\":{optics_chrom},\
         \"orbit6_tunes_s\":{orbit6},\"full_recompute_s\":{full_recompute},\"orm_s\":{orm},\
         \"track_1000p_100t_4d_s\":{track4},\"track_1000p_100t_6d_s\":{track6},\
         \"track_1000p_100t_4d_1thread_s\":{track4_1},\"track_1000p_100t_6d_1thread_s\":{track6_1},\"threads\":{cores}}}"
    );
}
