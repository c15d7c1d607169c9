//! What changed in a lattice since a revision: each setting of an element
//! bumps the revision and keeps the element as it was, so that a
//! computation from an earlier state can tell which elements changed and
//! how (`Lattice::changed_since`). Bounded: the oldest records fall off.
use std::collections::VecDeque;

use super::ElementId;
use super::element::Element;

/// Records kept: enough for the writes merged into one computation.
const KEPT: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct Journal {
    revision: u64,
    /// The revisions after this one are all on record.
    horizon: u64,
    /// (revision the change made, element, the element before it).
    changes: VecDeque<(u64, ElementId, Element)>,
}

impl Journal {
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Element `id` is about to change from `before`.
    pub fn element(&mut self, id: ElementId, before: Element) {
        self.revision += 1;
        if self.changes.len() == KEPT
            && let Some((r, _, _)) = self.changes.pop_front()
        {
            self.horizon = r;
        }
        self.changes.push_back((self.revision, id, before));
    }

    /// A change the element records cannot describe (the RF frequency,
    /// which moves the fixed point's path length): nothing before it can
    /// be told.
    pub fn everything(&mut self) {
        self.revision += 1;
        self.horizon = self.revision;
        self.changes.clear();
    }

    /// The elements changed after `revision`, each as it was then; None if
    /// that is not on record.
    pub fn since(&self, revision: u64) -> Option<Vec<(ElementId, &Element)>> {
        if revision < self.horizon || revision > self.revision {
            return None;
        }
        let mut out: Vec<(ElementId, &Element)> = Vec::new();
        for (_, id, before) in self.changes.iter().filter(|(r, _, _)| *r > revision) {
            // the first record after `revision` holds the state then
            if !out.iter().any(|(seen, _)| seen == id) {
                out.push((*id, before));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::ElementKind;

    fn marker(name: &str) -> Element {
        Element { name: name.into(), ..crate::lattice::bessy2().elements()[0].clone() }
    }

    #[test]
    fn each_element_changed_since_a_revision_shows_as_it_was_then() {
        let mut j = Journal::default();
        j.element(ElementId(3), marker("a"));
        let r = j.revision();
        j.element(ElementId(5), marker("b"));
        j.element(ElementId(3), marker("c"));
        let since: Vec<_> = j.since(r).unwrap().into_iter().map(|(id, e)| (id, e.name.clone())).collect();
        assert_eq!(since, [(ElementId(5), "b".to_string()), (ElementId(3), "c".to_string())]);
        assert!(j.since(j.revision()).unwrap().is_empty());
        assert!(j.since(j.revision() + 1).is_none(), "a revision from another lattice");
        assert!(matches!(marker("m").kind, ElementKind::Marker));
    }

    #[test]
    fn what_fell_off_or_cannot_be_described_is_not_told() {
        let mut j = Journal::default();
        for i in 0..KEPT + 1 {
            j.element(ElementId(i), marker("x"));
        }
        assert!(j.since(0).is_none());
        assert_eq!(j.since(1).unwrap().len(), KEPT);
        let r = j.revision();
        j.everything();
        assert!(j.since(r).is_none());
        assert!(j.since(j.revision()).unwrap().is_empty());
    }
}
