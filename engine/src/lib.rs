//! Physics engine of the BESSY II digital twin.
//!
//! Pure computation: no I/O, no EPICS. Lattice model (lat2db), symplectic
//! integrators matching pyAT's passmethods, closed orbit, linear optics,
//! response matrices and multi-particle tracking.
#![forbid(unsafe_code)]

pub mod bba;
pub mod bba_model;
pub mod constants;
pub mod coords;
pub mod hyper_dual;
pub mod integrators;
pub mod jacobian;
pub mod lanes;
pub mod lattice;
pub mod newton;
pub mod optics;
pub mod orbit;
pub mod orbit_match;
pub mod orm;
pub mod real;
pub mod recompute;
pub mod shooting;
pub mod tracking;
pub mod transverse;

/// Version string of the engine crate, published by the IOC.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
