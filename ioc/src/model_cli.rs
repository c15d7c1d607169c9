//! `twin-ioc model`: the engine offline, JSON on stdout (SI units).
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use twin_engine::coords::{Coords, DELTA, X, Y};
use twin_engine::integrators::Dynamics;
use twin_engine::jacobian::transverse;
use twin_engine::lattice::{ElementId, Lattice, Misalignment, Plane, from_lat2db_json};
use twin_engine::optics::{
    NormalModes, RingOptics, chromaticity_4d, envelope, linear_optics_4d, radiation_integrals, tunes_6d,
};
use twin_engine::orbit::closed_orbit_6d;
use twin_engine::orm::{Corrector, orbit_response};
use twin_engine::tracking::orbit_along;

use crate::cli::ModelArgs;
use crate::config::Config;
use crate::profile::{MagnetRules, Profile};

#[derive(Serialize)]
struct BpmRow {
    name: String,
    s: f64,
    x: f64,
    y: f64,
    beta_x: f64,
    beta_y: f64,
    alpha_x: f64,
    alpha_y: f64,
    mu_x: f64,
    mu_y: f64,
    eta_x: f64,
}

#[derive(Serialize)]
struct Orm {
    correctors: Vec<String>,
    bpms: Vec<String>,
    /// x[i][j] = ∂x(BPM i)/∂θ(corrector j) [m/rad]
    x: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
}

#[derive(Serialize)]
struct ElementRow {
    name: String,
    s: f64,
    x: f64,
    y: f64,
}

#[derive(Serialize)]
struct Output {
    tunes: [f64; 2],
    tunes_total: [f64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    synchrotron_tune: Option<f64>,
    chromaticity: [f64; 2],
    momentum_compaction: f64,
    emittance: f64,
    energy_loss_ev: f64,
    /// δ of the closed orbit (non-zero in 6D with radiation or an RF shift)
    delta: f64,
    bpms: Vec<BpmRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    orm: Option<Orm>,
    /// closed orbit at every element entrance and the ring end
    #[serde(skip_serializing_if = "Option::is_none")]
    elements: Option<Vec<ElementRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupled: Option<Coupled>,
}

/// Normal modes and the envelope (`--envelope`).
#[derive(Serialize)]
struct Coupled {
    /// fractional tunes of modes 1 and 2 (4D, δ = 0)
    mode_tunes: [f64; 2],
    /// β of mode 1 in x and of mode 2 in y at the BPMs [m]
    beta_1: Vec<f64>,
    beta_2: Vec<f64>,
    /// equilibrium emittances of the three normal modes, with radiation [m]
    mode_emittances: [f64; 3],
    /// √det of the beam matrix's (x, px), (y, py), (δ, cτ) blocks at the start [m]
    projected_emittances: [f64; 3],
}

/// `six_d_start`: the 6D closed orbit with radiation if already found (`--6d`).
fn coupled(
    lattice: &Lattice,
    optics: &RingOptics,
    bpms: &[ElementId],
    six_d_start: Option<Coords<f64>>,
) -> anyhow::Result<Coupled> {
    let modes = NormalModes::<4>::of(&transverse(&optics.one_turn))?;
    // a BPM has no length: the map to its exit is the map to it
    let betas: Vec<[f64; 2]> = bpms.iter().map(|b| modes.betas(&transverse(&optics.transfer[b.0]))).collect();
    let start = match six_d_start {
        Some(start) => start,
        None => closed_orbit_6d(lattice, Dynamics::SixDRadiation, None)?.coords,
    };
    let env = envelope(lattice, &start)?;
    Ok(Coupled {
        mode_tunes: [modes.tunes[0], modes.tunes[1]],
        beta_1: betas.iter().map(|b| b[0]).collect(),
        beta_2: betas.iter().map(|b| b[1]).collect(),
        mode_emittances: env.mode_emittances_m,
        projected_emittances: env.projected_emittances_m,
    })
}

/// Loads a lat2db lattice file.
pub fn load_lattice(name: &str, path: &Path) -> anyhow::Result<Lattice> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    from_lat2db_json(name, &text).with_context(|| format!("parsing {}", path.display()))
}

fn split<'a>(arg: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    arg.split_once('=').ok_or_else(|| anyhow!("{what} `{arg}`: expected NAME=VALUE"))
}

fn number(text: &str, what: &str) -> anyhow::Result<f64> {
    let v: f64 = text.trim().parse().with_context(|| format!("{what}: `{text}` is not a number"))?;
    if !v.is_finite() {
        bail!("{what}: `{text}` is not finite");
    }
    Ok(v)
}

/// Steerer device name (HS4M2D1R, VS2M1D2R) -> the magnet carrying it,
/// by the profile's naming rule.
pub fn steerer(lattice: &Lattice, rules: &MagnetRules, name: &str) -> anyhow::Result<Corrector> {
    let (plane, magnet) = match (
        name.strip_prefix(rules.horizontal_steerer_prefix.as_str()),
        name.strip_prefix(rules.vertical_steerer_prefix.as_str()),
    ) {
        (Some(m), _) => (Plane::Horizontal, m),
        (None, Some(m)) => (Plane::Vertical, m),
        _ => bail!(
            "steerer `{name}` must start with {} or {}",
            rules.horizontal_steerer_prefix,
            rules.vertical_steerer_prefix
        ),
    };
    let element = lattice.find(magnet).with_context(|| format!("steerer {name}"))?;
    let w = lattice.element(element).windings;
    if !(match plane {
        Plane::Horizontal => w.horizontal,
        Plane::Vertical => w.vertical,
    }) {
        bail!("magnet {magnet} carries no {plane:?} steering winding");
    }
    Ok(Corrector { element, plane })
}

fn apply_settings(lattice: &mut Lattice, rules: &MagnetRules, args: &ModelArgs) -> anyhow::Result<()> {
    for k in &args.kicks {
        let (name, value) = split(k, "--kick")?;
        let c = steerer(lattice, rules, name)?;
        lattice.set_kick_rad(c.element, c.plane, number(value, name)?)?;
    }
    for o in &args.offsets {
        let (name, value) = split(o, "--offset")?;
        let (dx, dy) = value.split_once(',').ok_or_else(|| anyhow!("--offset {o}: expected DX_M,DY_M"))?;
        let id = lattice.find(name)?;
        let m = Misalignment { dx_m: number(dx, name)?, dy_m: number(dy, name)?, ..lattice.element(id).misalignment };
        lattice.set_misalignment(id, m)?;
    }
    for r in &args.rolls {
        let (name, value) = split(r, "--roll")?;
        let id = lattice.find(name)?;
        let m = Misalignment { roll_rad: number(value, name)?, ..lattice.element(id).misalignment };
        lattice.set_misalignment(id, m)?;
    }
    for a in &args.skews {
        let (name, value) = split(a, "--skew")?;
        let id = lattice.find(name)?;
        lattice.set_polynom_a(id, 1, number(value, name)?)?;
    }
    for f in &args.dipole_fields {
        let (name, value) = split(f, "--dipole-field")?;
        let id = lattice.find(name)?;
        lattice.set_dipole_field_error(id, number(value, name)?)?;
    }
    for s in &args.k1_scales {
        let (name, value) = split(s, "--k1-scale")?;
        let id = lattice.find(name)?;
        let k1 = lattice
            .element(id)
            .body()
            .and_then(|b| b.polynom_b.get(1).copied())
            .ok_or_else(|| anyhow!("{name} has no K1"))?;
        lattice.set_polynom_b(id, 1, k1 * number(value, name)?)?;
    }
    Ok(())
}

pub fn run(config: &Config, args: &ModelArgs) -> anyhow::Result<()> {
    let profile = Profile::load(&config.machine.profile)?;
    let mut lattice = load_lattice(&profile.name, args.lattice.as_ref().unwrap_or(&profile.files.lattice))?;
    apply_settings(&mut lattice, &profile.magnets, args)?;
    let optics = linear_optics_4d(&lattice, 0.0, None)?;
    let chromaticity = chromaticity_4d(&lattice, 0.0, Some(&optics.orbit.coords))?;
    let radiation = radiation_integrals(&lattice, &optics);
    let bpms = lattice.bpms();
    let (mut tunes, mut synchrotron_tune, mut delta) = (optics.tunes, None, 0.0);
    let mut six_d_orbit = None;
    if args.six_d {
        let six = tunes_6d(&lattice, Dynamics::SixDRadiation, None)?;
        tunes = [six.tunes[0], six.tunes[1]];
        synchrotron_tune = Some(six.tunes[2]);
        delta = six.orbit.coords[DELTA];
        // the orbit at every element entrance and the ring end, as the twin publishes it
        let mut along = vec![six.orbit.coords];
        along.extend(orbit_along(&lattice, &six.orbit.coords, Dynamics::SixDRadiation)?);
        six_d_orbit = Some(along);
    }
    // at the entrance of element i (for a BPM, a zero-length element, also its exit)
    let orbit_at = |i: usize| six_d_orbit.as_ref().map_or(optics.points[i].orbit, |o| o[i]);
    let rows = bpms
        .iter()
        .map(|&id| {
            let p = optics.at(id);
            let o = orbit_at(id.0);
            BpmRow {
                name: lattice.element(id).name.clone(),
                s: p.s_m,
                x: o[X],
                y: o[Y],
                beta_x: p.twiss[0].beta_m,
                beta_y: p.twiss[1].beta_m,
                alpha_x: p.twiss[0].alpha,
                alpha_y: p.twiss[1].alpha,
                mu_x: p.mu_rad[0],
                mu_y: p.mu_rad[1],
                eta_x: p.dispersion[0],
            }
        })
        .collect();
    let orm = if args.orm {
        let list: Vec<Corrector> = all_correctors(&lattice);
        let m = orbit_response(&lattice, &optics, &list, &bpms)?;
        Some(Orm {
            correctors: list.iter().map(|c| corrector_name(&lattice, &profile.magnets, c)).collect(),
            bpms: bpms.iter().map(|&b| lattice.element(b).name.clone()).collect(),
            x: m.x.row_iter().map(|r| r.iter().copied().collect()).collect(),
            y: m.y.row_iter().map(|r| r.iter().copied().collect()).collect(),
        })
    } else {
        None
    };
    let elements = args.elements.then(|| {
        (0..=lattice.len())
            .map(|i| {
                let o = orbit_at(i);
                let name = lattice.elements().get(i).map_or_else(|| "RING_END".to_string(), |e| e.name.clone());
                ElementRow { name, s: optics.points[i].s_m, x: o[X], y: o[Y] }
            })
            .collect()
    });
    let out = Output {
        tunes,
        tunes_total: optics.tunes_total(),
        synchrotron_tune,
        chromaticity,
        momentum_compaction: optics.momentum_compaction,
        emittance: radiation.emittance_m,
        energy_loss_ev: radiation.energy_loss_ev,
        delta,
        bpms: rows,
        orm,
        elements,
        coupled: match args.envelope {
            true => Some(coupled(&lattice, &optics, &bpms, six_d_orbit.as_ref().map(|o| o[0]))?),
            false => None,
        },
    };
    serde_json::to_writer(std::io::stdout().lock(), &out)?;
    println!();
    Ok(())
}

/// All steerers in lattice order (H and V interleaved as they stand).
pub fn all_correctors(lattice: &Lattice) -> Vec<Corrector> {
    let mut list: Vec<Corrector> = [Plane::Horizontal, Plane::Vertical]
        .into_iter()
        .flat_map(|p| lattice.steerers(p).into_iter().map(move |element| Corrector { element, plane: p }))
        .collect();
    list.sort_by_key(|c| (c.element, c.plane == Plane::Vertical));
    list
}

/// Device name of a corrector: the profile's steerer prefix + magnet name.
pub fn corrector_name(lattice: &Lattice, rules: &MagnetRules, c: &Corrector) -> String {
    let p = match c.plane {
        Plane::Horizontal => &rules.horizontal_steerer_prefix,
        Plane::Vertical => &rules.vertical_steerer_prefix,
    };
    format!("{p}{}", lattice.element(c.element).name)
}
