//! The equilibrium envelope (normal-mode emittances with radiation) at the
//! beam-update cadence. The engine's envelope takes milliseconds — too long
//! for every recompute, whose budget is a write's latency — so at each
//! clock tick the core asks a worker thread for the envelope of its
//! current valid computation (if it has not asked yet) and takes what the
//! worker finished since the last tick, if it still belongs to the current
//! computation. A change shows in the emittances one or two beam updates
//! after the write; the view carries the computation it belongs to.
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

use twin_engine::coords::Coords;
use twin_engine::lattice::Lattice;
use twin_engine::optics::envelope;

/// The envelope of one computation.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvelopeView {
    /// The computation whose lattice and orbit it was computed for.
    pub computation: u64,
    /// Emittances of the three normal modes [m], or why there are none.
    pub mode_emittances_m: Result<[f64; 3], String>,
}

struct Request {
    computation: u64,
    lattice: Lattice,
    start: Coords<f64>,
}

/// The latest request (older ones are superseded) and whether the core is gone.
#[derive(Default)]
struct Slot {
    request: Option<Request>,
    closed: bool,
}

/// The core's side of the worker.
pub struct EnvelopeService {
    slot: Arc<(Mutex<Slot>, Condvar)>,
    results: Receiver<EnvelopeView>,
    requested: u64,
}

impl EnvelopeService {
    /// Starts the worker thread; it ends when the service is dropped.
    pub fn spawn() -> std::io::Result<Self> {
        let slot: Arc<(Mutex<Slot>, Condvar)> = Arc::default();
        let (tx, results) = channel();
        let worker_slot = Arc::clone(&slot);
        std::thread::Builder::new().name("twin-envelope".into()).spawn(move || work(&worker_slot, &tx))?;
        Ok(Self { slot, results, requested: 0 })
    }

    /// At a clock tick: the envelope of `computation` if the worker has
    /// finished it; asks for it (on `lattice` around the 6D orbit `start`)
    /// if not asked yet. `start` is None for an invalid computation.
    pub fn poll(&mut self, computation: u64, lattice: &Lattice, start: Option<&Coords<f64>>) -> Option<EnvelopeView> {
        let fresh = self.results.try_iter().filter(|v| v.computation == computation).last();
        if let (Some(start), true) = (start, self.requested != computation) {
            self.requested = computation;
            let (lock, wake) = &*self.slot;
            let mut slot = lock.lock().unwrap_or_else(|p| p.into_inner());
            slot.request = Some(Request { computation, lattice: lattice.clone(), start: *start });
            wake.notify_one();
        }
        fresh
    }
}

impl Drop for EnvelopeService {
    fn drop(&mut self) {
        let (lock, wake) = &*self.slot;
        lock.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        wake.notify_one();
    }
}

fn work(slot: &(Mutex<Slot>, Condvar), results: &Sender<EnvelopeView>) {
    let (lock, wake) = slot;
    loop {
        let request = {
            let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
            while s.request.is_none() && !s.closed {
                s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.closed {
                return;
            }
            s.request.take()
        };
        let Some(Request { computation, lattice, start }) = request else { continue };
        let mode_emittances_m = envelope(&lattice, &start).map(|e| e.mode_emittances_m).map_err(|e| e.to_string());
        if results.send(EnvelopeView { computation, mode_emittances_m }).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn the_envelope_of_a_computation_arrives_at_a_later_poll_and_stale_ones_are_dropped() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/bessy2/bessy2_storage_ring_reflat.json");
        let text = std::fs::read_to_string(path).expect("lattice file");
        let lattice = twin_engine::lattice::from_lat2db_json("BESSY II", &text).expect("lattice");
        let dynamics = twin_engine::integrators::Dynamics::SixDRadiation;
        let start = twin_engine::orbit::closed_orbit_6d(&lattice, dynamics, None).expect("6D orbit").coords;
        let mut service = EnvelopeService::spawn().expect("thread");
        assert!(service.poll(1, &lattice, Some(&start)).is_none(), "asked, not done yet");
        let deadline = Instant::now() + Duration::from_secs(10);
        let view = loop {
            std::thread::sleep(Duration::from_millis(5));
            if let Some(v) = service.poll(1, &lattice, Some(&start)) {
                break v;
            }
            assert!(Instant::now() < deadline, "no envelope in 10 s");
        };
        assert_eq!(view.computation, 1);
        let emittances = view.mode_emittances_m.expect("stable");
        assert!((emittances[0] / 7.7185e-9 - 1.0).abs() < 1e-3, "{emittances:?}");
        // a result for computation 2 is not taken for 3
        assert!(service.poll(2, &lattice, Some(&start)).is_none());
        std::thread::sleep(Duration::from_millis(200));
        assert!(service.poll(3, &lattice, None).is_none());
    }
}
