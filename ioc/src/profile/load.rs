//! Reading `profile.toml`: parse, resolve the data files against the
//! profile's directory, check the values.
use std::path::{Path, PathBuf};

use super::Profile;

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("reading profile {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("profile {path}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("profile {path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

pub(super) fn load(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read { path: path.into(), source })?;
    let mut p: Profile =
        toml::from_str(&text).map_err(|e| ProfileError::Parse { path: path.into(), source: Box::new(e) })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let f = &mut p.files;
    for file in [&mut f.lattice, &mut f.magnets, &mut f.orbit_slots, &mut f.records]
        .into_iter()
        .chain(f.packed_slots.as_mut())
        .chain(f.bpm_offsets.as_mut())
    {
        *file = dir.join(&*file);
    }
    check(&p).map_err(|problem| ProfileError::Invalid { path: path.into(), problem })?;
    Ok(p)
}

fn ensure(ok: bool, problem: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(problem.to_string()) }
}

fn check(p: &Profile) -> Result<(), String> {
    let m = &p.magnets;
    ensure(m.family_limit_factor > 1.0, "magnets.family_limit_factor must be > 1")?;
    ensure(m.steerer_limit_a > 0.0, "magnets.steerer_limit_a must be > 0")?;
    ensure(
        !m.horizontal_steerer_prefix.is_empty() && m.horizontal_steerer_prefix != m.vertical_steerer_prefix,
        "magnets: the steerer prefixes must be non-empty and differ",
    )?;
    p.operations.check()?;
    ensure(p.rf.range_khz > 0.0, "rf.range_khz must be > 0")?;
    ensure(p.orbit.slots > 0 && p.orbit.button_scale_m > 0.0, "orbit.slots and orbit.button_scale_m must be > 0")?;
    if let Some(b) = &p.packed_bpm {
        ensure(b.slots > 0 && b.length >= 8 * b.slots, "packed_bpm.length must hold 8 rows of packed_bpm.slots")?;
        ensure(b.full_scale_m > 0.0, "packed_bpm.full_scale_m must be > 0")?;
        ensure(b.x_sign == 1.0 || b.x_sign == -1.0, "packed_bpm.x_sign must be 1 or -1")?;
        ensure(p.files.packed_slots.is_some(), "packed_bpm needs files.packed_slots")?;
    }
    if let Some(x) = &p.multiplexer {
        ensure(x.turns_ratio.is_finite() && x.turns_ratio != 0.0, "multiplexer.turns_ratio must be non-zero")?;
        ensure(x.switch_below_a > 0.0 && x.supply_limit_a > 0.0, "multiplexer currents must be > 0")?;
        ensure(
            x.bba_steps_a.iter().all(|a| a.abs() <= x.supply_limit_a) && x.bba_steps_a.contains(&0.0),
            "multiplexer.bba_steps_a must lie within the supply limit and include 0",
        )?;
        ensure(x.bba_readings_per_step >= 2, "multiplexer.bba_readings_per_step must be >= 2")?;
        ensure((1.0..=5.0).contains(&x.bba_sigma_coverage), "multiplexer.bba_sigma_coverage must be in [1, 5]")?;
        ensure((0.0..=5.0).contains(&x.relay_switch_s), "multiplexer.relay_switch_s must be in [0, 5] s")?;
    }
    if let Some(t) = &p.topup {
        ensure(
            !t.rates_hz.is_empty() && t.rates_hz.len() == t.rate_names.len() && t.rates_hz.len() <= 16,
            "topup.rates_hz and topup.rate_names must have the same 1 to 16 entries",
        )?;
        ensure(t.rates_hz.iter().all(|r| *r > 0.0 && *r <= 10.0), "topup.rates_hz must be in (0, 10] Hz")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_bessy2_profile_loads_with_its_files_next_to_it() {
        let p = Profile::load(&repo().join("config/bessy2/profile.toml")).expect("profile");
        assert_eq!(p.name, "BESSY II");
        assert!(p.files.lattice.is_file(), "{}", p.files.lattice.display());
        assert!(p.files.packed_slots.as_ref().is_some_and(|f| f.is_file()));
        let mux = p.multiplexer.as_ref().expect("BESSY II has a multiplexer");
        assert!(mux.reaches("Q1M1D1R") && !mux.reaches("QIT6R"));
        assert_eq!(p.orbit.slots, 128);
    }

    #[test]
    fn bad_values_name_the_key() {
        let dir = std::env::temp_dir().join(format!("twin-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = std::fs::read_to_string(repo().join("config/bessy2/profile.toml")).expect("profile");
        let path = dir.join("profile.toml");
        std::fs::write(&path, good.replace("x_sign = -1", "x_sign = 2")).expect("write");
        let e = Profile::load(&path).expect_err("x_sign 2").to_string();
        assert!(e.contains("packed_bpm.x_sign"), "{e}");
        std::fs::write(&path, good.replace("[rf]", "[rff]")).expect("write");
        assert!(matches!(Profile::load(&path), Err(ProfileError::Parse { .. })));
    }
}
