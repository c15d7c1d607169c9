//! Physics engine of the BESSY II digital twin.
//!
//! Pure computation: no I/O, no EPICS. Lattice model, symplectic integrators,
//! closed orbit, optics, response matrices and the BBA fit live here
//! (filled in by the engine issue).
#![forbid(unsafe_code)]

/// Version string of the engine crate, published by the IOC.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
