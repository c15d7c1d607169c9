//! Element kinds and their parameters (units on every field).

/// Field expansion of a magnet and its integration settings (AT
/// `PolynomA/PolynomB`, `MaxOrder`, `NumIntSteps`, `KickAngle`).
#[derive(Clone, Debug, PartialEq)]
pub struct MagnetBody {
    /// Skew coefficients A_n [m^-(n+1)], n = 0..=max_order.
    pub polynom_a: Vec<f64>,
    /// Normal coefficients B_n [m^-(n+1)]: B_1 = K1 [m^-2], B_2 = K2/2 [m^-3].
    pub polynom_b: Vec<f64>,
    /// Highest order used by the kick.
    pub max_order: usize,
    /// Integration steps of the 4th-order scheme.
    pub n_steps: usize,
    /// Steering kick (x, y) [rad], integrated over the magnet.
    kick_angle_rad: [f64; 2],
    /// sin of the kick angles, kept with them (every pass needs them).
    kick_sin: [f64; 2],
    /// Whether the magnet radiates when radiation is on (its lat2db
    /// passmethod is a `*RadPass`; sextupoles are not, as in pyAT).
    pub radiates: bool,
}

/// Highest multipole order a magnet may have (checked when loading).
pub const MAX_ORDER_LIMIT: usize = 7;

/// The coefficients one pass through a magnet uses, with the steering
/// kick folded into order 0 (computed once per pass, never stored back).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KickCoefficients {
    pub a: [f64; MAX_ORDER_LIMIT + 1],
    pub b: [f64; MAX_ORDER_LIMIT + 1],
    pub max_order: usize,
    /// Some skew coefficient of order ≥ 1 is non-zero.
    pub skew: bool,
}

impl MagnetBody {
    pub fn new(
        polynom_a: Vec<f64>,
        polynom_b: Vec<f64>,
        max_order: usize,
        n_steps: usize,
        kick_angle_rad: [f64; 2],
        radiates: bool,
    ) -> Self {
        let kick_sin = kick_angle_rad.map(f64::sin);
        Self { polynom_a, polynom_b, max_order, n_steps, kick_angle_rad, kick_sin, radiates }
    }

    /// Steering kick (x, y) [rad].
    pub fn kick_angle_rad(&self) -> [f64; 2] {
        self.kick_angle_rad
    }

    /// Sets the steering kick of transverse plane `plane` (0: x, 1: y) [rad].
    pub fn set_kick_angle_rad(&mut self, plane: usize, kick_rad: f64) {
        self.kick_angle_rad[plane] = kick_rad;
        self.kick_sin[plane] = kick_rad.sin();
    }

    /// Coefficients (A_n, B_n) including the steering kick in order 0 (AT:
    /// B0 −= sin(θx)/L, A0 += sin(θy)/L).
    #[inline]
    pub fn kick_coefficients(&self, length_m: f64) -> KickCoefficients {
        let top = self.max_order.min(MAX_ORDER_LIMIT);
        let mut c = KickCoefficients {
            a: [0.0; MAX_ORDER_LIMIT + 1],
            b: [0.0; MAX_ORDER_LIMIT + 1],
            max_order: top,
            skew: false,
        };
        for n in 0..=top {
            c.a[n] = self.polynom_a.get(n).copied().unwrap_or(0.0);
            c.b[n] = self.polynom_b.get(n).copied().unwrap_or(0.0);
        }
        if length_m > 0.0 {
            c.a[0] += self.kick_sin[1] / length_m;
            c.b[0] -= self.kick_sin[0] / length_m;
        }
        c.skew = c.a[1..=top].iter().any(|&a| a != 0.0);
        c
    }
}

/// A straight multipole magnet (quadrupole, sextupole).
#[derive(Clone, Debug, PartialEq)]
pub struct Multipole {
    pub length_m: f64,
    pub body: MagnetBody,
}

/// A sector bend with pole-face rotation and linear fringe (AT
/// `BndMPoleSymplectic4Pass`, FringeBend method 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Bend {
    pub length_m: f64,
    pub angle_rad: f64,
    pub entrance_angle_rad: f64,
    pub exit_angle_rad: f64,
    /// Full gap [m]; 0 means hard edge.
    pub full_gap_m: f64,
    /// Fringe field integrals FINT at entrance and exit (dimensionless).
    pub fint_entrance: f64,
    pub fint_exit: f64,
    pub body: MagnetBody,
}

impl Bend {
    /// Curvature 1/ρ [1/m].
    pub fn curvature_per_m(&self) -> f64 {
        self.angle_rad / self.length_m
    }
}

/// An RF cavity (AT `RFCavityPass`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cavity {
    pub length_m: f64,
    pub voltage_v: f64,
    pub frequency_hz: f64,
    pub harmonic_number: f64,
    /// Time lag expressed as a path length cτ [m].
    pub time_lag_m: f64,
}

/// What an element is.
#[derive(Clone, Debug, PartialEq)]
pub enum ElementKind {
    Marker,
    Monitor,
    Drift { length_m: f64 },
    Quadrupole(Multipole),
    Sextupole(Multipole),
    Dipole(Bend),
    Cavity(Cavity),
}

/// Transverse misalignment of an element: offsets and roll about s.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Misalignment {
    pub dx_m: f64,
    pub dy_m: f64,
    pub roll_rad: f64,
}

impl Misalignment {
    pub fn is_zero(&self) -> bool {
        self.dx_m == 0.0 && self.dy_m == 0.0 && self.roll_rad == 0.0
    }
}

/// Steering windings carried by a magnet (lat2db tags "H" / "V").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Windings {
    pub horizontal: bool,
    pub vertical: bool,
}

/// One element of the ring.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub name: String,
    /// lat2db group (e.g. "BPM" for beam position monitors).
    pub group: Option<String>,
    pub kind: ElementKind,
    pub misalignment: Misalignment,
    pub windings: Windings,
}

impl Element {
    pub fn length_m(&self) -> f64 {
        match &self.kind {
            ElementKind::Marker | ElementKind::Monitor => 0.0,
            ElementKind::Drift { length_m } => *length_m,
            ElementKind::Quadrupole(m) | ElementKind::Sextupole(m) => m.length_m,
            ElementKind::Dipole(b) => b.length_m,
            ElementKind::Cavity(c) => c.length_m,
        }
    }

    /// The magnet body, for elements that have one.
    pub fn body(&self) -> Option<&MagnetBody> {
        match &self.kind {
            ElementKind::Quadrupole(m) | ElementKind::Sextupole(m) => Some(&m.body),
            ElementKind::Dipole(b) => Some(&b.body),
            _ => None,
        }
    }

    pub fn body_mut(&mut self) -> Option<&mut MagnetBody> {
        match &mut self.kind {
            ElementKind::Quadrupole(m) | ElementKind::Sextupole(m) => Some(&mut m.body),
            ElementKind::Dipole(b) => Some(&mut b.body),
            _ => None,
        }
    }

    pub fn is_bpm(&self) -> bool {
        matches!(self.kind, ElementKind::Monitor) && self.group.as_deref() == Some("BPM")
    }
}
