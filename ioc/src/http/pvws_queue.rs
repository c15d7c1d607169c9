//! A PVWS session's queue of monitor updates. Bounded, so a client that
//! stops reading cannot grow the IOC: when full, an update pushes out the
//! oldest queued update of a PV that has a newer one queued (the overflow
//! rule of an EPICS monitor queue: a PV's latest value is never dropped,
//! intermediate ones are). Until the queue fills, nothing is dropped.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Queued updates: (PV name, update), oldest first.
pub struct UpdateQueue<U> {
    queue: Mutex<VecDeque<(Arc<str>, U)>>,
    ready: Notify,
    capacity: usize,
}

impl<U> UpdateQueue<U> {
    pub fn new(capacity: usize) -> Self {
        Self { queue: Mutex::new(VecDeque::new()), ready: Notify::new(), capacity }
    }

    /// Queues an update (from the monitor's thread).
    pub fn push(&self, pv: &Arc<str>, update: U) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() >= self.capacity
            && let Some(i) = oldest_superseded(&queue)
        {
            queue.remove(i);
        }
        queue.push_back((Arc::clone(pv), update));
        drop(queue);
        self.ready.notify_one();
    }

    /// Everything queued, waiting until there is something.
    pub async fn next_batch(&self) -> Vec<(Arc<str>, U)> {
        loop {
            {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if !queue.is_empty() {
                    return queue.drain(..).collect();
                }
            }
            self.ready.notified().await;
        }
    }
}

/// The position of the oldest update whose PV has a newer one queued.
fn oldest_superseded<U>(queue: &VecDeque<(Arc<str>, U)>) -> Option<usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (pv, _) in queue {
        *counts.entry(pv).or_default() += 1;
    }
    queue.iter().position(|(pv, _)| counts[&**pv] > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &UpdateQueue<u32>) -> Vec<(String, u32)> {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(q.next_batch()).into_iter().map(|(p, u)| (p.to_string(), u)).collect()
    }

    #[test]
    fn below_capacity_nothing_is_dropped_and_order_is_kept() {
        let q = UpdateQueue::new(8);
        let (a, b): (Arc<str>, Arc<str>) = ("A".into(), "B".into());
        for i in 0..4 {
            q.push(&a, i);
            q.push(&b, 10 + i);
        }
        let got = drain(&q);
        assert_eq!(got.len(), 8);
        assert_eq!(got.iter().filter(|(p, _)| p == "A").map(|(_, u)| *u).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_full_queue_drops_superseded_updates_and_keeps_every_latest_value() {
        let q = UpdateQueue::new(4);
        let (fast, slow): (Arc<str>, Arc<str>) = ("FAST".into(), "SLOW".into());
        q.push(&slow, 1);
        for i in 0..100 {
            q.push(&fast, i);
        }
        let got = drain(&q);
        assert!(got.len() <= 4, "{got:?}");
        assert!(got.contains(&("SLOW".into(), 1)), "the only update of a PV survives: {got:?}");
        assert_eq!(got.last(), Some(&("FAST".into(), 99)));
        let fast_values: Vec<u32> = got.iter().filter(|(p, _)| p == "FAST").map(|(_, u)| *u).collect();
        assert!(fast_values.windows(2).all(|w| w[0] < w[1]), "order kept: {fast_values:?}");
    }

    #[test]
    fn more_pvs_than_capacity_still_keeps_each_latest_value() {
        let q = UpdateQueue::new(2);
        let pvs: Vec<Arc<str>> = (0..5).map(|i| Arc::from(format!("PV{i}"))).collect();
        for (i, pv) in pvs.iter().enumerate() {
            q.push(pv, i as u32);
        }
        assert_eq!(drain(&q).len(), 5);
    }
}
