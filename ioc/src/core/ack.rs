//! Completing writes after publication: a write's acknowledgement fires
//! only once every publisher that must show its effect has posted the
//! snapshot that carries it (or a later one: the watch channel may skip).
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Why a write was refused, and the value its record must show again.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub reason: String,
    /// The last good value (in the record's unit), if the write had a setpoint.
    pub restore: Option<f64>,
}

type Reply = Box<dyn FnOnce(Result<(), Refusal>) + Send>;

/// The answer to one write, given exactly once. Dropped unanswered it
/// refuses the write, so no client waits forever.
pub struct Ack(Option<Reply>);

impl Ack {
    pub fn new(reply: impl FnOnce(Result<(), Refusal>) + Send + 'static) -> Self {
        Self(Some(Box::new(reply)))
    }

    /// An acknowledgement nobody waits for (the BBA service's own settings).
    pub fn none() -> Self {
        Self(None)
    }

    pub fn succeed(mut self) {
        if let Some(reply) = self.0.take() {
            reply(Ok(()));
        }
    }

    pub fn refuse(mut self, refusal: Refusal) {
        if let Some(reply) = self.0.take() {
            reply(Err(refusal));
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(reply) = self.0.take() {
            reply(Err(Refusal { reason: "write abandoned".into(), restore: None }));
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Ack(pending)" } else { "Ack(done)" })
    }
}

#[derive(Default)]
struct Ledger {
    /// Highest sequence each participant has published.
    published: Vec<u64>,
    /// Acknowledgements waiting for a sequence, in order.
    waiting: VecDeque<(u64, Vec<Ack>)>,
}

/// Holds acknowledgements until every participant has published.
#[derive(Default)]
pub struct Barrier {
    ledger: Mutex<Ledger>,
}

/// One publisher the barrier waits for.
#[derive(Clone)]
pub struct Participant {
    barrier: Arc<Barrier>,
    index: usize,
}

impl Barrier {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A new participant; join all before the first snapshot.
    pub fn join(self: &Arc<Self>) -> Participant {
        let mut ledger = self.lock();
        ledger.published.push(0);
        Participant { barrier: Arc::clone(self), index: ledger.published.len() - 1 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // a panic while holding the lock leaves consistent data (plain pushes)
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Acknowledges `acks` once every participant has published `seq`.
    pub fn after(&self, seq: u64, acks: Vec<Ack>) {
        if acks.is_empty() {
            return;
        }
        let ready = {
            let mut ledger = self.lock();
            ledger.waiting.push_back((seq, acks));
            Self::drain(&mut ledger)
        };
        ready.into_iter().for_each(Ack::succeed);
    }

    fn drain(ledger: &mut Ledger) -> Vec<Ack> {
        let done = ledger.published.iter().copied().min().unwrap_or(u64::MAX);
        let mut ready = Vec::new();
        while ledger.waiting.front().is_some_and(|(seq, _)| *seq <= done) {
            if let Some((_, acks)) = ledger.waiting.pop_front() {
                ready.extend(acks);
            }
        }
        ready
    }
}

impl Participant {
    /// This participant has posted everything up to snapshot `seq`.
    pub fn published(&self, seq: u64) {
        let ready = {
            let mut ledger = self.barrier.lock();
            let p = &mut ledger.published[self.index];
            *p = (*p).max(seq);
            Barrier::drain(&mut ledger)
        };
        ready.into_iter().for_each(Ack::succeed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn ack(tx: &mpsc::Sender<(u32, Result<(), Refusal>)>, id: u32) -> Ack {
        let tx = tx.clone();
        Ack::new(move |r| tx.send((id, r)).expect("test receiver"))
    }

    #[test]
    fn acks_wait_for_every_participant_and_later_snapshots_release_earlier_ones() {
        let (tx, rx) = mpsc::channel();
        let barrier = Barrier::new();
        let (a, b) = (barrier.join(), barrier.join());
        barrier.after(1, vec![ack(&tx, 1)]);
        barrier.after(2, vec![ack(&tx, 2)]);
        a.published(2);
        assert!(rx.try_recv().is_err(), "b has not published");
        b.published(1);
        assert_eq!(rx.try_recv().expect("1 done").0, 1);
        assert!(rx.try_recv().is_err(), "2 waits for b");
        b.published(3); // a skipped snapshot still releases
        assert_eq!(rx.try_recv().expect("2 done"), (2, Ok(())));
        barrier.after(2, vec![ack(&tx, 3)]); // already published: at once
        assert_eq!(rx.try_recv().expect("3 done").0, 3);
    }

    #[test]
    fn without_participants_acks_fire_at_once_and_a_dropped_ack_refuses() {
        let (tx, rx) = mpsc::channel();
        Barrier::new().after(7, vec![ack(&tx, 1)]);
        assert_eq!(rx.try_recv().expect("done").1, Ok(()));
        drop(ack(&tx, 2));
        let (_, r) = rx.try_recv().expect("refused");
        assert_eq!(r.expect_err("abandoned").reason, "write abandoned");
    }
}
