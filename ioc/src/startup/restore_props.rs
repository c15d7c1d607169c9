//! Property test of the range check of stored setpoints at start-up (issue
//! 12, "Tests that hunt"): `restore` accepts a stored setpoint exactly when
//! its name is a catalogue row's PV name (not an alias, not a near miss),
//! the row is kept across restarts, the value is finite and one the row's
//! record accepts, and the unit is the row's. The expectation is computed
//! here from the catalogue row alone, on the BESSY II machine.
//!
//! The case count keeps `cargo test --release` short; the environment
//! variable `PROPTEST_CASES` replaces it for a longer hunt, e.g.
//! `PROPTEST_CASES=100000 cargo test --release -p twin-ioc startup::restore_props`.
use std::collections::HashMap;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;

use super::restore;
use crate::config::Config;
use crate::machine::{Machine, OutputKind, SetpointEntry};
use crate::profile::Profile;
use crate::store::model::SetpointDoc;

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

static BESSY2: LazyLock<Machine> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/bessy2/profile.toml");
    let profile = Profile::load(std::path::Path::new(path)).expect("the BESSY II profile");
    Machine::from_files(profile, &Config::default()).expect("the BESSY II machine")
});

/// The values a row's record takes, read from the row alone.
#[derive(Clone, Copy, Debug)]
enum Accepts {
    /// The drive limits of an `ao`, or the valid range of one without.
    Between(f64, f64),
    /// A state index of a `bo` / `mbbo` with this many states.
    States(usize),
    Anything,
}

impl Accepts {
    fn of(e: &SetpointEntry) -> Self {
        match &e.output {
            OutputKind::Analog { limits: Some((lo, hi)), .. } => Accepts::Between(*lo, *hi),
            OutputKind::Analog { limits: None, .. } => {
                e.valid.map_or(Accepts::Anything, |(lo, hi)| Accepts::Between(lo, hi))
            }
            OutputKind::Binary { .. } => Accepts::States(2),
            OutputKind::Multi { states } => Accepts::States(states.len()),
        }
    }

    fn takes(self, v: f64) -> bool {
        match self {
            Accepts::Between(lo, hi) => lo <= v && v <= hi,
            Accepts::States(n) => v.fract() == 0.0 && 0.0 <= v && v < n as f64,
            Accepts::Anything => v.is_finite(),
        }
    }

    /// The interval values are drawn around.
    fn span(self) -> (f64, f64) {
        match self {
            Accepts::Between(lo, hi) => (lo, hi),
            Accepts::States(n) => (0.0, n as f64 - 1.0),
            Accepts::Anything => (-1e3, 1e3),
        }
    }
}

/// The next float above `x` (f64::next_up is newer than the workspace's
/// rust-version).
fn next_up(x: f64) -> f64 {
    match x {
        _ if x == 0.0 => f64::from_bits(1),
        _ if x > 0.0 => f64::from_bits(x.to_bits() + 1),
        _ => f64::from_bits(x.to_bits() - 1),
    }
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// Where the stored value lies relative to the row's interval.
#[derive(Clone, Debug)]
enum ValueChoice {
    /// A fraction of the way from the low to the high end.
    Inside(f64),
    Low,
    High,
    JustBelow,
    JustAbove,
    /// Below the low end by this fraction of the interval (at least 1).
    Below(f64),
    Above(f64),
    /// An integer (a state index, or not).
    Integer(i8),
    NaN,
    Infinite(bool),
    Huge(bool),
    Any(f64),
}

impl ValueChoice {
    fn value(&self, accepts: Accepts) -> f64 {
        let (lo, hi) = accepts.span();
        let width = (hi - lo).max(1.0);
        match *self {
            ValueChoice::Inside(t) => lo + t * (hi - lo),
            ValueChoice::Low => lo,
            ValueChoice::High => hi,
            ValueChoice::JustBelow => next_down(lo),
            ValueChoice::JustAbove => next_up(hi),
            ValueChoice::Below(f) => lo - f * width,
            ValueChoice::Above(f) => hi + f * width,
            ValueChoice::Integer(i) => f64::from(i),
            ValueChoice::NaN => f64::NAN,
            ValueChoice::Infinite(up) => f64::INFINITY.copysign(if up { 1.0 } else { -1.0 }),
            ValueChoice::Huge(up) => f64::MAX.copysign(if up { 1.0 } else { -1.0 }),
            ValueChoice::Any(v) => v,
        }
    }
}

fn value_choice() -> impl Strategy<Value = ValueChoice> {
    prop_oneof![
        4 => (0.0..=1.0f64).prop_map(ValueChoice::Inside),
        1 => Just(ValueChoice::Low),
        1 => Just(ValueChoice::High),
        1 => Just(ValueChoice::JustBelow),
        1 => Just(ValueChoice::JustAbove),
        1 => (1e-9..1e3f64).prop_map(ValueChoice::Below),
        1 => (1e-9..1e3f64).prop_map(ValueChoice::Above),
        1 => (-2i8..12).prop_map(ValueChoice::Integer),
        1 => Just(ValueChoice::NaN),
        1 => any::<bool>().prop_map(ValueChoice::Infinite),
        1 => any::<bool>().prop_map(ValueChoice::Huge),
        1 => any::<f64>().prop_map(ValueChoice::Any),
    ]
}

/// The stored name: the row's PV name, one of its aliases, or a near miss.
#[derive(Clone, Debug)]
enum NameChoice {
    Exact,
    Alias(Index),
    Upper,
    Lower,
    Padded,
    Prefixed,
    LastCharDropped,
}

impl NameChoice {
    fn name(&self, e: &SetpointEntry) -> String {
        match self {
            NameChoice::Exact => e.pv.clone(),
            NameChoice::Alias(i) if !e.aliases.is_empty() => i.get(&e.aliases).clone(),
            NameChoice::Alias(_) => e.pv.clone(),
            NameChoice::Upper => e.pv.to_uppercase(),
            NameChoice::Lower => e.pv.to_lowercase(),
            NameChoice::Padded => format!("{} ", e.pv),
            NameChoice::Prefixed => format!("TWIN:{}", e.pv),
            NameChoice::LastCharDropped => {
                let mut name = e.pv.clone();
                name.pop();
                name
            }
        }
    }
}

fn name_choice() -> impl Strategy<Value = NameChoice> {
    prop_oneof![
        12 => Just(NameChoice::Exact),
        2 => any::<Index>().prop_map(NameChoice::Alias),
        1 => Just(NameChoice::Upper),
        1 => Just(NameChoice::Lower),
        1 => Just(NameChoice::Padded),
        1 => Just(NameChoice::Prefixed),
        1 => Just(NameChoice::LastCharDropped),
    ]
}

/// The stored unit: the row's, or another one.
#[derive(Clone, Debug)]
enum UnitChoice {
    Right,
    Other(Index),
    Upper,
    Padded,
}

impl UnitChoice {
    fn unit(&self, e: &SetpointEntry) -> String {
        let units = ["A", "mA", "kHz", "Hz", "m", "mm", "um", "1/m2", "1/m3", "rad", "mrad", ""];
        match self {
            UnitChoice::Right => e.unit.egu().to_string(),
            UnitChoice::Other(i) => units[i.index(units.len())].to_string(),
            UnitChoice::Upper => e.unit.egu().to_uppercase(),
            UnitChoice::Padded => format!(" {}", e.unit.egu()),
        }
    }
}

fn unit_choice() -> impl Strategy<Value = UnitChoice> {
    prop_oneof![
        6 => Just(UnitChoice::Right),
        2 => any::<Index>().prop_map(UnitChoice::Other),
        1 => Just(UnitChoice::Upper),
        1 => Just(UnitChoice::Padded),
    ]
}

/// Rows by their PV name (the only name a stored setpoint goes by).
fn rows_by_pv(machine: &Machine) -> HashMap<&str, &SetpointEntry> {
    machine.catalogue.entries().iter().map(|e| (e.pv.as_str(), e)).collect()
}

/// Whether `restore` must accept `doc`, from the catalogue rows alone.
fn acceptable(rows: &HashMap<&str, &SetpointEntry>, doc: &SetpointDoc) -> Option<&'static str> {
    let Some(row) = rows.get(doc.name.as_str()) else { return Some("no row of that name") };
    if !row.persisted {
        return Some("a setpoint not kept across restarts");
    }
    if !doc.value.is_finite() || !Accepts::of(row).takes(doc.value) {
        return Some("a value the record does not take");
    }
    (doc.unit != row.unit.egu()).then_some("another unit")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2048), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn restore_accepts_exactly_the_setpoints_the_catalogue_accepts(
        persisted_row in prop::bool::weighted(0.8), row in any::<Index>(),
        name in name_choice(), value in value_choice(), unit in unit_choice(),
    ) {
        let machine = &*BESSY2;
        let entries = machine.catalogue.entries();
        let kept: Vec<&SetpointEntry> = entries.iter().filter(|e| e.persisted).collect();
        let entry = if persisted_row { *row.get(&kept) } else { row.get(entries) };
        let doc = SetpointDoc {
            name: name.name(entry),
            value: value.value(Accepts::of(entry)),
            unit: unit.unit(entry),
            updated_at_ms: 0,
        };
        let rows = rows_by_pv(machine);
        match (restore(machine, &doc), acceptable(&rows, &doc)) {
            (Ok((setpoint, v)), None) => {
                prop_assert_eq!(Some(setpoint), rows.get(doc.name.as_str()).map(|r| r.setpoint));
                prop_assert_eq!(v.to_bits(), doc.value.to_bits(), "the value as stored");
            }
            (Err(e), Some(_)) => {
                let message = format!("{e:#}");
                prop_assert!(message.contains(&format!("{:?}", doc.name)), "names the setpoint: {}", message);
            }
            (Ok(_), Some(why)) => prop_assert!(false, "restored {:?} ({})", doc, why),
            (Err(e), None) => prop_assert!(false, "refused {:?}: {:#}", doc, e),
        }
    }
}

#[test]
fn the_machine_has_rows_of_every_kind_the_property_draws() {
    let entries = BESSY2.catalogue.entries();
    let kinds = |persisted: bool| {
        let rows = entries.iter().filter(|e| e.persisted == persisted);
        rows.map(|e| std::mem::discriminant(&Accepts::of(e))).collect::<std::collections::HashSet<_>>()
    };
    assert!(kinds(true).contains(&std::mem::discriminant(&Accepts::Between(0.0, 0.0))), "ranged rows kept");
    assert!(kinds(false).len() >= 2, "rows not kept, ranged and with states");
    assert!(entries.iter().any(|e| !e.aliases.is_empty()), "rows with aliases");
    assert_eq!(next_up(1.0), 1.0 + f64::EPSILON);
    assert_eq!((next_up(-0.0), next_down(0.0)), (f64::from_bits(1), -f64::from_bits(1)));
}
