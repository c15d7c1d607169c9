//! A digital twin of a storage ring served as an EPICS IOC: the devices
//! and services behind `twin-ioc`.
//!
//! Module layers (each uses only those above it; no import circles):
//! `names`, `prefix`, `config` → `access`, `profile` → `machine` → `records`,
//! `core` → `ops`, `store` → `publish`, `sofb`, `putlog`, `selftest`, `health` →
//! `router` → `startup`, `model_cli`, `records_cli`, `ops_cli` → `app`.
#![forbid(unsafe_code)]
pub mod access;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod health;
pub mod http;
pub mod machine;
pub mod model_cli;
pub mod names;
pub mod ops;
pub mod ops_cli;
pub mod prefix;
pub mod profile;
pub mod publish;
pub mod putlog;
pub mod records;
pub mod records_cli;
pub mod router;
pub mod selftest;
pub mod shadow;
pub mod shutdown;
pub mod sofb;
pub mod startup;
pub mod store;
pub mod threads;
