//! rayon's pool for the model computation: one worker pinned to each core.
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
