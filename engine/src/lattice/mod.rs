//! The ring: an ordered sequence of elements with typed ids and s positions.
mod element;
mod journal;
mod lat2db;
mod spans;

use std::collections::HashMap;

pub use element::{
    Bend, Cavity, Element, ElementKind, KickCoefficients, MAX_ORDER_LIMIT, MagnetBody, Misalignment, Multipole,
    Windings,
};
pub use lat2db::{Lat2DbError, from_lat2db_json, from_lat2db_value};
pub use spans::{Affine4, Span, Spans};

use journal::Journal;

/// Index of an element in its lattice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementId(pub usize);

/// Transverse plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plane {
    Horizontal,
    Vertical,
}

impl Plane {
    /// 0 for horizontal, 1 for vertical: the index of per-plane arrays.
    pub fn index(self) -> usize {
        match self {
            Plane::Horizontal => 0,
            Plane::Vertical => 1,
        }
    }

    /// The plane's position coordinate (`coords::X` or `coords::Y`).
    pub fn position(self) -> usize {
        crate::coords::position(self.index())
    }

    /// The plane's momentum coordinate (`coords::PX` or `coords::PY`).
    pub fn momentum(self) -> usize {
        crate::coords::momentum(self.index())
    }
}

/// A change a lattice refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingError {
    #[error("element {0} has no magnet body")]
    NotAMagnet(String),
    #[error("element {name}: multipole order {order} beyond its max order {max}")]
    OrderTooHigh { name: String, order: usize, max: usize },
    #[error("element {0}: value {1} is not finite")]
    NotFinite(String, f64),
    #[error("no element named {0}")]
    UnknownName(String),
    #[error("element {0} is not a dipole")]
    NotADipole(String),
}

/// The ring lattice. Settings change in place (no rebuild).
#[derive(Clone, Debug)]
pub struct Lattice {
    name: String,
    energy_ev: f64,
    elements: Vec<Element>,
    /// s at the entrance of each element, plus the circumference [m].
    s_m: Vec<f64>,
    by_name: HashMap<String, ElementId>,
    /// The 4D spans (affine runs and the elements between), their maps
    /// forgotten when a setting changes.
    spans: Spans,
    /// Which elements changed since a revision, and how they were.
    journal: Journal,
}

impl Lattice {
    pub fn new(name: impl Into<String>, energy_ev: f64, elements: Vec<Element>) -> Self {
        let mut s_m = Vec::with_capacity(elements.len() + 1);
        let mut s = 0.0;
        for e in &elements {
            s_m.push(s);
            s += e.length_m();
        }
        s_m.push(s);
        let by_name = elements.iter().enumerate().map(|(i, e)| (e.name.clone(), ElementId(i))).collect();
        let spans = Spans::new(&elements);
        Self { name: name.into(), energy_ev, elements, s_m, by_name, spans, journal: Journal::default() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reference beam energy [eV].
    pub fn energy_ev(&self) -> f64 {
        self.energy_ev
    }

    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    pub fn len(&self) -> usize {
        self.elements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// The revision of the settings: one more with every change.
    pub fn revision(&self) -> u64 {
        self.journal.revision()
    }

    /// The elements whose settings changed after `revision`, each as it was
    /// then; None when that is no longer on record or a setting beyond the
    /// elements' own (the RF frequency) changed.
    pub fn changed_since(&self, revision: u64) -> Option<Vec<(ElementId, &Element)>> {
        self.journal.since(revision)
    }

    /// The ring's 4D spans (`spans`), in order.
    pub fn spans(&self) -> &Spans {
        &self.spans
    }

    pub fn element(&self, id: ElementId) -> &Element {
        &self.elements[id.0]
    }

    /// s at the entrance of element `id` [m].
    pub fn s_entrance_m(&self, id: ElementId) -> f64 {
        self.s_m[id.0]
    }

    /// s at the exit of element `id` [m].
    pub fn s_exit_m(&self, id: ElementId) -> f64 {
        self.s_m[id.0 + 1]
    }

    pub fn circumference_m(&self) -> f64 {
        self.s_m[self.elements.len()]
    }

    /// The element named `name` (names are unique in lat2db lattices; the
    /// first wins otherwise).
    pub fn find(&self, name: &str) -> Result<ElementId, SettingError> {
        self.by_name.get(name).copied().ok_or_else(|| SettingError::UnknownName(name.into()))
    }

    /// Beam position monitors (Monitors of group BPM), in lattice order.
    pub fn bpms(&self) -> Vec<ElementId> {
        self.ids_where(Element::is_bpm)
    }

    /// Magnets carrying a steering winding in `plane`, in lattice order.
    /// Main dipoles are excluded: no device drives their windings.
    pub fn steerers(&self, plane: Plane) -> Vec<ElementId> {
        self.ids_where(|e| {
            matches!(e.kind, ElementKind::Sextupole(_) | ElementKind::Quadrupole(_))
                && match plane {
                    Plane::Horizontal => e.windings.horizontal,
                    Plane::Vertical => e.windings.vertical,
                }
        })
    }

    fn ids_where(&self, f: impl Fn(&Element) -> bool) -> Vec<ElementId> {
        (0..self.elements.len()).filter(|&i| f(&self.elements[i])).map(ElementId).collect()
    }

    /// Cavities with non-zero voltage: the main RF system.
    pub fn main_cavities(&self) -> Vec<ElementId> {
        self.ids_where(|e| matches!(&e.kind, ElementKind::Cavity(c) if c.voltage_v != 0.0))
    }

    /// RF frequency of the main cavities [Hz] (None without cavities).
    pub fn rf_frequency_hz(&self) -> Option<f64> {
        self.main_cavities().first().and_then(|&id| match &self.element(id).kind {
            ElementKind::Cavity(c) => Some(c.frequency_hz),
            _ => None,
        })
    }

    /// Harmonic number of the main RF: round(f_RF · C / c).
    pub fn harmonic_number(&self) -> Option<f64> {
        self.rf_frequency_hz().map(|f| (f * self.circumference_m() / crate::constants::SPEED_OF_LIGHT_M_PER_S).round())
    }

    /// Sets the frequency of the main cavities [Hz].
    pub fn set_rf_frequency_hz(&mut self, f_hz: f64) -> Result<(), SettingError> {
        if !f_hz.is_finite() || f_hz <= 0.0 {
            return Err(SettingError::NotFinite("RF".into(), f_hz));
        }
        for id in self.main_cavities() {
            if let ElementKind::Cavity(c) = &mut self.elements[id.0].kind {
                c.frequency_hz = f_hz;
            }
            self.spans.forget(id.0);
            self.journal.everything();
        }
        Ok(())
    }

    /// The steering kick of element `id` in `plane` [rad] (0 for an element
    /// without a magnet).
    pub fn kick_rad(&self, id: ElementId, plane: Plane) -> f64 {
        self.elements[id.0].body().map_or(0.0, |b| b.kick_angle_rad()[plane.index()])
    }

    /// Sets the steering kick of a magnet in `plane` [rad].
    pub fn set_kick_rad(&mut self, id: ElementId, plane: Plane, kick_rad: f64) -> Result<(), SettingError> {
        let body = self.body_mut(id, kick_rad)?;
        body.set_kick_angle_rad(plane.index(), kick_rad);
        Ok(())
    }

    /// Sets normal coefficient B_order (AT PolynomB[order]) [m^-(order+1)].
    pub fn set_polynom_b(&mut self, id: ElementId, order: usize, value: f64) -> Result<(), SettingError> {
        self.set_coefficient(id, order, value, |b| &mut b.polynom_b)
    }

    /// Sets PolynomA[order] (skew component) of element `id`.
    pub fn set_polynom_a(&mut self, id: ElementId, order: usize, value: f64) -> Result<(), SettingError> {
        self.set_coefficient(id, order, value, |b| &mut b.polynom_a)
    }

    /// Sets a dipole's relative field error: PolynomB[0] = error ×
    /// curvature (the beam sees (1 + error) × the design field; the
    /// geometry, angle and reference path stay), as pyAT's bends read it.
    pub fn set_dipole_field_error(&mut self, id: ElementId, relative: f64) -> Result<(), SettingError> {
        let irho = match &self.elements[id.0].kind {
            ElementKind::Dipole(b) => b.curvature_per_m(),
            _ => return Err(SettingError::NotADipole(self.elements[id.0].name.clone())),
        };
        self.set_polynom_b(id, 0, relative * irho)
    }

    /// Dipoles (bending magnets) in lattice order.
    pub fn dipoles(&self) -> Vec<ElementId> {
        self.ids_where(|e| matches!(e.kind, ElementKind::Dipole(_)))
    }

    fn set_coefficient(
        &mut self,
        id: ElementId,
        order: usize,
        value: f64,
        polynom: impl FnOnce(&mut MagnetBody) -> &mut Vec<f64>,
    ) -> Result<(), SettingError> {
        let name = self.elements[id.0].name.clone();
        let body = self.body_mut(id, value)?;
        if order > body.max_order {
            return Err(SettingError::OrderTooHigh { name, order, max: body.max_order });
        }
        let coefficients = polynom(body);
        if coefficients.len() <= order {
            coefficients.resize(order + 1, 0.0);
        }
        coefficients[order] = value;
        Ok(())
    }

    /// Sets the transverse misalignment of element `id`.
    pub fn set_misalignment(&mut self, id: ElementId, m: Misalignment) -> Result<(), SettingError> {
        for v in [m.dx_m, m.dy_m, m.roll_rad] {
            if !v.is_finite() {
                return Err(SettingError::NotFinite(self.elements[id.0].name.clone(), v));
            }
        }
        self.journal.element(id, self.elements[id.0].clone());
        self.elements[id.0].misalignment = m;
        self.spans.forget(id.0);
        Ok(())
    }

    fn body_mut(&mut self, id: ElementId, value: f64) -> Result<&mut MagnetBody, SettingError> {
        let e = &mut self.elements[id.0];
        if !value.is_finite() {
            return Err(SettingError::NotFinite(e.name.clone(), value));
        }
        let name = e.name.clone();
        // the caller changes the body: its span's map no longer holds
        self.spans.forget(id.0);
        if e.body().is_some() {
            self.journal.element(id, e.clone());
        }
        e.body_mut().ok_or(SettingError::NotAMagnet(name))
    }
}

/// BESSY II from the repository's configuration (unit tests).
#[cfg(test)]
pub(crate) fn bessy2() -> Lattice {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/bessy2/bessy2_storage_ring_reflat.json");
    from_lat2db_json("BESSY II", &std::fs::read_to_string(path).expect("lattice file")).expect("lattice")
}
