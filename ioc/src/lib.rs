//! The BESSY II digital twin IOC: devices and services behind `twin-ioc`.
#![forbid(unsafe_code)]
pub mod app;
pub mod cli;
pub mod config;
pub mod health;
pub mod machine;
pub mod model_cli;
pub mod prefix;
pub mod router;
pub mod selftest;
pub mod shutdown;
pub mod store;
pub mod twin;
