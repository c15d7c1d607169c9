//! Reads the lat2db JSON lattice format used at HZB.
//!
//! `{sequences: [...], closed, enable_6d, default_energy}`; element
//! conventions are those of pyAT (see config/bessy2/README.md).
use std::collections::HashMap;

use serde::Deserialize;

use super::Lattice;
use super::element::{Bend, Cavity, Element, ElementKind, MagnetBody, Misalignment, Multipole, Windings};

/// Most integration steps an element may ask for: AT lattices use 10–40;
/// beyond this a typo (or a hostile document) would make every pass crawl.
pub const MAX_STEPS: usize = 10_000;

/// Why a lat2db document was refused, naming the element and field.
#[derive(Debug, thiserror::Error)]
pub enum Lat2DbError {
    #[error("lattice document, field `{path}`: {message}")]
    Field { path: String, message: String },
    #[error("element #{index} ({name}): {problem}")]
    Element { index: usize, name: String, problem: String },
    #[error("lattice document: text after the document ({0})")]
    TrailingText(String),
    /// Names are unique in lat2db lattices: the twin finds elements by name.
    #[error("element #{index} ({name}): field `name` repeats the name of element #{first}")]
    DuplicateName { index: usize, name: String, first: usize },
}

#[derive(Deserialize)]
struct Document {
    sequences: Vec<serde_json::Value>,
    default_energy: f64,
}

/// An element by its `type`; each variant is parsed on its own so that an
/// error names the field inside the element.
enum RawElement {
    Marker(RawPlain),
    Monitor(RawPlain),
    Drift(RawDrift),
    Quadrupole(RawMagnet),
    Sextupole(RawMagnet),
    Dipole(RawDipole),
    RFCavity(RawCavity),
}

#[derive(Deserialize)]
struct RawPlain {
    name: String,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Deserialize)]
struct RawDrift {
    name: String,
    length: f64,
}

fn part<T: serde::de::DeserializeOwned>(index: usize, v: serde_json::Value) -> Result<T, Lat2DbError> {
    serde_path_to_error::deserialize(v).map_err(|e| Lat2DbError::Field {
        path: format!("sequences[{index}].{}", e.path()),
        message: e.inner().to_string(),
    })
}

fn parse_element(index: usize, v: serde_json::Value) -> Result<RawElement, Lat2DbError> {
    let kind = v.get("type").and_then(|t| t.as_str()).map(str::to_string);
    Ok(match kind.as_deref() {
        Some("Marker") => RawElement::Marker(part(index, v)?),
        Some("Monitor") => RawElement::Monitor(part(index, v)?),
        Some("Drift") => RawElement::Drift(part(index, v)?),
        Some("Quadrupole") => RawElement::Quadrupole(part(index, v)?),
        Some("Sextupole") => RawElement::Sextupole(part(index, v)?),
        Some("Dipole") => RawElement::Dipole(part(index, v)?),
        Some("RFCavity") => RawElement::RFCavity(part(index, v)?),
        other => {
            return Err(Lat2DbError::Field {
                path: format!("sequences[{index}].type"),
                message: format!("unknown element type {}", other.unwrap_or("(missing)")),
            });
        }
    })
}

#[derive(Deserialize)]
struct RawMagnet {
    name: String,
    passmethod: String,
    length: f64,
    #[serde(default)]
    tags: Option<Vec<String>>,
    element_configuration: RawConfig,
}

#[derive(Deserialize)]
struct RawDipole {
    name: String,
    passmethod: String,
    length: f64,
    bending_angle: f64,
    entranceangle: f64,
    exitangle: f64,
    #[serde(default)]
    gradient: f64,
    #[serde(default)]
    fringeint1: f64,
    #[serde(default)]
    fringeint2: f64,
    #[serde(default)]
    fullgap: f64,
    #[serde(default)]
    tags: Option<Vec<String>>,
    element_configuration: RawConfig,
}

#[derive(Deserialize)]
struct RawConfig {
    magnetic_element: RawMagneticElement,
    #[serde(default)]
    kickangle: Option<RawKick>,
}

#[derive(Deserialize)]
struct RawMagneticElement {
    coeffs: RawCoeffs,
    integration_parameters: RawIntegration,
}

#[derive(Deserialize)]
struct RawCoeffs {
    normal_coefficients: Vec<f64>,
    skew_coefficients: Vec<f64>,
}

#[derive(Deserialize)]
struct RawIntegration {
    n_steps: usize,
    max_order: usize,
}

#[derive(Deserialize)]
struct RawKick {
    x: f64,
    y: f64,
}

#[derive(Deserialize)]
struct RawCavity {
    name: String,
    length: f64,
    harmonic_number: f64,
    cavity_configuration: RawCavityConfig,
}

#[derive(Deserialize)]
struct RawCavityConfig {
    frequency: f64,
    voltage: f64,
    timelag: f64,
}

fn field_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Lat2DbError {
    Lat2DbError::Field { path: e.path().to_string(), message: e.inner().to_string() }
}

/// Parses a lat2db document (JSON text) into a lattice.
pub fn from_lat2db_json(name: &str, json: &str) -> Result<Lattice, Lat2DbError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    let doc = serde_path_to_error::deserialize(&mut *de).map_err(field_error)?;
    // text after the document (two documents run together, a botched
    // edit) is refused, not ignored (issue 12)
    de.end().map_err(|e| Lat2DbError::TrailingText(e.to_string()))?;
    build(name, doc)
}

/// Parses a lat2db document already decoded (e.g. read from a database).
pub fn from_lat2db_value(name: &str, value: serde_json::Value) -> Result<Lattice, Lat2DbError> {
    build(name, serde_path_to_error::deserialize(value).map_err(field_error)?)
}

fn build(name: &str, doc: Document) -> Result<Lattice, Lat2DbError> {
    if !(doc.default_energy.is_finite() && doc.default_energy > 0.0) {
        return Err(Lat2DbError::Field {
            path: "default_energy".into(),
            message: format!("{} eV is not a positive energy", doc.default_energy),
        });
    }
    let mut elements = Vec::with_capacity(doc.sequences.len());
    let mut first_of: HashMap<String, usize> = HashMap::new();
    let mut s_m = 0.0;
    for (index, v) in doc.sequences.into_iter().enumerate() {
        let element = convert(index, parse_element(index, v)?)?;
        if let Some(&first) = first_of.get(&element.name) {
            return Err(Lat2DbError::DuplicateName { index, name: element.name, first });
        }
        // finite lengths may still sum to an infinite s (issue 12)
        s_m += element.length_m();
        if !s_m.is_finite() {
            let problem = format!("field `length` {} m takes s beyond any finite position", element.length_m());
            return Err(Lat2DbError::Element { index, name: element.name, problem });
        }
        first_of.insert(element.name.clone(), index);
        elements.push(element);
    }
    Ok(Lattice::new(name, doc.default_energy, elements))
}

fn windings(tags: &Option<Vec<String>>) -> Windings {
    let has = |t: &str| tags.as_ref().is_some_and(|v| v.iter().any(|x| x == t));
    Windings { horizontal: has("H"), vertical: has("V") }
}

fn body(
    index: usize,
    name: &str,
    passmethod: &str,
    length_m: f64,
    cfg: RawConfig,
    gradient: Option<f64>,
) -> Result<MagnetBody, Lat2DbError> {
    let me = cfg.magnetic_element;
    let bad = |problem: String| Lat2DbError::Element { index, name: name.into(), problem };
    let order = me.integration_parameters.max_order;
    // checked before the coefficients are padded to it: a huge order would
    // allocate without bound (issue 12)
    if order > super::element::MAX_ORDER_LIMIT {
        return Err(bad(format!("max_order {order} above the supported {}", super::element::MAX_ORDER_LIMIT)));
    }
    let mut b = me.coeffs.normal_coefficients;
    let mut a = me.coeffs.skew_coefficients;
    b.resize(b.len().max(order + 1), 0.0);
    a.resize(a.len().max(order + 1), 0.0);
    if let Some(g) = gradient.filter(|g| *g != 0.0) {
        if b.len() < 2 {
            b.resize(2, 0.0);
        }
        b[1] = g;
    }
    if !(1..=MAX_STEPS).contains(&me.integration_parameters.n_steps) {
        return Err(bad(format!(
            "integration_parameters.n_steps is {} (1..={MAX_STEPS})",
            me.integration_parameters.n_steps
        )));
    }
    if let Some(v) = a.iter().chain(&b).find(|v| !v.is_finite()) {
        return Err(bad(format!("coefficient {v} is not finite")));
    }
    let radiates = match passmethod {
        "StrMPoleSymplectic4Pass" | "BndMPoleSymplectic4Pass" => false,
        "StrMPoleSymplectic4RadPass" | "BndMPoleSymplectic4RadPass" => true,
        other => return Err(bad(format!("passmethod {other} is not supported"))),
    };
    let kick = cfg.kickangle.map_or([0.0, 0.0], |k| [k.x, k.y]);
    let body = MagnetBody::new(a, b, order, me.integration_parameters.n_steps, kick, radiates);
    // the steering kick spread over a (tiny) length must stay finite (issue 12)
    let pass = body.kick_coefficients(length_m);
    if let Some(v) = pass.a.iter().chain(&pass.b).find(|v| !v.is_finite()) {
        return Err(bad(format!("field `kickangle` {kick:?} over length {length_m} m gives the kick {v}")));
    }
    Ok(body)
}

fn convert(index: usize, raw: RawElement) -> Result<Element, Lat2DbError> {
    let plain = |name: String, group: Option<String>, kind: ElementKind| Element {
        name,
        group,
        kind,
        misalignment: Misalignment::default(),
        windings: Windings::default(),
    };
    let el = match raw {
        RawElement::Marker(p) => plain(p.name, p.group, ElementKind::Marker),
        RawElement::Monitor(p) => plain(p.name, p.group, ElementKind::Monitor),
        RawElement::Drift(d) if !(d.length.is_finite() && d.length >= 0.0) => {
            return Err(Lat2DbError::Element {
                index,
                name: d.name,
                problem: format!("length {} m is not >= 0", d.length),
            });
        }
        RawElement::Drift(d) => plain(d.name, None, ElementKind::Drift { length_m: d.length }),
        RawElement::Quadrupole(m) | RawElement::Sextupole(m) if !(m.length.is_finite() && m.length > 0.0) => {
            return Err(Lat2DbError::Element { index, name: m.name, problem: "length must be > 0".into() });
        }
        RawElement::Quadrupole(m) => magnet(index, m, ElementKind::Quadrupole)?,
        RawElement::Sextupole(m) => magnet(index, m, ElementKind::Sextupole)?,
        RawElement::Dipole(d) if !(d.length.is_finite() && d.length > 0.0) => {
            return Err(Lat2DbError::Element { index, name: d.name, problem: "length must be > 0".into() });
        }
        RawElement::Dipole(d) => dipole(index, d)?,
        RawElement::RFCavity(c) => {
            let cc = c.cavity_configuration;
            let finite = [c.length, cc.voltage, cc.timelag].iter().all(|v| v.is_finite());
            if !(finite && c.length >= 0.0 && cc.frequency.is_finite() && cc.frequency > 0.0 && c.harmonic_number > 0.0)
            {
                let problem = "length, voltage and time lag must be finite, frequency and harmonic number > 0".into();
                return Err(Lat2DbError::Element { index, name: c.name, problem });
            }
            let cavity = Cavity {
                length_m: c.length,
                voltage_v: cc.voltage,
                frequency_hz: cc.frequency,
                harmonic_number: c.harmonic_number,
                time_lag_m: cc.timelag,
            };
            plain(c.name, None, ElementKind::Cavity(cavity))
        }
    };
    Ok(el)
}

fn dipole(index: usize, d: RawDipole) -> Result<Element, Lat2DbError> {
    let bad = |problem: String| Lat2DbError::Element { index, name: d.name.clone(), problem };
    let geometry = [d.bending_angle, d.entranceangle, d.exitangle, d.gradient, d.fringeint1, d.fringeint2, d.fullgap];
    if geometry.iter().any(|v| !v.is_finite()) {
        return Err(bad("angles, gradient, fringe integrals and gap must be finite".into()));
    }
    // a finite angle over a (tiny) length can still bend infinitely (issue 12)
    if !(d.bending_angle / d.length).is_finite() {
        let (angle, length) = (d.bending_angle, d.length);
        return Err(bad(format!("field `bending_angle` {angle} rad over length {length} m is no finite curvature")));
    }
    let body = body(index, &d.name, &d.passmethod, d.length, d.element_configuration, Some(d.gradient))?;
    let bend = Bend {
        length_m: d.length,
        angle_rad: d.bending_angle,
        entrance_angle_rad: d.entranceangle,
        exit_angle_rad: d.exitangle,
        full_gap_m: d.fullgap,
        fint_entrance: d.fringeint1,
        fint_exit: d.fringeint2,
        body,
    };
    Ok(Element {
        name: d.name,
        group: None,
        kind: ElementKind::Dipole(bend),
        misalignment: Misalignment::default(),
        windings: windings(&d.tags),
    })
}

fn magnet(index: usize, m: RawMagnet, kind: fn(Multipole) -> ElementKind) -> Result<Element, Lat2DbError> {
    let w = windings(&m.tags);
    let body = body(index, &m.name, &m.passmethod, m.length, m.element_configuration, None)?;
    Ok(Element {
        name: m.name,
        group: None,
        kind: kind(Multipole { length_m: m.length, body }),
        misalignment: Misalignment::default(),
        windings: w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUAD: &str = r#"{"type": "Quadrupole", "name": "Q1", "length": 0.3, "passmethod": "StrMPoleSymplectic4Pass",
        "element_configuration": {"magnetic_element": {"coeffs": {"normal_coefficients": [0.0, 1.2],
        "skew_coefficients": [0.0, 0.0]}, "integration_parameters": {"n_steps": 10, "max_order": 1}}}}"#;

    fn doc(elements: &str) -> String {
        format!(r#"{{"sequences": [{elements}], "closed": true, "enable_6d": false, "default_energy": 1.7e9}}"#)
    }

    #[test]
    fn a_small_lattice_parses() {
        let l = from_lat2db_json("t", &doc(&format!(r#"{{"type": "Drift", "name": "D", "length": 1.0}}, {QUAD}"#)))
            .unwrap();
        assert_eq!(l.len(), 2);
        assert!((l.circumference_m() - 1.3).abs() < 1e-15);
    }

    #[test]
    fn errors_name_the_field() {
        let unknown = from_lat2db_json("t", &doc(r#"{"type": "Wiggler", "name": "W"}"#)).unwrap_err().to_string();
        assert!(unknown.contains("sequences[0]") && unknown.contains("Wiggler"), "{unknown}");
        let missing = from_lat2db_json("t", &doc(r#"{"type": "Drift", "name": "D"}"#)).unwrap_err().to_string();
        assert!(missing.contains("sequences[0]") && missing.contains("length"), "{missing}");
        let bad = QUAD.replace("StrMPoleSymplectic4Pass", "ExactMultipolePass");
        let e = from_lat2db_json("t", &doc(&bad)).unwrap_err().to_string();
        assert!(e.contains("Q1") && e.contains("ExactMultipolePass"), "{e}");
        let v: serde_json::Value = serde_json::from_str(r#"{"sequences": [], "closed": true}"#).unwrap();
        let e = from_lat2db_value("t", v).unwrap_err().to_string();
        assert!(e.contains("default_energy"), "{e}");
        let negative = doc(r#"{"type": "Drift", "name": "D", "length": -5.0}"#);
        let e = from_lat2db_json("t", &negative).unwrap_err().to_string();
        assert!(e.contains("element #0 (D)") && e.contains("length -5"), "{e}");
        let no_energy = doc(r#"{"type": "Drift", "name": "D", "length": 1.0}"#).replace("1.7e9", "-1");
        let e = from_lat2db_json("t", &no_energy).unwrap_err().to_string();
        assert!(e.contains("default_energy") && e.contains("-1"), "{e}");
    }
}
