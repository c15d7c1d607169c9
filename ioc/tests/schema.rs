//! The device schema against the machine facts, and the generated records
//! against the committed substitutions file.
use std::path::PathBuf;

use twin_engine::lattice::Plane;
use twin_ioc::machine::{MagnetKind, bba_substitutions, power_converter_substitutions};
use twin_ioc::twin::service::Machine;

fn machine() -> Machine {
    std::env::set_current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")).expect("repo root");
    Machine::load("config/twin.toml".as_ref()).expect("machine loads")
}

#[test]
fn counts_match_the_machine() {
    let m = machine();
    let pcs = &m.schema.power_converters;
    assert_eq!(pcs.len(), 179);
    let count = |f: &dyn Fn(MagnetKind) -> bool| -> (usize, usize) {
        let on: Vec<_> = pcs.iter().filter(|p| f(p.magnets[0].kind)).collect();
        (on.len(), on.iter().map(|p| p.magnets.len()).sum())
    };
    assert_eq!(count(&|k| k == MagnetKind::Quadrupole), (54, 145));
    assert_eq!(count(&|k| k == MagnetKind::Sextupole), (13, 112));
    assert_eq!(count(&|k| k == MagnetKind::Steerer(Plane::Horizontal)), (48, 48));
    assert_eq!(count(&|k| k == MagnetKind::Steerer(Plane::Vertical)), (64, 64));
    let q1 = pcs.iter().find(|p| p.name == "Q1PDR").unwrap();
    assert_eq!(q1.magnets.len(), 16);
    assert!((q1.design_current_a - 218.458).abs() < 0.01, "Q1PDR ≈ 216 A at design: {}", q1.design_current_a);
    assert_eq!(m.schema.bdata_slots.len(), 128);
    assert_eq!(m.schema.orbit_slots.iter().filter(|s| s.element.is_some()).count(), 123);
    // slot = idx - 1, subtracted exactly once: BPMZ5D1R has idx 1
    assert_eq!(m.schema.bdata_slots[0].name, "BPMZ5D1R");
}

#[test]
fn committed_substitutions_are_generated_from_the_schema() {
    let m = machine();
    let committed = std::fs::read_to_string("db/bessy2_pc.substitutions").expect("committed file");
    assert_eq!(
        committed,
        power_converter_substitutions(&m.schema),
        "db/bessy2_pc.substitutions is stale: run `target/release/twin-ioc substitutions > db/bessy2_pc.substitutions`"
    );
    let committed = std::fs::read_to_string("db/bessy2_bba.substitutions").expect("committed file");
    assert_eq!(
        committed,
        bba_substitutions(&m.schema),
        "db/bessy2_bba.substitutions is stale: twin-ioc substitutions --bba"
    );
    assert_eq!(m.schema.quads.len(), 145);
    assert_eq!(m.schema.quads.iter().filter(|q| q.on_multiplexer).count(), 144);
}

#[test]
fn design_currents_reproduce_the_lattice_strengths() {
    let m = machine();
    for pc in &m.schema.power_converters {
        for mag in &pc.magnets {
            let body = m.lattice.element(mag.element).body().unwrap();
            let lattice_strength = match mag.kind {
                MagnetKind::Quadrupole => body.polynom_b[1],
                MagnetKind::Sextupole => body.polynom_b[2],
                MagnetKind::Steerer(p) => body.kick_angle_rad[p.index()],
            };
            let s = mag.strength(pc.design_current_a, m.schema.rigidity_tm);
            assert!((s - lattice_strength).abs() <= 1e-12 * lattice_strength.abs().max(1e-9), "{}", mag.name);
        }
    }
}

#[test]
fn drawn_offsets_depend_on_the_seed_only_and_leave_restored_quads_alone() {
    use twin_ioc::config::AlignmentConfig;
    use twin_ioc::twin::alignment::generated_offsets;
    let m = machine();
    let cfg = AlignmentConfig { quad_offset_rms_m: 1e-4, seed: 3, cutoff_sigma: 2.0 };
    let all = generated_offsets(&m.schema, &cfg, &[]);
    assert_eq!(all.len(), 2 * 145);
    assert!(all.iter().all(|(_, v)| v.abs() <= 2e-4), "truncated at 2 rms");
    let rms = (all.iter().map(|(_, v)| v * v).sum::<f64>() / all.len() as f64).sqrt();
    assert!((0.75e-4..0.95e-4).contains(&rms), "rms {rms} (a 2σ-truncated Gaussian has 0.88 of its σ)");
    assert_eq!(generated_offsets(&m.schema, &cfg, &[(all[0].0, 0.0)]), all[1..].to_vec());
    assert_ne!(generated_offsets(&m.schema, &AlignmentConfig { seed: 4, ..cfg.clone() }, &[]), all);
    assert!(generated_offsets(&m.schema, &AlignmentConfig::default(), &[]).is_empty());
}
