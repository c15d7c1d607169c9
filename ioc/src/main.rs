//! `twin-ioc`: a digital twin of a storage ring, an EPICS IOC.
#![forbid(unsafe_code)]
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use twin_ioc::cli::{Cli, Command};
use twin_ioc::config::{Config, Environment};
use twin_ioc::store::transfer;
use twin_ioc::threads::{self, EpicsScheduling, Pool};
use twin_ioc::{app, model_cli, ops_cli, records_cli};

/// The model computation allocates its maps along the ring (about 1 MB)
/// on every write; glibc's malloc hands blocks that large back to the
/// kernel and page-faults them in again each time (a quarter of the
/// computation's time), mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config::load(&Environment::capture(), &cli.overrides());
    let filter = config.as_ref().map_or("info", |c| c.log.as_str());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = config.map_err(anyhow::Error::from).and_then(|config| match &cli.command {
        Some(Command::Model(args)) => model_cli::run(&config, args),
        Some(Command::Records { out }) => records_cli::run(&config, out.as_deref()),
        Some(Command::Ops { out, expand_prefix }) => ops_cli::run(&config, out.as_deref(), expand_prefix.as_deref()),
        Some(Command::Import { lattice }) => block_on(transfer::import(&config, lattice.as_deref())),
        Some(Command::Export { out }) => block_on(transfer::export(&config, out)),
        None => run_ioc(config, &cli),
    });
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

fn run_ioc(config: Config, cli: &Cli) -> anyhow::Result<()> {
    match threads::ordinary_epics_threads()? {
        EpicsScheduling::MadeOrdinary => tracing::info!("EPICS threads at ordinary priority (CAP_SYS_NICE given up)"),
        EpicsScheduling::AlreadyOrdinary => tracing::debug!("EPICS threads at ordinary priority"),
    }
    match threads::build_pool()? {
        Pool::Pinned(cores) => tracing::info!("model computation on {cores} pinned workers"),
        Pool::Unpinned => tracing::info!("model computation on rayon's default pool (cores unknown, not pinned)"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    match runtime.block_on(app::run(config, cli.st_cmd.clone()))? {}
}
