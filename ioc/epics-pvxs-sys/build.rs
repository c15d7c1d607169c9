//! Finds EPICS 7 and pvxs, compiles the C shim, expands the DBD and tells
//! dependents where the shared libraries are.
//!
//! Where EPICS comes from, first match wins:
//! 1. A site installation: `EPICS_BASE` (with `EPICS_HOST_ARCH`, default
//!    `linux-x86_64`) and `PVXS` (pvxs top; `PVXS_LIBEVENT` optionally names
//!    libevent's prefix when it is not bundled under `$PVXS/bundle/usr/<arch>`).
//! 2. The PyPI wheels `epicscorelibs` and `pvxslibs` installed in the
//!    site-packages directory named by `EPICS_PY_SITE_PACKAGES`.
//! 3. The same wheels in the project venv `.venv-epics` (made by `make build`).
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const ENV_VARS: &[&str] =
    &["EPICS_BASE", "EPICS_HOST_ARCH", "PVXS", "PVXS_LIBEVENT", "PVXS_CXX_OLD_ABI", "EPICS_PY_SITE_PACKAGES"];

/// Header, library and DBD directories of one EPICS + pvxs installation.
struct Layout {
    include_dirs: Vec<PathBuf>,
    lib_dirs: Vec<PathBuf>,
    dbd_dirs: Vec<PathBuf>,
    /// pvxs was built with the pre-C++11 std::string ABI (the wheels are).
    cxx_old_abi: bool,
}

/// The C shim's translation units.
const SHIM_SOURCES: [&str; 7] = [
    "shim/twin_ioc.c",
    "shim/twin_access.c",
    "shim/twin_devsup.c",
    "shim/twin_trap.c",
    "shim/twin_trap_ca.c",
    "shim/twin_monitor.c",
    "shim/twin_follow.c",
];

/// The C++ part: the PV Access put guard (pvxs interfaces).
const SHIM_CXX_SOURCE: &str = "shim/twin_pva_guard.cpp";

fn main() {
    for v in ENV_VARS {
        println!("cargo:rerun-if-env-changed={v}");
    }
    for f in SHIM_SOURCES.iter().chain([SHIM_CXX_SOURCE, "shim/twin_shim.h", "shim/twin.dbd"].iter()) {
        println!("cargo:rerun-if-changed={f}");
    }
    let layout = match locate() {
        Ok(l) => l,
        Err(msg) => panic!("epics-pvxs-sys: {msg}"),
    };
    compile_shim(&layout);
    link(&layout);
    expand_dbd(&layout);
}

fn locate() -> Result<Layout, String> {
    if let Some(base) = env::var_os("EPICS_BASE") {
        return site_layout(PathBuf::from(base));
    }
    let site = match env::var_os("EPICS_PY_SITE_PACKAGES") {
        Some(s) => PathBuf::from(s),
        None => default_venv_site()?,
    };
    wheel_layout(&site)
}

fn site_layout(base: PathBuf) -> Result<Layout, String> {
    let arch = env::var("EPICS_HOST_ARCH").unwrap_or_else(|_| "linux-x86_64".into());
    let pvxs =
        env::var_os("PVXS").map(PathBuf::from).ok_or("EPICS_BASE is set but PVXS (the pvxs installation) is not")?;
    let mut include_dirs = vec![
        base.join("include"),
        base.join("include/os/Linux"),
        base.join("include/compiler/gcc"),
        pvxs.join("include"),
    ];
    let mut lib_dirs = vec![base.join("lib").join(&arch), pvxs.join("lib").join(&arch)];
    let libevent =
        env::var_os("PVXS_LIBEVENT").map(PathBuf::from).unwrap_or_else(|| pvxs.join("bundle/usr").join(&arch));
    if libevent.exists() {
        include_dirs.push(libevent.join("include"));
        lib_dirs.push(libevent.join("lib"));
    }
    let dbd_dirs = vec![base.join("dbd"), pvxs.join("dbd")];
    check_exists(&[&base.join("include/epicsVersion.h"), &pvxs.join("dbd/pvxsIoc.dbd")])?;
    // a site pvxs is built with the compiler's default ABI unless told
    let cxx_old_abi = env::var("PVXS_CXX_OLD_ABI").is_ok_and(|v| v == "1");
    Ok(Layout { include_dirs, lib_dirs, dbd_dirs, cxx_old_abi })
}

fn wheel_layout(site: &Path) -> Result<Layout, String> {
    let core = site.join("epicscorelibs");
    let pvxs = site.join("pvxslibs");
    check_exists(&[&core.join("include/epicsVersion.h"), &pvxs.join("dbd/pvxsIoc.dbd")])?;
    Ok(Layout {
        include_dirs: vec![core.join("include"), pvxs.join("include")],
        lib_dirs: vec![core.join("lib"), pvxs.join("lib")],
        dbd_dirs: vec![core.join("dbd"), pvxs.join("dbd")],
        cxx_old_abi: true,
    })
}

fn default_venv_site() -> Result<PathBuf, String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let venv_lib = manifest.join("../../.venv-epics/lib");
    println!("cargo:rerun-if-changed={}", venv_lib.display());
    let entries = fs::read_dir(&venv_lib).map_err(|e| {
        format!(
            "no EPICS found: set EPICS_BASE+PVXS, or EPICS_PY_SITE_PACKAGES, or run `make build` \
             to install the pinned wheels into .venv-epics ({}: {e})",
            venv_lib.display()
        )
    })?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("epicscorelibs").is_dir())
        .ok_or_else(|| format!("no site-packages with epicscorelibs under {}", venv_lib.display()))
}

fn check_exists(paths: &[&Path]) -> Result<(), String> {
    match paths.iter().find(|p| !p.exists()) {
        Some(p) => Err(format!("expected file not found: {}", p.display())),
        None => Ok(()),
    }
}

fn compile_shim(layout: &Layout) {
    let mut build = cc::Build::new();
    build.files(SHIM_SOURCES).include("shim");
    for d in &layout.include_dirs {
        build.include(d);
    }
    build.warnings(true).compile("twin_shim");

    let mut cxx = cc::Build::new();
    cxx.cpp(true).std("c++11").file(SHIM_CXX_SOURCE).include("shim");
    for d in &layout.include_dirs {
        cxx.include(d);
    }
    if layout.cxx_old_abi {
        cxx.define("_GLIBCXX_USE_CXX11_ABI", "0");
    }
    cxx.warnings(true).compile("twin_shim_cxx");
}

fn link(layout: &Layout) {
    for d in &layout.lib_dirs {
        println!("cargo:rustc-link-search=native={}", d.display());
    }
    for lib in ["pvxsIoc", "pvxs", "dbRecStd", "dbCore", "ca", "Com"] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    let joined = env::join_paths(&layout.lib_dirs).expect("library paths contain no separator");
    // Dependents re-emit this as an rpath (DEP_EPICS_PVXS_LIB_DIRS).
    println!("cargo:lib_dirs={}", joined.to_string_lossy());
    for d in &layout.lib_dirs {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d.display());
    }
}

/// Writes base.dbd + pvxsIoc.dbd + twin.dbd with every `include` expanded
/// in place. Repeated includes are kept: dbCommon.dbd is included inside
/// every recordtype and dropping repeats breaks the record layouts.
fn expand_dbd(layout: &Layout) {
    let mut out = String::new();
    let shim_dir = PathBuf::from("shim");
    let mut dirs = layout.dbd_dirs.clone();
    dirs.push(shim_dir);
    for top in ["base.dbd", "pvxsIoc.dbd", "twin.dbd"] {
        expand_file(top, &dirs, &mut out, 0);
    }
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("twin.dbd");
    fs::write(&dest, out).expect("write expanded DBD");
}

fn expand_file(name: &str, dirs: &[PathBuf], out: &mut String, depth: usize) {
    assert!(depth < 16, "DBD include depth exceeded at {name}");
    let path = dirs
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("DBD file {name} not found in {dirs:?}"));
    let text = fs::read_to_string(&path).expect("read DBD");
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("include") {
            let inc = rest.trim().trim_matches('"');
            expand_file(inc, dirs, out, depth + 1);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
}
