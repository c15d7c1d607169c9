//! `twin-ioc`: the BESSY II digital twin, an EPICS IOC.
#![forbid(unsafe_code)]
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use twin_ioc::cli::{Cli, Command};
use twin_ioc::machine::{bba_substitutions, power_converter_substitutions};
use twin_ioc::store::transfer;
use twin_ioc::twin::service::{self, Machine};
use twin_ioc::{app, model_cli};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Model(args)) => model_cli::run(args),
        Some(Command::Substitutions { bba }) => print_substitutions(*bba),
        Some(Command::Import { lattice }) => block_on(transfer::import(&service::config_path(), lattice.clone())),
        Some(Command::Export { out }) => block_on(transfer::export(&service::config_path(), out)),
        None => run_ioc(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on(f: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f)
}

fn print_substitutions(bba: bool) -> anyhow::Result<()> {
    let machine = Machine::load(&service::config_path())?;
    match bba {
        false => print!("{}", power_converter_substitutions(&machine.schema)),
        true => print!("{}", bba_substitutions(&machine.schema)),
    }
    Ok(())
}

fn run_ioc(cli: &Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    match runtime.block_on(app::run(cli.ioc_options()))? {}
}
