//! The model core without EPICS, on the small test ring: batches, refusal
//! and restore, coalescing, journal, snapshots, acknowledgement after
//! publication, an unstable setting and its recovery.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::mpsc::unbounded_channel;
use twin_engine::coords::X;
use twin_engine::integrators::Dynamics;
use twin_engine::optics::tunes_6d;
use twin_engine::tracking::orbit_along;

use super::{Ack, Command, Core, CoreHandle, Input, Journal, Refusal, Request, Start};
use crate::config::Config;
use crate::machine::{Machine, Setpoint};
use crate::profile::Profile;

fn fodo() -> (Machine, Config) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = Config::isolated(root.join("tests/fodo/profile.toml"), std::env::temp_dir(), [0; 3]);
    let profile = Profile::load(&config.machine.profile).expect("fodo profile");
    (Machine::from_files(profile, &config).expect("fodo machine"), config)
}

struct Rig {
    machine: Machine,
    core: Core,
    handle: CoreHandle,
    journal: tokio::sync::mpsc::UnboundedReceiver<Journal>,
    answers: mpsc::Receiver<(u32, Result<(), Refusal>)>,
    answer_tx: mpsc::Sender<(u32, Result<(), Refusal>)>,
}

fn rig() -> Rig {
    let (machine, config) = fodo();
    let (tx, journal) = unbounded_channel();
    let start = Start { machine: &machine, config: &config, restored: &[], generated: &[], journal: Some(tx) };
    let (core, handle) = Core::new(start).expect("core");
    let (answer_tx, answers) = mpsc::channel();
    Rig { machine, core, handle, journal, answers, answer_tx }
}

impl Rig {
    fn pc(&self, name: &str) -> Setpoint {
        self.machine.catalogue.parse(&format!("{name}:sp")).expect("converter")
    }

    fn write(&self, id: u32, setpoint: Setpoint, input: Input) -> Command {
        let tx = self.answer_tx.clone();
        let ack = Ack::new(move |r| tx.send((id, r)).expect("test receiver"));
        Command::Write { request: Request::Set(setpoint), input, ack }
    }

    fn answers(&self) -> Vec<(u32, Result<(), Refusal>)> {
        self.answers.try_iter().collect()
    }

    fn snapshot(&self) -> Arc<super::Snapshot> {
        Arc::clone(&self.handle.snapshots.borrow())
    }
}

#[test]
fn a_batch_makes_one_recompute_the_latest_value_wins_and_acks_wait_for_publication() {
    let mut r = rig();
    let publisher = r.handle.barrier.join();
    let before = r.snapshot();
    let xs1 = r.pc("PXS1");
    let batch = vec![
        r.write(1, xs1, Input::Number(0.1)),
        r.write(2, xs1, Input::Number(0.2)),
        r.write(3, xs1, Input::Number(0.3)),
    ];
    r.core.handle(batch);
    let after = r.snapshot();
    assert_eq!(after.computation, before.computation + 1, "one recompute for the batch");
    assert_eq!((after.stats.merged, after.stats.writes), (3, 3));
    assert!(r.answers().is_empty(), "no ack before the publisher has posted");
    publisher.published(after.seq);
    let acks = r.answers();
    assert_eq!(acks.iter().map(|(id, a)| (*id, a.is_ok())).collect::<Vec<_>>(), [(1, true), (2, true), (3, true)]);
    // the published orbit is the engine's for the last value
    let mut lattice = r.machine.lattice.clone();
    let magnet = &r.machine.schema.pc(crate::machine::PcId(1)).magnets[0];
    assert_eq!(magnet.name, "XS1");
    let kick = magnet.strength(0.3, r.machine.schema.rigidity_tm);
    lattice.set_kick_rad(magnet.element, twin_engine::lattice::Plane::Horizontal, kick).expect("kick");
    let six = tunes_6d(&lattice, Dynamics::SixDRadiation, None).expect("6d");
    let along = orbit_along(&lattice, &six.orbit.coords, Dynamics::SixDRadiation).expect("orbit");
    let bpm = lattice.bpms()[0];
    let published = after.model.as_ref().expect("valid").orbit[bpm.0];
    assert!((published[X] - along[bpm.0 - 1][X]).abs() < 1e-12, "{} vs {}", published[X], along[bpm.0 - 1][X]);
    assert_eq!(after.settings.currents_a[1], 0.3);
}

#[test]
fn a_refused_write_changes_nothing_and_names_the_value_to_restore() {
    let mut r = rig();
    let xs1 = r.pc("PXS1");
    r.core.handle(vec![r.write(1, xs1, Input::Number(0.5))]);
    let good = r.snapshot();
    r.core.handle(vec![r.write(2, xs1, Input::Number(f64::NAN)), r.write(3, xs1, Input::Other("text \"1,5\"".into()))]);
    let after = r.snapshot();
    assert_eq!(after.computation, good.computation, "nothing recomputed");
    assert_eq!(after.settings.currents_a, good.settings.currents_a);
    let refused: Vec<_> = r.answers().into_iter().filter(|(id, _)| *id > 1).collect();
    assert_eq!(refused.len(), 2);
    for (_, a) in refused {
        let refusal = a.expect_err("refused");
        assert_eq!(refusal.restore, Some(0.5), "{}", refusal.reason);
    }
    let rms = Setpoint::BpmNoiseRms;
    r.core.handle(vec![r.write(4, rms, Input::Number(-1.0))]);
    assert!(r.answers()[0].1.as_ref().is_err_and(|e| e.restore == Some(1.0)), "negative rms refused");
}

#[test]
fn a_batch_of_external_writes_is_all_or_none_with_one_recompute_and_no_record_claims_it() {
    let mut r = rig();
    let (xs1, ys3) = (r.pc("PXS1"), r.pc("PYS3"));
    let before = r.snapshot();
    let (tx, rx) = mpsc::channel();
    let ack = |tx: &mpsc::Sender<Result<(), Refusal>>| {
        let tx = tx.clone();
        Ack::new(move |a| tx.send(a).expect("receiver"))
    };
    // one bad value refuses the whole batch
    let bad = vec![(xs1, 0.1), (ys3, f64::NAN)];
    r.core.handle(vec![Command::Batch { writes: bad, ack: ack(&tx) }]);
    assert!(rx.try_recv().expect("answered").is_err());
    assert_eq!(r.snapshot().settings.currents_a, before.settings.currents_a, "nothing applied");
    assert_eq!(r.snapshot().computation, before.computation);
    r.core.handle(vec![Command::Batch { writes: vec![(xs1, 0.1), (ys3, -0.2)], ack: ack(&tx) }]);
    let after = r.snapshot();
    assert_eq!(after.computation, before.computation + 1, "one recompute");
    assert_eq!((after.stats.merged, after.stats.writes), (2, 2));
    assert!(after.written.is_empty(), "no record holds these values: the output mirror posts them");
    r.handle.barrier.join().published(after.seq);
    assert!(rx.try_recv().expect("answered after publication").is_ok());
}

#[test]
fn writing_the_value_in_effect_recomputes_nothing_and_is_not_journaled() {
    let mut r = rig();
    let qf = r.pc("PQF");
    let design = r.machine.schema.pc(crate::machine::PcId(0)).design_current_a;
    let before = r.snapshot();
    r.core.handle(vec![r.write(1, qf, Input::Number(design))]);
    assert_eq!(r.snapshot().computation, before.computation);
    assert_eq!(r.answers().len(), 1);
    assert!(r.journal.try_recv().is_err());
}

#[test]
fn accepted_writes_are_journaled_once_in_order_with_their_catalogue_names() {
    let mut r = rig();
    let (xs1, ys3) = (r.pc("PXS1"), r.pc("PYS3"));
    r.core.handle(vec![
        r.write(1, xs1, Input::Number(0.1)),
        r.write(2, ys3, Input::Number(-0.2)),
        r.write(3, Setpoint::BpmNoise, Input::Number(1.0)),
    ]);
    let mut names = Vec::new();
    while let Ok(Journal::Setpoint(c)) = r.journal.try_recv() {
        names.push((c.name, c.value, c.unit));
    }
    assert_eq!(names, [("PXS1:sp".into(), 0.1, "A"), ("PYS3:sp".into(), -0.2, "A")], "noise is not persisted");
    assert!(r.snapshot().settings.noise.on);
}

#[test]
fn an_unstable_setting_is_accepted_shown_invalid_and_recovers() {
    let mut r = rig();
    let qf = r.pc("PQF");
    let design = r.machine.schema.pc(crate::machine::PcId(0)).design_current_a;
    let valid = r.snapshot();
    r.core.handle(vec![r.write(1, qf, Input::Number(design * 4.0))]);
    let bad = r.snapshot();
    assert!(bad.model.is_err(), "4x QF is unstable");
    assert!(Arc::ptr_eq(bad.last_valid.as_ref().expect("kept"), valid.last_valid.as_ref().expect("valid")));
    assert!(r.answers()[0].1.is_ok(), "accepted, as on the machine");
    r.core.handle(vec![r.write(2, qf, Input::Number(design))]);
    let back = r.snapshot();
    assert!(back.model.is_ok());
    // the same fixed point, reached from the last valid one (warm start)
    let (now, then) = (back.model.as_ref().expect("valid").tunes, valid.model.as_ref().expect("valid").tunes);
    assert!(now.iter().zip(then).all(|(a, b)| (a - b).abs() < 1e-12), "{now:?} vs {then:?}");
}

#[test]
fn the_clock_advances_the_beam_without_a_recompute() {
    let mut r = rig();
    let before = r.snapshot();
    std::thread::sleep(std::time::Duration::from_millis(20));
    r.core.handle(vec![Command::Tick]);
    let after = r.snapshot();
    assert_eq!(after.computation, before.computation);
    assert!(after.seq > before.seq);
    assert!(after.beam.current_ma < before.beam.current_ma, "decays");
}
