//! Physical constants: the only place they are defined. CODATA 2022 values
//! (as in scipy.constants 1.17, which pyAT uses), SI units.
use std::f64::consts::PI;

/// Speed of light in vacuum [m/s] (exact).
pub const SPEED_OF_LIGHT_M_PER_S: f64 = 299_792_458.0;
/// Electron rest energy m_e c² [eV] (CODATA 2022).
pub const ELECTRON_REST_ENERGY_EV: f64 = 0.510_998_950_69e6;
/// Classical electron radius r_e [m] (CODATA 2022).
pub const CLASSICAL_ELECTRON_RADIUS_M: f64 = 2.817_940_320_5e-15;
/// Reduced Planck constant times c, ħc [eV·m] (CODATA 2022: 197.326 980 459 3 MeV fm).
pub const HBAR_C_EV_M: f64 = 197.326_980_459_302_5e-9;

/// Sands' radiation constant C_γ = 4π r_e / (3 (m_e c²)³) [m/eV³].
pub fn c_gamma_m_per_ev3() -> f64 {
    4.0 * PI * CLASSICAL_ELECTRON_RADIUS_M / 3.0 / ELECTRON_REST_ENERGY_EV.powi(3)
}

/// Quantum constant C_q = 55/(32√3) ħc / (m_e c²) [m].
pub fn c_q_m() -> f64 {
    55.0 / 32.0 / 3f64.sqrt() * HBAR_C_EV_M / ELECTRON_REST_ENERGY_EV
}

/// Lorentz factor of an electron of total energy `energy_ev`.
pub fn electron_gamma(energy_ev: f64) -> f64 {
    energy_ev / ELECTRON_REST_ENERGY_EV
}

/// Magnetic rigidity Bρ = p/e [T·m] of an electron of total energy `energy_ev`.
pub fn electron_rigidity_tm(energy_ev: f64) -> f64 {
    let pc_ev = (energy_ev * energy_ev - ELECTRON_REST_ENERGY_EV * ELECTRON_REST_ENERGY_EV).sqrt();
    pc_ev / SPEED_OF_LIGHT_M_PER_S
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessy_rigidity() {
        // 1.7185 GeV -> 5.7323 T·m (machine notes)
        assert!((electron_rigidity_tm(1.7185e9) - 5.7323).abs() < 1e-4);
    }
}
