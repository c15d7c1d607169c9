//! The device schema against the machine facts, and the generated records
//! against the committed `.db` files of every machine profile.
use std::path::PathBuf;

use twin_engine::lattice::Plane;
use twin_ioc::config::{AlignmentConfig, Config};
use twin_ioc::core::alignment::generated_offsets;
use twin_ioc::machine::{Machine, MagnetKind, Setpoint};
use twin_ioc::profile::Profile;
use twin_ioc::records_cli::generate;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn machine(profile: &str) -> Machine {
    let profile = Profile::load(&root().join(profile)).expect("profile");
    Machine::from_files(profile, &Config::default()).expect("machine loads")
}

fn bessy2() -> Machine {
    machine("config/bessy2/profile.toml")
}

#[test]
fn counts_match_the_machine() {
    let m = bessy2();
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
    assert_eq!(m.schema.packed_slots.len(), 128);
    assert_eq!(m.schema.orbit_slots.iter().filter(|s| s.element.is_some()).count(), 123);
    // slot = idx - 1, subtracted exactly once: BPMZ5D1R has idx 1
    assert_eq!(m.schema.packed_slots[0].name, "BPMZ5D1R");
    assert_eq!(m.schema.quads.len(), 145);
    assert_eq!(m.schema.multiplexer_quads().count(), 144);
    assert_eq!(m.schema.harmonic_number, 400.0, "the harmonic number comes from the lattice");
}

/// The committed files of a profile equal the generator's output.
fn assert_records_in_sync(profile: &str) {
    let path = root().join(profile);
    let dir = Profile::load(&path).expect("profile").files.records;
    for (name, text) in generate(&path).expect("records generate") {
        let file = dir.join(name);
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == text,
            "{} is stale: run `target/release/twin-ioc --config <its twin.toml> records`",
            file.display()
        );
    }
}

#[test]
fn committed_records_are_generated_from_the_profiles() {
    assert_records_in_sync("config/bessy2/profile.toml");
    assert_records_in_sync("tests/fodo/profile.toml");
}

#[test]
fn design_currents_reproduce_the_lattice_strengths() {
    let m = bessy2();
    for pc in &m.schema.power_converters {
        for mag in &pc.magnets {
            let body = m.lattice.element(mag.element).body().unwrap();
            let lattice_strength = match mag.kind {
                MagnetKind::Quadrupole => body.polynom_b[1],
                MagnetKind::Sextupole => body.polynom_b[2],
                MagnetKind::Steerer(p) => body.kick_angle_rad()[p.index()],
            };
            let s = mag.strength(pc.design_current_a, m.schema.rigidity_tm);
            assert!((s - lattice_strength).abs() <= 1e-12 * lattice_strength.abs().max(1e-9), "{}", mag.name);
        }
    }
}

#[test]
fn the_second_ring_comes_from_its_profile_alone() {
    let m = machine("tests/fodo/profile.toml");
    assert_eq!(m.schema.power_converters.len(), 3);
    assert_eq!(m.schema.quads.len(), 4, "one family of four QF");
    assert_eq!(m.schema.orbit_slots.len(), 2);
    assert!(m.schema.packed_slots.is_empty() && m.schema.multiplexer_quads().next().is_none());
    assert!(m.catalogue.parse("PXS1:sp").is_some() && m.catalogue.parse("RF:freq").is_some());
    assert_eq!(m.schema.harmonic_number, 64.0);
}

#[test]
fn drawn_offsets_depend_on_the_seed_only_and_leave_restored_quads_alone() {
    let m = bessy2();
    let cfg = AlignmentConfig { quad_offset_rms_m: 1e-4, quad_roll_rms_rad: 0.0, seed: 3, cutoff_sigma: 2.0 };
    let all = generated_offsets(&m.schema, &cfg, &[]);
    assert_eq!(all.len(), 2 * 145);
    assert!(all.iter().all(|(_, v)| v.abs() <= 2e-4), "truncated at 2 rms");
    let rms = (all.iter().map(|(_, v)| v * v).sum::<f64>() / all.len() as f64).sqrt();
    assert!((0.75e-4..0.95e-4).contains(&rms), "rms {rms} (a 2σ-truncated Gaussian has 0.88 of its σ)");
    assert_eq!(generated_offsets(&m.schema, &cfg, &[(all[0].0, 0.0)]), all[1..].to_vec());
    assert_ne!(generated_offsets(&m.schema, &AlignmentConfig { seed: 4, ..cfg.clone() }, &[]), all);
    assert!(generated_offsets(&m.schema, &AlignmentConfig::default(), &[]).is_empty());
    // rolls come from a stream of their own: the offsets of the seed stay
    let with_rolls = generated_offsets(&m.schema, &AlignmentConfig { quad_roll_rms_rad: 2e-4, ..cfg.clone() }, &[]);
    assert_eq!(with_rolls.len(), 3 * 145);
    let offsets: Vec<_> = with_rolls.iter().filter(|(s, _)| matches!(s, Setpoint::Offset(..))).cloned().collect();
    assert_eq!(offsets, all);
    let rolls: Vec<f64> = with_rolls.iter().filter(|(s, _)| matches!(s, Setpoint::Roll(_))).map(|(_, v)| *v).collect();
    assert!(rolls.len() == 145 && rolls.iter().all(|v| v.abs() <= 4e-4 && *v != 0.0));
}
