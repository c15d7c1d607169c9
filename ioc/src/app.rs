//! The IOC run: start EPICS, attach the Rust devices, serve until stopped.
use std::convert::Infallible;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use epics_pvxs_sys::Ioc;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::cli::IocOptions;
use crate::config::Config;
use crate::health::Health;
use crate::router::Router;
use crate::selftest::Selftest;
use crate::shutdown;
use crate::store::persister::{PersistMsg, PersistSender};
use crate::twin::service;

/// Runs the IOC until SIGTERM/SIGINT or the shell's `exit`, then exits the
/// process with status 0 through EPICS' exit handlers.
pub async fn run(opts: IocOptions) -> anyhow::Result<Infallible> {
    let started = Instant::now();
    let stop = shutdown::StopSignals::install().context("installing signal handlers")?;
    let config_file = service::config_path();
    let loaded = if config_file.exists() {
        let config = Config::load(&config_file)?;
        Some(service::load_from_store(config).await?)
    } else {
        tracing::warn!(config = %config_file.display(), "no twin configuration: serving only what st.cmd loads");
        None
    };
    let script_env = loaded.as_ref().map(|(m, _, _)| m.script_env()).unwrap_or_default();
    let initial = loaded.as_ref().map(|(m, _, _)| m.initial_record_values(&opts.prefix)).unwrap_or_default();
    let mut ioc = start_ioc(&opts, &script_env, &initial).await?;
    let writes = ioc.take_writes().ok_or_else(|| anyhow!("write stream already taken"))?;
    let ioc = Arc::new(ioc);
    tracing::info!(
        prefix = opts.prefix.as_str(),
        epics = epics_pvxs_sys::epics_version(),
        startup_ms = started.elapsed().as_millis() as u64,
        "IOC running"
    );
    let mut tasks = JoinSet::new();
    let health = Health::attach(&ioc, &opts.prefix).context("health PVs")?;
    tasks.spawn(health.run(started));
    let mut router = Router::default();
    if let Some(mut selftest) = Selftest::attach(&ioc, &opts.prefix).context("self-test PVs")? {
        tasks.spawn(selftest.ticker());
        router.add_selftest(selftest);
    }
    let mut persist = None;
    match loaded {
        Some((machine, store, outage)) if service::machine_records_loaded(&ioc, &opts.prefix)? => {
            persist = service::start(&ioc, &opts.prefix, machine, Some((store, outage)), &mut router, &mut tasks)
                .context("starting the twin")?;
            tracing::info!(ready_ms = started.elapsed().as_millis() as u64, "twin serving BESSY II");
        }
        Some((_, store, _)) => {
            tracing::info!("no machine records loaded: the twin model is not started");
            store.close().await;
        }
        None => {}
    }
    tasks.spawn(router.run(writes));
    let shell_exit = match std::io::stdin().is_terminal() {
        true => Some(spawn_shell(Arc::clone(&ioc)).context("starting the interactive iocsh")?),
        false => None,
    };
    tokio::select! {
        reason = stop.requested(shell_exit) => {
            tracing::info!(?reason, "shutting down");
            if let Some(tx) = persist {
                flush_store(&tx).await;
            }
            ioc.exit(0)
        }
        Some(done) = tasks.join_next() => {
            let err = match done {
                Ok(Ok(())) => anyhow!("a service task ended unexpectedly"),
                Ok(Err(e)) => e,
                Err(join) => anyhow!("a service task panicked: {join}"),
            };
            Err(err.context("the IOC cannot keep serving"))
        }
    }
}

/// Loads the DBD and runs the startup script (blocking EPICS calls).
/// Makes pending setpoints durable before exit (bounded wait).
async fn flush_store(tx: &PersistSender) {
    let (reply, done) = oneshot::channel();
    if tx.send(PersistMsg::Flush(reply)).is_err() {
        return;
    }
    match tokio::time::timeout(FLUSH_ON_EXIT, done).await {
        Ok(Ok(Ok(()))) => tracing::info!("store flushed"),
        Ok(Ok(Err(e))) => tracing::warn!("pending setpoints not stored at exit: {e}"),
        _ => tracing::warn!("store flush at exit timed out"),
    }
}

/// How long shutdown waits for the last flush.
const FLUSH_ON_EXIT: std::time::Duration = std::time::Duration::from_secs(3);

async fn start_ioc(
    opts: &IocOptions,
    script_env: &[(&'static str, String)],
    initial: &[(String, String)],
) -> anyhow::Result<Ioc> {
    let mut env = Vec::new();
    if std::env::var_os("PVXS_QSRV_ENABLE").is_none() {
        env.push(("PVXS_QSRV_ENABLE", "YES"));
    }
    let prepared = epics_pvxs_sys::prepare(&env).context("preparing the IOC core")?;
    prepared.set_env("P", opts.prefix.as_str())?;
    for (name, value) in script_env {
        prepared.set_env(name, value)?;
    }
    for (record, value) in initial {
        prepared.set_initial_value(record, "VAL", value)?;
    }
    let macros = format!("P={}", opts.prefix.as_str());
    let script = opts.st_cmd.clone();
    let ioc = tokio::task::spawn_blocking(move || prepared.run_script(&script, &macros))
        .await
        .context("startup script thread")?
        .with_context(|| format!("running {}", opts.st_cmd.display()))?;
    Ok(ioc)
}

/// The interactive iocsh on its own thread; reports when the user leaves it.
fn spawn_shell(ioc: Arc<Ioc>) -> std::io::Result<oneshot::Receiver<()>> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new().name("iocsh".into()).spawn(move || {
        ioc.interactive_shell();
        // The receiver only goes away when the twin is stopping anyway.
        let _ = tx.send(());
    })?;
    Ok(rx)
}
