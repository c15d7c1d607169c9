//! Where the IOC's servers listen, when the configuration says so. Unset
//! values leave EPICS to its own variables (`EPICS_CAS_INTF_ADDR_LIST`,
//! `EPICS_CA_SERVER_PORT`, `EPICS_PVAS_*`, ...), as every IOC does.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EpicsNetwork {
    /// Address the CA and PVA servers bind and send beacons to; also the
    /// only address their clients search (no automatic lists).
    pub interface: Option<String>,
    /// Channel Access server port (TCP and UDP).
    pub ca_port: Option<u16>,
    /// PV Access server port.
    pub pva_port: Option<u16>,
    /// PV Access UDP search/broadcast port.
    pub pva_broadcast_port: Option<u16>,
}

impl EpicsNetwork {
    /// Loopback only, on the given ports: what tests and a private twin use.
    pub fn loopback(ca_port: u16, pva_port: u16, pva_broadcast_port: u16) -> Self {
        Self {
            interface: Some("127.0.0.1".into()),
            ca_port: Some(ca_port),
            pva_port: Some(pva_port),
            pva_broadcast_port: Some(pva_broadcast_port),
        }
    }

    /// The EPICS variables these settings stand for (none when unset).
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(addr) = &self.interface {
            for var in ["EPICS_CAS_INTF_ADDR_LIST", "EPICS_CAS_BEACON_ADDR_LIST", "EPICS_CA_ADDR_LIST"] {
                env.push((var, addr.clone()));
            }
            for var in ["EPICS_PVAS_INTF_ADDR_LIST", "EPICS_PVAS_BEACON_ADDR_LIST", "EPICS_PVA_ADDR_LIST"] {
                env.push((var, addr.clone()));
            }
            for var in [
                "EPICS_CAS_AUTO_BEACON_ADDR_LIST",
                "EPICS_CA_AUTO_ADDR_LIST",
                "EPICS_PVAS_AUTO_BEACON_ADDR_LIST",
                "EPICS_PVA_AUTO_ADDR_LIST",
            ] {
                env.push((var, "NO".into()));
            }
        }
        if let Some(p) = self.ca_port {
            env.push(("EPICS_CA_SERVER_PORT", p.to_string()));
            env.push(("EPICS_CAS_SERVER_PORT", p.to_string()));
        }
        if let Some(p) = self.pva_port {
            env.push(("EPICS_PVAS_SERVER_PORT", p.to_string()));
            env.push(("EPICS_PVA_SERVER_PORT", p.to_string()));
        }
        if let Some(p) = self.pva_broadcast_port {
            env.push(("EPICS_PVAS_BROADCAST_PORT", p.to_string()));
            env.push(("EPICS_PVA_BROADCAST_PORT", p.to_string()));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_leaves_epics_alone_and_loopback_names_every_list() {
        assert!(EpicsNetwork::default().server_env().is_empty());
        let env = EpicsNetwork::loopback(5064, 5075, 5076).server_env();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("EPICS_CAS_INTF_ADDR_LIST"), Some("127.0.0.1"));
        assert_eq!(get("EPICS_PVA_AUTO_ADDR_LIST"), Some("NO"));
        assert_eq!(get("EPICS_CA_SERVER_PORT"), Some("5064"));
        assert_eq!(get("EPICS_PVAS_BROADCAST_PORT"), Some("5076"));
    }
}
