//! The modes of twin devices that records show as multi-state values (the
//! mbbo state names in index order), and the slow orbit feedback's
//! defaults: one definition for the catalogue and the core.

/// How a BPM works (the instructor's fault switch, mbbo index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BpmFault {
    /// Reads the beam.
    #[default]
    Ok = 0,
    /// No signal (the electronics lost power): no position, the status
    /// shows neither power nor gain control.
    Dead = 1,
    /// Stopped updating: shows the reading of the moment it froze, with
    /// a status that looks healthy.
    Frozen = 2,
    /// Reads garbage anywhere in its range; the gain control lost
    /// (saturation) in the status.
    Garbage = 3,
}

impl BpmFault {
    /// The mbbo states, in index order.
    pub const NAMES: [&'static str; 4] = ["OK", "DEAD", "FROZEN", "GARBAGE"];

    /// The fault of an mbbo index (None: no such state).
    pub fn from_index(v: f64) -> Option<Self> {
        [Self::Ok, Self::Dead, Self::Frozen, Self::Garbage].into_iter().find(|f| *f as u8 as f64 == v)
    }
}

/// Which planes the feedback corrects (mbbo index order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SofbPlanes {
    #[default]
    Both = 0,
    Horizontal = 1,
    Vertical = 2,
}

impl SofbPlanes {
    pub const NAMES: [&'static str; 3] = ["BOTH", "X", "Y"];

    pub fn from_index(v: f64) -> Option<Self> {
        [Self::Both, Self::Horizontal, Self::Vertical].into_iter().find(|p| *p as u8 as f64 == v)
    }

    /// Whether plane `p` (0: x, 1: y) is corrected.
    pub fn includes(self, p: usize) -> bool {
        matches!((self, p), (Self::Both, _) | (Self::Horizontal, 0) | (Self::Vertical, 1))
    }
}

/// The slow orbit feedback's settings at first start.
pub struct SofbDefaults {
    pub gain: f64,
    pub rate_hz: f64,
    pub singular_cut: f64,
    pub pause_for_bba: bool,
}

pub const SOFB_DEFAULTS: SofbDefaults =
    SofbDefaults { gain: 0.5, rate_hz: 1.0, singular_cut: 0.01, pause_for_bba: true };
