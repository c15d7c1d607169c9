//! The ring cut into spans for 4D passes at δ = 0: runs of consecutive
//! elements whose pass is affine in (x, px, y, py) (drifts, markers,
//! monitors, cavities as drifts, quadrupoles and dipoles up to order 1,
//! misaligned or not), and the elements between them (sextupoles and
//! higher orders). A run's map, once computed (`transverse::track_turn_4d`),
//! stands for its elements' passes; a setting of one of its elements
//! forgets it.
use std::ops::Range;
use std::sync::OnceLock;

use super::element::{Element, ElementKind};

/// z ↦ M z + c on the transverse coordinates (x, px, y, py) [m, rad].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine4 {
    pub m: [[f64; 4]; 4],
    pub c: [f64; 4],
}

/// One span of the ring.
#[derive(Clone, Debug)]
pub enum Span {
    /// Elements whose passes compose to an affine map, computed when first
    /// needed.
    Affine { elements: Range<usize>, map: OnceLock<Affine4> },
    /// One element passed as it is.
    Element(usize),
}

/// Whether a 4D pass of `e` at fixed δ is affine in (x, px, y, py): the
/// field is at most linear in x and y and nothing radiates.
fn is_affine_4d(e: &Element) -> bool {
    match &e.kind {
        ElementKind::Marker | ElementKind::Monitor | ElementKind::Drift { .. } | ElementKind::Cavity(_) => true,
        ElementKind::Quadrupole(m) => m.body.max_order <= 1,
        ElementKind::Dipole(b) => b.body.max_order <= 1,
        ElementKind::Sextupole(_) => false,
    }
}

/// The spans of a ring, in order, covering every element once.
#[derive(Clone, Debug, Default)]
pub struct Spans {
    spans: Vec<Span>,
    /// Index of the span holding each element.
    of_element: Vec<usize>,
}

impl Spans {
    pub fn new(elements: &[Element]) -> Self {
        let mut spans = Vec::new();
        let mut of_element = Vec::with_capacity(elements.len());
        let mut i = 0;
        while i < elements.len() {
            if is_affine_4d(&elements[i]) {
                let start = i;
                while i < elements.len() && is_affine_4d(&elements[i]) {
                    i += 1;
                }
                spans.push(Span::Affine { elements: start..i, map: OnceLock::new() });
            } else {
                spans.push(Span::Element(i));
                i += 1;
            }
            of_element.resize(i, spans.len() - 1);
        }
        Self { spans, of_element }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Span> {
        self.spans.iter()
    }

    /// Element `index` changed: its span's map no longer holds.
    pub fn forget(&mut self, index: usize) {
        if let Some(Span::Affine { map, .. }) = self.of_element.get(index).and_then(|&s| self.spans.get_mut(s)) {
            *map = OnceLock::new();
        }
    }
}
