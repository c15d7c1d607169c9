//! Embeds the EPICS library directories as rpath, so `twin-ioc` runs
//! straight after `cargo build` with no LD_LIBRARY_PATH. The directories come
//! from epics-pvxs-sys through its `links` metadata (a library crate's own
//! link arguments do not reach the final binary).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_EPICS_PVXS_LIB_DIRS");
    let dirs = std::env::var_os("DEP_EPICS_PVXS_LIB_DIRS").expect("epics-pvxs-sys exports lib_dirs");
    for dir in std::env::split_paths(&dirs) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}
