//! Threads of the path from a write to its publication: EPICS' threads at
//! ordinary priority, rayon's pool for the model computation (one worker
//! pinned to each core), and tasks that run on a thread of their own.
//!
//! The computation splits its work in two (the 6D and 4D parts, the two
//! segments of a 6D closed-orbit search) with `rayon::join`, which pays
//! only when the other worker takes its half at once. Unpinned, Linux
//! often wakes that worker on the waker's core (it expects the waker to
//! sleep), where it waits for the whole computation: on this project's
//! 2-core machine a 6D orbit search then took 0.93 ms instead of 0.53 ms
//! in about half of the process starts. Pinned, each worker runs on its
//! own core.
use std::num::NonZeroUsize;

use tokio::task::JoinSet;

/// Whether EPICS may give its threads real-time priorities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpicsScheduling {
    /// The process could raise thread priorities and gave that up: EPICS
    /// finds SCHED_FIFO refused at its first call and runs every thread at
    /// ordinary priority.
    MadeOrdinary,
    /// The process could not raise priorities anyway.
    AlreadyOrdinary,
}

/// Gives up the capability to raise thread priorities (CAP_SYS_NICE),
/// before the first EPICS call. Started with it (as root), EPICS runs its
/// threads SCHED_FIFO: the CA server's threads then preempted the model's
/// computation and publishers, which run at ordinary priority, at every
/// monitor they sent, and a steerer write's put-callback took 0.3-0.6 ms
/// longer (2.43-2.72 against 2.11-2.25 ms median in three pairs of runs
/// on this project's 2-core machine, 2026-12-06). The twin's model is its
/// device: it runs at the priority of the servers that wait for it, as
/// every IOC started without that capability does.
pub fn ordinary_epics_threads() -> Result<EpicsScheduling, caps::errors::CapsError> {
    use caps::{CapSet, Capability};
    if !caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_NICE)? {
        return Ok(EpicsScheduling::AlreadyOrdinary);
    }
    caps::drop(None, CapSet::Effective, Capability::CAP_SYS_NICE)?;
    Ok(EpicsScheduling::MadeOrdinary)
}

/// How the pool was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// One worker pinned to each of this many cores.
    Pinned(NonZeroUsize),
    /// The operating system did not say which cores the process may use:
    /// rayon's default pool (one worker per logical CPU, unpinned).
    Unpinned,
}

/// Builds rayon's global pool; call before anything uses rayon.
pub fn build_pool() -> Result<Pool, rayon::ThreadPoolBuildError> {
    let Some(cores) = core_affinity::get_core_ids().filter(|c| !c.is_empty()) else {
        rayon::ThreadPoolBuilder::new().build_global()?;
        return Ok(Pool::Unpinned);
    };
    let count = NonZeroUsize::new(cores.len()).unwrap_or(NonZeroUsize::MIN);
    rayon::ThreadPoolBuilder::new()
        .num_threads(count.get())
        .thread_name(|i| format!("compute-{i}"))
        .start_handler(move |i| {
            // a worker that cannot be pinned still works, unpinned
            if let Some(core) = cores.get(i) {
                core_affinity::set_for_current(*core);
            }
        })
        .build_global()?;
    Ok(Pool::Pinned(count))
}

/// Runs `task` on a thread of its own (a current-thread runtime): it wakes
/// as soon as its input arrives, without waiting for a worker of the
/// shared runtime (measured for a publisher: 80-120 µs instead of 170 µs
/// median from the snapshot to the first post). Its end is reported in
/// `tasks` like a task's.
pub fn on_own_thread(
    name: &str,
    task: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let thread = std::thread::Builder::new().name(name.into()).spawn(move || runtime.block_on(task))?;
    let name = name.to_string();
    tasks.spawn(async move {
        let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
        joined.map_err(|_| anyhow::anyhow!("{name} panicked"))?
    });
    Ok(())
}

/// Runs `work` on a thread of its own at the lowest priority (nice 19) and
/// returns its result: one-off background work of the start-up that the
/// twin does not wait for (the SOFB's response matrix: 0.3-0.6 s of
/// closed orbits), which otherwise ran beside the first client writes and
/// made their computations up to twice as long (2026-12-06). A thread of
/// its own, not tokio's blocking pool: a thread cannot raise its priority
/// back, and the pool reuses its threads.
pub async fn in_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name(name.into()).spawn(move || {
        let lowered = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
        // the receiver is gone only when the twin is stopping
        let _ = tx.send(lowered.map(|()| work()));
    })?;
    let done = rx.await.map_err(|_| anyhow::anyhow!("{name} ended without a result"))?;
    done.map_err(|e| anyhow::anyhow!("{name}: lowering the thread's priority: {e:?}"))
}
