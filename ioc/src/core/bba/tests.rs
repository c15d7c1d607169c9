//! The BBA service against a fake machine (the engine without EPICS):
//! a measured centre, abort, an error that releases the hardware, and
//! commands refused while a run is in progress.
use std::path::PathBuf;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use super::{BbaCommand, BbaService, Hardware, Procedure};
use crate::config::Config;
use crate::core::journal::BbaRecord;
use crate::core::physics::{Physics, compute};
use crate::core::snapshot::{BbaStatus, BbaView, Noise};
use crate::core::state::{Applied, MachineState, Rules, setpoint_value};
use crate::machine::{Machine, QuadId, Setpoint};
use crate::profile::Profile;
use twin_engine::lattice::{Lattice, Plane};
use twin_engine::recompute::Memory;

pub(super) struct Fake {
    pub(super) state: MachineState,
    pub(super) physics: Option<Arc<Physics>>,
    /// Warm start of the next recompute (as the model core keeps it).
    memory: Memory,
    views: Vec<BbaView>,
    records: Vec<BbaRecord>,
    /// Reads fail after this many (None: never).
    reads_left: Option<usize>,
    /// Gaussian read-out noise of every reading: its stream and rms [m].
    pub(super) noise: Option<(StdRng, f64)>,
    /// The machine has no orbit while this quad's auxiliary supply drives
    /// a current beyond `loses_orbit_beyond_a` (a step that would lose the
    /// beam).
    loses_orbit: Option<QuadId>,
    /// [A]; 0: any current loses the orbit.
    loses_orbit_beyond_a: f64,
}

impl Fake {
    pub(super) fn new(machine: &Machine) -> Self {
        let rules = Rules::new(&machine.profile, Arc::clone(&machine.catalogue));
        let noise = Noise { on: false, rms_um: 0.0 };
        let state = MachineState::new(machine.lattice.clone(), Arc::clone(&machine.schema), rules, noise, false);
        let mut me = Self {
            state,
            physics: None,
            memory: Memory::default(),
            views: Vec::new(),
            records: Vec::new(),
            reads_left: None,
            noise: None,
            loses_orbit: None,
            loses_orbit_beyond_a: 0.0,
        };
        me.recompute();
        me
    }

    fn recompute(&mut self) {
        // as the model core: an invalid model keeps the last memory
        self.physics = match compute(&self.state.lattice, &self.memory).0 {
            Ok((p, m)) => {
                self.memory = m;
                Some(Arc::new(p))
            }
            Err(_) => None,
        };
    }

    pub(super) fn last(&self) -> &BbaView {
        self.views.last().expect("a view")
    }
}

impl Hardware for Fake {
    fn set(&mut self, setpoint: Setpoint, value: f64) -> Result<(), String> {
        if matches!(self.state.apply(setpoint, value)?, Applied::Changed | Applied::Switching) {
            self.recompute();
        }
        Ok(())
    }

    fn set_all(&mut self, writes: &[(Setpoint, f64)]) -> Result<(), String> {
        for &(setpoint, value) in writes {
            self.state.apply(setpoint, value)?;
        }
        self.recompute();
        Ok(())
    }

    fn read_orbit(&mut self) -> Result<[Vec<f64>; 2], String> {
        if let Some(left) = &mut self.reads_left {
            if *left == 0 {
                return Err("BPM system down".into());
            }
            *left -= 1;
        }
        let s = &self.state.settings;
        if self.loses_orbit.is_some_and(|q| s.mux == Some(q) && s.aux_on && s.aux_a.abs() > self.loses_orbit_beyond_a) {
            return Err("no orbit to read: the model is invalid (no closed orbit)".into());
        }
        let p = self.physics.as_ref().ok_or("no valid model")?;
        let bpms = self.state.lattice.bpms();
        let mut read = |plane: usize| -> Vec<f64> {
            let clean = bpms.iter().map(|b| p.position_m(b.0)[plane]);
            match &mut self.noise {
                Some((rng, rms)) => {
                    let normal = Normal::new(0.0, *rms).expect("a finite rms");
                    clean.map(|v| v + normal.sample(rng)).collect()
                }
                None => clean.collect(),
            }
        };
        Ok([read(0), read(1)])
    }

    fn lattice(&self) -> &Lattice {
        &self.state.lattice
    }

    fn value(&self, setpoint: Setpoint) -> f64 {
        setpoint_value(&self.state.settings, &self.state.schema, &self.state.rules, setpoint)
    }

    fn report(&mut self, view: &BbaView) {
        self.views.push(view.clone());
    }

    fn record(&mut self, record: BbaRecord) -> anyhow::Result<()> {
        self.records.push(record);
        Ok(())
    }
}

pub(super) fn bessy2() -> Machine {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let profile = Profile::load(&root.join("config/bessy2/profile.toml")).expect("profile");
    Machine::from_files(profile, &Config::default()).expect("machine")
}

pub(super) fn service(machine: &Machine) -> BbaService {
    let m = machine.profile.multiplexer.as_ref().expect("BESSY II has a multiplexer");
    let procedure = Procedure {
        steps_a: m.bba_steps_a.clone(),
        readings_per_step: m.bba_readings_per_step,
        turns_ratio: m.turns_ratio,
        sigma_coverage: m.bba_sigma_coverage,
    };
    BbaService::new(Arc::clone(&machine.schema), procedure)
}

pub(super) fn quad(machine: &Machine, name: &str) -> QuadId {
    machine.schema.quads.iter().find(|q| q.name == name).expect("quad").id
}

pub(super) fn run_to_end(bba: &mut BbaService, hw: &mut Fake) {
    for _ in 0..100_000 {
        if !bba.running() {
            return;
        }
        bba.tick(hw).expect("no fault of the twin");
    }
    panic!("the run did not end");
}

#[test]
fn a_run_finds_a_hidden_offset_and_leaves_the_hardware_released() {
    let machine = bessy2();
    let q = quad(&machine, "Q3M2D1R");
    let mut hw = Fake::new(&machine);
    hw.set(Setpoint::Offset(machine.schema.quad(q).align, Plane::Horizontal), 40e-6).expect("offset");
    hw.set(Setpoint::Offset(machine.schema.quad(q).align, Plane::Vertical), -30e-6).expect("offset");
    let mut bba = service(&machine);
    bba.command(BbaCommand::Run(q), &mut hw).expect("started");
    assert_eq!(hw.last().status, BbaStatus::Running);
    assert!(bba.command(BbaCommand::RunAll, &mut hw).is_err(), "one run at a time");
    run_to_end(&mut bba, &mut hw);
    let view = hw.last();
    assert_eq!(view.status, BbaStatus::Done, "{}", view.message);
    let r = view.results[q.0].expect("a result");
    assert!((r.offset_m[0] - 40e-6).abs() < 1e-6 && (r.offset_m[1] + 30e-6).abs() < 1e-6, "{:?}", r.offset_m);
    assert_eq!(hw.records.len(), 1, "the measurement is stored");
    assert_eq!((hw.state.settings.aux_a, hw.state.settings.mux), (0.0, None));
}

#[test]
fn abort_releases_the_hardware_and_reports_aborted() {
    let machine = bessy2();
    let mut hw = Fake::new(&machine);
    let mut bba = service(&machine);
    bba.command(BbaCommand::RunAll, &mut hw).expect("started");
    for _ in 0..4 {
        bba.tick(&mut hw).expect("step");
    }
    assert!(hw.state.settings.mux.is_some() || hw.state.settings.aux_a != 0.0, "measuring");
    bba.command(BbaCommand::Abort, &mut hw).expect("abort accepted");
    bba.tick(&mut hw).expect("step");
    assert!(!bba.running());
    assert_eq!(hw.last().status, BbaStatus::Aborted);
    assert_eq!((hw.state.settings.aux_a, hw.state.settings.mux), (0.0, None));
    assert!(hw.records.is_empty());
}

#[test]
fn a_failing_read_ends_the_run_with_error_and_the_hardware_released() {
    let machine = bessy2();
    let mut hw = Fake::new(&machine);
    hw.reads_left = Some(4);
    let mut bba = service(&machine);
    bba.command(BbaCommand::Run(quad(&machine, "Q1M1D1R")), &mut hw).expect("started");
    run_to_end(&mut bba, &mut hw);
    assert_eq!(hw.last().status, BbaStatus::Error);
    assert!(hw.last().message.contains("BPM system down"), "{}", hw.last().message);
    assert_eq!((hw.state.settings.aux_a, hw.state.settings.mux), (0.0, None));
    bba.command(BbaCommand::Clear, &mut hw).expect("cleared");
    assert_eq!(hw.last().status, BbaStatus::Idle);
}

#[test]
fn a_step_that_loses_the_orbit_fails_that_quad_and_the_run_goes_on() {
    let machine = bessy2();
    let mut hw = Fake::new(&machine);
    let (lost, kept) = (quad(&machine, "Q1M1D1R"), quad(&machine, "Q3M2D3R"));
    hw.loses_orbit = Some(lost);
    let align = machine.schema.quad(kept).align;
    hw.set(Setpoint::Offset(align, Plane::Horizontal), 40e-6).expect("offset");
    let mut bba = service(&machine);
    for q in [lost, kept] {
        bba.command(BbaCommand::Run(q), &mut hw).expect("started");
        run_to_end(&mut bba, &mut hw);
    }
    let view = hw.last();
    assert_eq!(view.status, BbaStatus::Done, "{}", view.message);
    assert_eq!((hw.state.settings.aux_a, hw.state.settings.mux), (0.0, None));
    assert!(view.results[lost.0].is_some_and(|r| r.offset_m[0].is_nan()), "the lost quad has no centre");
    let found = view.results[kept.0].expect("the other quad's result").offset_m[0];
    assert!((found - 40e-6).abs() < 0.1e-6, "{found}");
    let failed = hw.records.iter().find(|r| r.quad == "Q1M1D1R").expect("the lost quad is recorded");
    assert!(failed.fits[0].as_ref().is_err_and(|e| e.contains("no orbit at")), "{:?}", failed.fits[0]);
}

#[test]
fn a_quad_whose_full_step_loses_the_orbit_is_measured_with_half_steps() {
    let machine = bessy2();
    let mut hw = Fake::new(&machine);
    let q = quad(&machine, "Q3M2D3R");
    let steps = &machine.profile.multiplexer.as_ref().expect("a multiplexer").bba_steps_a;
    let largest = steps.iter().fold(0.0f64, |m, a| m.max(a.abs()));
    // the full steps lose the orbit, half of them do not
    hw.loses_orbit = Some(q);
    hw.loses_orbit_beyond_a = 0.75 * largest;
    let align = machine.schema.quad(q).align;
    hw.set(Setpoint::Offset(align, Plane::Horizontal), 40e-6).expect("offset");
    let mut bba = service(&machine);
    bba.command(BbaCommand::Run(q), &mut hw).expect("started");
    run_to_end(&mut bba, &mut hw);
    let view = hw.last();
    assert_eq!(view.status, BbaStatus::Done, "{}", view.message);
    assert_eq!((hw.state.settings.aux_a, hw.state.settings.mux), (0.0, None));
    let found = view.results[q.0].expect("a result").offset_m[0];
    assert!((found - 40e-6).abs() < 0.1e-6, "{found}");
    let record = hw.records.iter().find(|r| r.quad == "Q3M2D3R").expect("recorded");
    let used = record.x.iter().fold(0.0f64, |m, s| m.max(s.current_a.abs()));
    assert!((used - 0.5 * largest).abs() < 1e-12, "steps up to {used} A of {largest} A");
}
