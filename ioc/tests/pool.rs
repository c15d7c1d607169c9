//! rayon's pool for the model computation (src/threads.rs): one worker per
//! core the process may use, each pinned to its own core. A test binary of
//! its own: the global pool can be built once per process.
use twin_ioc::threads::{Pool, build_pool};

#[test]
fn each_worker_runs_on_its_own_core() {
    let allowed = core_affinity::get_core_ids().expect("this process's cores");
    match build_pool().expect("the global pool") {
        Pool::Pinned(n) => assert_eq!(n.get(), allowed.len()),
        Pool::Unpinned => panic!("Linux names the cores: the pool should be pinned"),
    }
    // each worker's own affinity: exactly one core, a different one each
    let mut seen: Vec<usize> = rayon::broadcast(|_| {
        let mine = core_affinity::get_core_ids().expect("the worker's cores");
        assert_eq!(mine.len(), 1, "{mine:?}");
        mine[0].id
    });
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), allowed.len());
    assert!(seen.iter().all(|id| allowed.iter().any(|c| c.id == *id)));
    // the pool is built once per process
    assert!(build_pool().is_err());
}
