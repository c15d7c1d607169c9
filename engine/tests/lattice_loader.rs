//! Property tests that hunt the lat2db lattice loader (issue 12, "Tests
//! that hunt"): whatever the text, and whatever hostile edit is made to a
//! committed lattice, `from_lat2db_json` / `from_lat2db_value` return an
//! error naming where the document is wrong, or a lattice whose invariants
//! hold (positive finite energy, finite non-negative lengths, finite
//! strengths, angles and fields, unique names); they never panic.
//!
//! Inputs: `tests/fodo/fodo_lattice.json` (45 elements, most cases) and the
//! BESSY II lattice `config/bessy2/bessy2_storage_ring_reflat.json` (1093
//! elements, fewer cases).
//!
//! The case counts keep `cargo test --release` to about a second; the
//! environment variable `PROPTEST_CASES` replaces every count of this file
//! for a longer hunt, e.g.
//! `PROPTEST_CASES=20000 cargo test --release -p twin-engine --test lattice_loader`.
mod common;

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use twin_engine::lattice::{
    Element, ElementId, ElementKind, Lattice, MAX_ORDER_LIMIT, MagnetBody, from_lat2db_json, from_lat2db_value,
};

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// The runner's configuration: `cases` cases, no regression files (bugs
/// found are kept as named tests below instead).
fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig { cases: cases(default_cases), failure_persistence: None, ..ProptestConfig::default() }
}

fn committed(path: &str) -> String {
    std::fs::read_to_string(common::repo_root().join(path)).expect("committed lattice")
}

static FODO_TEXT: LazyLock<String> = LazyLock::new(|| committed("tests/fodo/fodo_lattice.json"));
static FODO: LazyLock<Value> = LazyLock::new(|| serde_json::from_str(&FODO_TEXT).expect("FODO JSON"));
static BESSY2: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(&committed("config/bessy2/bessy2_storage_ring_reflat.json")).expect("BESSY II JSON")
});

// ---------------------------------------------------------------- inputs

fn hostile_number() -> impl Strategy<Value = Value> {
    let floats = [-1.0, 0.0, -0.0, 0.5, 1.0, 1e308, -1e308, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324, -5e-324];
    let integers = [json!(u64::MAX), json!(i64::MIN), json!(1u64 << 32), json!(1u64 << 40), json!(-1), json!(0)];
    prop_oneof![
        prop::sample::select(floats.to_vec()).prop_map(Value::from),
        prop::sample::select(integers.to_vec()),
        any::<f64>().prop_filter_map("finite", |x| serde_json::Number::from_f64(x).map(Value::Number)),
        any::<i64>().prop_map(Value::from),
    ]
}

fn hostile_string() -> impl Strategy<Value = Value> {
    let known = ["", "NaN", "inf", "-1", "Marker", "Monitor", "Drift", "Quadrupole", "Sextupole", "Dipole", "RFCavity"];
    let passes = ["StrMPoleSymplectic4RadPass", "BndMPoleSymplectic4Pass", "IdentityPass", "H", "V", "BPM"];
    let words: Vec<&str> = known.iter().chain(&passes).copied().collect();
    prop_oneof![prop::sample::select(words).prop_map(Value::from), "\\PC{0,12}".prop_map(Value::from)]
}

fn hostile_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => hostile_number(),
        2 => hostile_string(),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
    ]
}

/// Negative numbers, 0, ±1e308, -0.0, tiny and huge integers, strings,
/// null, bools, arrays and objects.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => hostile_scalar(),
        2 => prop::collection::vec(hostile_scalar(), 0..12).prop_map(Value::Array),
        1 => prop::collection::btree_map("[a-z_]{1,10}", hostile_scalar(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => Just(json!({"x": 1e308, "y": -0.0})),
    ]
}

/// What an edit does to the node it lands on.
#[derive(Clone, Debug)]
enum Edit {
    Replace(Value),
    Remove,
    /// The name of another element (string nodes become duplicates).
    NameOf(Index),
}

/// The fields a mutation aims at half of the time (a field's own node or
/// an item of it); the other half hit any node.
const FIELDS: &str = "length bending_angle entranceangle exitangle gradient fringeint1 fringeint2 fullgap \
    normal_coefficients skew_coefficients main_multipole_strength max_order n_steps kickangle voltage frequency \
    harmonic_number timelag energy Energy default_energy passmethod type name tags group sequences";

/// An edit of the top level (`top_level`) or of one element, on one node
/// (the element or top level itself, a field of `FIELDS` if it has it, or
/// any node below it).
#[derive(Clone, Debug)]
struct Mutation {
    top_level: bool,
    element: Index,
    field: Option<Index>,
    node: Index,
    edit: Edit,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let edit = prop_oneof![
        8 => hostile_value().prop_map(Edit::Replace),
        1 => Just(Edit::Remove),
        1 => any::<Index>().prop_map(Edit::NameOf),
    ];
    let field = prop::option::of(any::<Index>());
    (prop::bool::weighted(0.1), any::<Index>(), field, any::<Index>(), edit)
        .prop_map(|(top_level, element, field, node, edit)| Mutation { top_level, element, field, node, edit })
}

/// The nodes of `candidates` that are field `name` or an item of it.
fn of_field<'a>(candidates: &'a [String], name: &str) -> Vec<&'a String> {
    let field = format!("/{}", escape(name));
    candidates
        .iter()
        .filter(|p| p.ends_with(&field) || p.rsplit_once('/').is_some_and(|(parent, _)| parent.ends_with(&field)))
        .collect()
}

// ------------------------------------------------------------- mutation

/// Where a mutation landed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    TopLevel,
    Element(usize),
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(key: &str) -> String {
    key.replace("~1", "/").replace("~0", "~")
}

/// JSON pointers of `v` and of every node below it.
fn nodes(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_string());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| nodes(c, &format!("{at}/{}", escape(k)), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| nodes(c, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// The top level's nodes: the document, its fields and the fields below
/// them, except the elements (the `sequences` array itself is one).
fn top_level_nodes(doc: &Value) -> Vec<String> {
    let mut out = vec![String::new()];
    for (k, v) in doc.as_object().into_iter().flatten() {
        match k.as_str() {
            "sequences" => out.push("/sequences".into()),
            _ => nodes(v, &format!("/{}", escape(k)), &mut out),
        }
    }
    out
}

fn element_name(doc: &Value, i: usize) -> Option<&str> {
    doc.pointer(&format!("/sequences/{i}/name")).and_then(Value::as_str)
}

/// Removes the node at `pointer`; an element (or the document) is set to
/// null instead, so that the other elements keep their index.
fn remove(doc: &mut Value, pointer: &str, element_root: bool) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        *doc = Value::Null;
        return;
    };
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&unescape(key));
        }
        Some(Value::Array(a)) if element_root => a[key.parse::<usize>().expect("index")] = Value::Null,
        Some(Value::Array(a)) => {
            a.remove(key.parse::<usize>().expect("index"));
        }
        _ => unreachable!("{pointer} has a parent"),
    }
}

/// Applies `m` to `doc`; says where it landed.
fn apply(doc: &mut Value, m: &Mutation) -> Target {
    let count = doc.pointer("/sequences").and_then(Value::as_array).map_or(0, Vec::len);
    let (target, base, candidates) = if m.top_level || count == 0 {
        (Target::TopLevel, String::new(), top_level_nodes(doc))
    } else {
        let i = m.element.index(count);
        let base = format!("/sequences/{i}");
        let mut out = Vec::new();
        nodes(&doc["sequences"][i], &base, &mut out);
        (Target::Element(i), base, out)
    };
    let fields: Vec<&str> = FIELDS.split_whitespace().collect();
    let aimed = m.field.map(|f| of_field(&candidates, fields[f.index(fields.len())])).unwrap_or_default();
    let pointer = if aimed.is_empty() { m.node.get(&candidates).clone() } else { m.node.get(&aimed).to_string() };
    let value = match &m.edit {
        Edit::Remove => {
            remove(doc, &pointer, target != Target::TopLevel && pointer == base);
            return target;
        }
        Edit::Replace(v) => v.clone(),
        Edit::NameOf(j) if count > 0 => Value::from(element_name(doc, j.index(count)).unwrap_or("")),
        Edit::NameOf(_) => Value::Null,
    };
    *doc.pointer_mut(&pointer).expect("a node of the document") = value;
    target
}

// ------------------------------------------------------------ invariants

fn all_finite(what: &str, values: &[f64]) -> Result<(), String> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("{what} {v} is not finite")),
        None => Ok(()),
    }
}

fn check_body(body: &MagnetBody, length_m: f64) -> Result<(), String> {
    if body.max_order > MAX_ORDER_LIMIT || body.n_steps == 0 {
        return Err(format!("max_order {} / n_steps {}", body.max_order, body.n_steps));
    }
    if body.polynom_a.len() <= body.max_order || body.polynom_b.len() <= body.max_order {
        return Err(format!("coefficients shorter than max_order {}", body.max_order));
    }
    all_finite("skew coefficient", &body.polynom_a)?;
    all_finite("normal coefficient", &body.polynom_b)?;
    all_finite("kick angle", &body.kick_angle_rad())?;
    let kick = body.kick_coefficients(length_m);
    all_finite("kick coefficient A", &kick.a)?;
    all_finite("kick coefficient B", &kick.b)
}

fn check_element(e: &Element) -> Result<(), String> {
    let length = e.length_m();
    if !(length.is_finite() && length >= 0.0) {
        return Err(format!("length {length}"));
    }
    if !e.misalignment.is_zero() {
        return Err("a misalignment from a document that has none".into());
    }
    let positive = |what: &str, v: f64| if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("{what} {v}")) };
    match &e.kind {
        ElementKind::Marker | ElementKind::Monitor | ElementKind::Drift { .. } => Ok(()),
        ElementKind::Quadrupole(m) | ElementKind::Sextupole(m) => {
            positive("magnet length", length)?;
            check_body(&m.body, m.length_m)
        }
        ElementKind::Dipole(b) => {
            positive("bend length", length)?;
            let geometry = [b.angle_rad, b.entrance_angle_rad, b.exit_angle_rad, b.full_gap_m, b.fint_entrance];
            all_finite("bend geometry", &geometry)?;
            all_finite("bend geometry", &[b.fint_exit, b.curvature_per_m()])?;
            check_body(&b.body, b.length_m)
        }
        ElementKind::Cavity(c) => {
            all_finite("voltage / time lag", &[c.voltage_v, c.time_lag_m])?;
            positive("frequency", c.frequency_hz)?;
            positive("harmonic number", c.harmonic_number)
        }
    }
}

fn type_name(kind: &ElementKind) -> &'static str {
    match kind {
        ElementKind::Marker => "Marker",
        ElementKind::Monitor => "Monitor",
        ElementKind::Drift { .. } => "Drift",
        ElementKind::Quadrupole(_) => "Quadrupole",
        ElementKind::Sextupole(_) => "Sextupole",
        ElementKind::Dipole(_) => "Dipole",
        ElementKind::Cavity(_) => "RFCavity",
    }
}

/// The invariants of a lattice loaded from `doc`: every element of the
/// document, in order, under its name and type, each one sound, at finite
/// and increasing s, each name found as its own.
fn check_lattice(lattice: &Lattice, doc: &Value) -> Result<(), String> {
    let energy = lattice.energy_ev();
    if !(energy.is_finite() && energy > 0.0) {
        return Err(format!("energy {energy} eV"));
    }
    // serde also reads a struct from an array of its fields in order:
    // `[sequences, default_energy]` loads too
    let sequences = doc.get("sequences").or_else(|| doc.get(0));
    let raw = sequences.and_then(Value::as_array).ok_or("a lattice from a document without sequences")?;
    if raw.len() != lattice.len() {
        return Err(format!("{} elements from a document of {}", lattice.len(), raw.len()));
    }
    for (k, (e, r)) in lattice.elements().iter().zip(raw).enumerate() {
        let at = |p: String| format!("element #{k} ({}): {p}", e.name);
        if r["name"].as_str() != Some(e.name.as_str()) || r["type"].as_str() != Some(type_name(&e.kind)) {
            return Err(at(format!("{} in the document is {r}", type_name(&e.kind))));
        }
        check_element(e).map_err(at)?;
        let (s0, s1) = (lattice.s_entrance_m(ElementId(k)), lattice.s_exit_m(ElementId(k)));
        if !(s0.is_finite() && s1.is_finite() && s0 <= s1) {
            return Err(at(format!("s from {s0} to {s1} m")));
        }
        let first = lattice.elements().iter().position(|o| o.name == e.name).map(ElementId);
        if lattice.find(&e.name).ok() != first {
            return Err(at(format!("its name finds {:?}, the first of that name is {first:?}", lattice.find(&e.name))));
        }
    }
    Ok(())
}

/// `i` as an element index in an error message (`sequences[i]` or `#i`).
fn mentions_element(message: &str, i: usize) -> bool {
    let hash = format!("#{i}");
    message.contains(&format!("sequences[{i}]"))
        || message
            .match_indices(&hash)
            .any(|(at, _)| !message[at + hash.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The outcome of loading a mutated document: an error naming one of the
/// mutated places, or a lattice whose invariants hold.
fn check_outcome(outcome: Result<Lattice, String>, doc: &Value, targets: &[Target]) -> Result<(), TestCaseError> {
    match outcome {
        Ok(lattice) => check_lattice(&lattice, doc).map_err(|p| TestCaseError::fail(format!("accepted, but {p}"))),
        Err(message) => {
            let named = targets.iter().any(|t| match *t {
                Target::TopLevel => true,
                Target::Element(i) => mentions_element(&message, i),
            });
            prop_assert!(named, "the error {message:?} names none of the edited places {targets:?}");
            Ok(())
        }
    }
}

fn load_mutated(base: &Value, mutations: &[Mutation]) -> Result<(), TestCaseError> {
    let mut doc = base.clone();
    let targets: Vec<Target> = mutations.iter().map(|m| apply(&mut doc, m)).collect();
    let outcome = from_lat2db_value("mutated", doc.clone()).map_err(|e| e.to_string());
    check_outcome(outcome, &doc, &targets)
}

// ------------------------------------------------------------- properties

#[test]
fn the_committed_lattices_hold_the_invariants() {
    for (name, doc) in [("FODO", &*FODO), ("BESSY II", &*BESSY2)] {
        let lattice = from_lat2db_value(name, doc.clone()).expect("a committed lattice loads");
        check_lattice(&lattice, doc).unwrap_or_else(|p| panic!("{name}: {p}"));
    }
}

/// Byte edits of a JSON text: (position, what) with what = None to delete.
fn byte_edits() -> impl Strategy<Value = Vec<(Index, Option<u8>)>> {
    let byte = prop_oneof![any::<u8>(), prop::sample::select(b"0123456789.-+eE,:{}[]\" ntf".to_vec())];
    prop::collection::vec((any::<Index>(), prop::option::weighted(0.8, byte)), 1..4)
}

fn json_token_soup() -> impl Strategy<Value = String> {
    let tokens = ["{", "}", "[", "]", ",", ":", "\"sequences\"", "\"default_energy\"", "\"type\"", "\"Drift\""];
    let more = ["\"name\"", "\"length\"", "1e308", "-0.0", "1", "null", "true", "\"", "\\u0000", "1e999"];
    let all: Vec<&str> = tokens.iter().chain(&more).copied().collect();
    prop::collection::vec(prop::sample::select(all), 0..40).prop_map(|t| t.concat())
}

fn any_json() -> impl Strategy<Value = Value> {
    hostile_scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["sequences", "default_energy", "type", "name", "length", "x"]),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(lattice) = from_lat2db_json("bytes", &text) {
            let doc: Value = serde_json::from_str(&text).expect("accepted text is JSON");
            check_lattice(&lattice, &doc).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn json_like_text_never_panics_the_loader(text in json_token_soup()) {
        if let Ok(lattice) = from_lat2db_json("soup", &text) {
            let doc: Value = serde_json::from_str(&text).expect("accepted text is JSON");
            check_lattice(&lattice, &doc).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn arbitrary_json_values_never_panic_the_loader(doc in any_json()) {
        if let Ok(lattice) = from_lat2db_value("value", doc.clone()) {
            check_lattice(&lattice, &doc).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn byte_edits_of_the_fodo_text_give_an_error_or_a_sound_lattice(edits in byte_edits()) {
        let mut bytes = FODO_TEXT.as_bytes().to_vec();
        for (at, what) in &edits {
            let i = at.index(bytes.len());
            match what {
                Some(b) => bytes[i] = *b,
                None => { bytes.remove(i); }
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(lattice) = from_lat2db_json("edited", &text) {
            let doc: Value = serde_json::from_str(&text).expect("accepted text is JSON");
            check_lattice(&lattice, &doc).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn hostile_edits_of_the_fodo_lattice_give_an_error_or_a_sound_lattice(
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        load_mutated(&FODO, &mutations)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn hostile_edits_of_the_bessy2_lattice_give_an_error_or_a_sound_lattice(
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        load_mutated(&BESSY2, &mutations)?;
    }
}

// ------------------------------------------------- the checks can fail

#[test]
fn the_invariant_check_refuses_an_unsound_lattice() {
    let mut renamed = FODO.clone();
    let good = from_lat2db_value("fodo", renamed.clone()).expect("fodo");
    renamed["sequences"][3]["name"] = json!("renamed");
    assert!(check_lattice(&good, &renamed).is_err_and(|p| p.contains("element #3")));
    let mut huge = good.elements().to_vec();
    for e in &mut huge {
        if let ElementKind::Drift { length_m } = &mut e.kind {
            *length_m = f64::MAX;
        }
    }
    let overflowing = Lattice::new("overflow", 1e9, huge);
    assert!(check_lattice(&overflowing, &FODO).is_err());
}

#[test]
fn errors_are_checked_for_naming_the_edited_element() {
    assert!(mentions_element("element #3 (QF1): length", 3));
    assert!(!mentions_element("element #31 (QF1): length", 3));
    assert!(mentions_element("lattice document, field `sequences[7].length`: invalid type", 7));
    assert!(!mentions_element("lattice document, field `default_energy`", 7));
}

// ------------------------------------------ regressions of issue 12's hunt

/// The error loading FODO edited by `edit` (a panic if it loads).
fn fodo_refuses(edit: impl FnOnce(&mut Value)) -> String {
    let mut doc = FODO.clone();
    edit(&mut doc);
    match from_lat2db_value("fodo", doc) {
        Ok(l) => panic!("accepted: {} elements, circumference {} m", l.len(), l.circumference_m()),
        Err(e) => e.to_string(),
    }
}

fn index_of(doc: &Value, kind: &str) -> usize {
    doc["sequences"].as_array().and_then(|s| s.iter().position(|e| e["type"] == kind)).expect("an element of that type")
}

#[test]
fn issue_12_a_repeated_name_is_refused_naming_both_elements() {
    let e = fodo_refuses(|d| d["sequences"][7]["name"] = d["sequences"][2]["name"].clone());
    assert!(e.contains("element #7") && e.contains("`name`") && e.contains("element #2"), "{e}");
}

#[test]
fn issue_12_a_huge_max_order_is_refused_before_allocating() {
    let q = index_of(&FODO, "Quadrupole");
    let e = fodo_refuses(|d| {
        d["sequences"][q]["element_configuration"]["magnetic_element"]["integration_parameters"]["max_order"] =
            json!(1u64 << 40)
    });
    assert!(e.contains(&format!("element #{q}")) && e.contains("max_order"), "{e}");
}

#[test]
fn issue_12_text_after_the_document_is_refused() {
    for tail in ["}", "{}", " x", "\n{\"sequences\": []}"] {
        let e = from_lat2db_json("fodo", &format!("{}{tail}", &*FODO_TEXT)).map(|l| l.len());
        assert!(e.as_ref().is_err_and(|e| e.to_string().contains("text after the document")), "{tail:?}: {e:?}");
    }
    assert!(from_lat2db_json("fodo", &format!("{}\n \t\r\n", &*FODO_TEXT)).is_ok(), "white space is no text");
}

#[test]
fn issue_12_a_bend_too_short_for_its_angle_is_refused() {
    let b = index_of(&FODO, "Dipole");
    let e = fodo_refuses(|d| d["sequences"][b]["length"] = json!(5e-324));
    assert!(e.contains(&format!("element #{b}")) && e.contains("bending_angle"), "{e}");
}

#[test]
fn issue_12_a_kick_over_a_tiny_length_is_refused() {
    let q = index_of(&FODO, "Quadrupole");
    let e = fodo_refuses(|d| {
        d["sequences"][q]["length"] = json!(5e-324);
        d["sequences"][q]["element_configuration"]["kickangle"] = json!({"x": 1e-3, "y": 0.0});
    });
    assert!(e.contains(&format!("element #{q}")) && e.contains("kickangle"), "{e}");
}

#[test]
fn issue_12_lengths_whose_sum_overflows_are_refused() {
    let drifts: Vec<usize> = (0..FODO["sequences"].as_array().map_or(0, Vec::len))
        .filter(|&i| FODO["sequences"][i]["type"] == "Drift")
        .take(2)
        .collect();
    let e = fodo_refuses(|d| drifts.iter().for_each(|&i| d["sequences"][i]["length"] = json!(1e308)));
    assert!(e.contains(&format!("element #{}", drifts[1])) && e.contains("length"), "{e}");
}
