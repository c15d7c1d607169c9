//! The IOC run: start EPICS, attach the Rust devices, serve until stopped.
use std::convert::Infallible;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use epics_pvxs_sys::Ioc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::core::{Command, Core, CoreHandle, Journal, Start};
use crate::health::Health;
use crate::http;
use crate::machine::Machine;
use crate::prefix::Prefix;
use crate::publish;
use crate::putlog::PutLog;
use crate::router::Router;
use crate::selftest::Selftest;
use crate::shadow::Shadow;
use crate::shutdown;
use crate::sofb::Sofb;
use crate::startup::{self, Loaded};
use crate::store::persister::{self, Control};
use crate::store::status::StoreFields;
use crate::store::{Backend, Store};

/// How long shutdown waits for the last flush.
const FLUSH_ON_EXIT: Duration = Duration::from_secs(3);

/// Runs the IOC from `st_cmd` until SIGTERM/SIGINT or the shell's `exit`,
/// then exits the process with status 0 through EPICS' exit handlers.
pub async fn run(config: Config, st_cmd: std::path::PathBuf) -> anyhow::Result<Infallible> {
    let started = Instant::now();
    let stop = shutdown::StopSignals::install().context("installing signal handlers")?;
    let prefix = Prefix::new(config.prefix.clone());
    let loaded = match config.machine.profile.exists() {
        true => Some(startup::load(&config).await?),
        false => {
            tracing::warn!(profile = %config.machine.profile.display(), "no machine profile: serving only what st.cmd loads");
            None
        }
    };
    let twin = loaded.map(|l| Twin::new(l, &config)).transpose()?;
    let mut ioc = start_ioc(&config, &prefix, &st_cmd, twin.as_ref()).await?;
    let writes = ioc.take_writes().ok_or_else(|| anyhow!("write stream already taken"))?;
    let puts = ioc.take_puts().ok_or_else(|| anyhow!("put-log stream already taken"))?;
    let ioc = Arc::new(ioc);
    tracing::info!(
        prefix = prefix.as_str(),
        epics = epics_pvxs_sys::epics_version(),
        startup_ms = started.elapsed().as_millis() as u64,
        "IOC running"
    );
    let mut tasks = JoinSet::new();
    let metrics = Arc::new(http::Metrics::default());
    tasks.spawn(Health::attach(&ioc, &prefix, Arc::clone(&metrics)).context("health PVs")?.run(started));
    let mut router = Router::default();
    if let Some(mut selftest) = Selftest::attach(&ioc, &prefix).context("self-test PVs")? {
        tasks.spawn(selftest.ticker());
        router.add_selftest(selftest);
    }
    let mut flush = None;
    let mut put_journal = None;
    let (http_puts, http_puts_rx) = unbounded_channel();
    if let Some(twin) = twin {
        if startup::machine_records_loaded(&ioc, &prefix, &twin.machine)? {
            put_journal = Some(twin.journal_tx.clone());
            if config.http.enabled {
                let listener = http::bind(&config.http).await?;
                let state = http::state(
                    &twin.handle,
                    &twin.machine,
                    twin.lattice_doc.clone(),
                    &config.access,
                    &prefix,
                    http::Outlets {
                        put_log: http_puts,
                        store: Some(twin.store.reader()),
                        metrics: Arc::clone(&metrics),
                    },
                );
                tasks.spawn(Arc::clone(&state.metrics).follow(twin.handle.snapshots.clone()));
                tasks.spawn(http::serve(listener, http::router(state, config.http.max_body_bytes)));
                tracing::info!(addr = %config.http.addr, "HTTP API serving");
            }
            flush = Some(twin.serve(&ioc, &prefix, &config, &mut router, &mut tasks, metrics)?);
            tracing::info!(ready_ms = started.elapsed().as_millis() as u64, "twin serving the machine");
        } else {
            tracing::info!("no machine records loaded: the twin model is not started");
            twin.store.close().await;
        }
    }
    tasks.spawn(PutLog::attach(&ioc, &prefix, put_journal).context("put-log PVs")?.run(puts, http_puts_rx));
    // on the path of every write: a thread of its own
    crate::threads::on_own_thread("twin-router", router.run(writes), &mut tasks)?;
    let shell_exit = match std::io::stdin().is_terminal() {
        true => Some(spawn_shell(Arc::clone(&ioc)).context("starting the interactive iocsh")?),
        false => None,
    };
    tokio::select! {
        reason = stop.requested(shell_exit) => {
            tracing::info!(?reason, "shutting down");
            if let Some(tx) = flush {
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

/// The twin before the IOC runs: the loaded machine, its model core (built
/// first, so the records start from its state) and the store.
struct Twin {
    machine: Machine,
    core: Core,
    handle: CoreHandle,
    store: Store,
    outage: Option<String>,
    journal: UnboundedReceiver<Journal>,
    /// More writers of the journal (the put log).
    journal_tx: UnboundedSender<Journal>,
    /// The lattice document as stored (the HTTP API serves it).
    lattice_doc: serde_json::Value,
    notices: Vec<String>,
}

impl Twin {
    fn new(loaded: Loaded, config: &Config) -> anyhow::Result<Self> {
        let Loaded { machine, lattice_doc, store, outage, restored, generated, notices } = loaded;
        let (journal_tx, journal) = unbounded_channel();
        let start = Start {
            machine: &machine,
            config,
            restored: &restored,
            generated: &generated,
            journal: Some(journal_tx.clone()),
        };
        let (core, handle) = Core::new(start)?;
        Ok(Self { machine, core, handle, store, outage, journal, journal_tx, lattice_doc, notices })
    }

    /// Starts the persister, the publishers, the core and its clock, and
    /// routes the machine's writes to the core. Returns the persister's control.
    fn serve(
        self,
        ioc: &Arc<Ioc>,
        prefix: &Prefix,
        config: &Config,
        router: &mut Router,
        tasks: &mut JoinSet<anyhow::Result<()>>,
        metrics: Arc<http::Metrics>,
    ) -> anyhow::Result<UnboundedSender<Control>> {
        let Twin { machine, core, handle, store, outage, journal, notices, .. } = self;
        let initial = core.initial_values();
        let backend = Backend::from_config(&config.store).describe();
        let fields = StoreFields::attach(ioc, prefix, &backend, &notices).context("store status PVs")?;
        let (control_tx, control_rx) = unbounded_channel();
        let sinks = (fields, metrics);
        tasks.spawn(persister::run(store, journal, control_rx, config.store.clone(), sinks, outage));
        publish::spawn(ioc, prefix, &machine, config, &handle, &initial, tasks)?;
        let sofb = Sofb::attach(ioc, prefix, &machine, config.diagnostics.seed).context("the slow orbit feedback")?;
        tasks.spawn(sofb.run(handle.clone()));
        if config.shadow.enabled() {
            let shadow = Shadow::attach(ioc, prefix, &machine, &config.shadow).context("shadow mode")?;
            tasks.spawn(shadow.run(handle.clone()));
        }
        router.add_machine(ioc, prefix, &machine, handle.commands.clone())?;
        let core = core.spawn().context("model core thread")?;
        tasks.spawn(async move {
            let joined = tokio::task::spawn_blocking(move || core.join()).await?;
            joined.map_err(|_| anyhow!("the model core panicked"))??;
            anyhow::bail!("the model core stopped")
        });
        tasks.spawn(clock(handle.commands, Duration::from_secs_f64(config.beam.update_period_s)));
        Ok(control_tx)
    }
}

/// The core's clock: the beam advances every period.
async fn clock(core: std::sync::mpsc::Sender<Command>, period: Duration) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        core.send(Command::Tick).map_err(|_| anyhow!("the model core is gone"))?;
    }
}

/// Makes pending setpoints durable before exit (bounded wait).
async fn flush_store(tx: &UnboundedSender<Control>) {
    let (reply, done) = oneshot::channel();
    if tx.send(Control::Flush(reply)).is_err() {
        return;
    }
    match tokio::time::timeout(FLUSH_ON_EXIT, done).await {
        Ok(Ok(Ok(()))) => tracing::info!("store flushed"),
        Ok(Ok(Err(e))) => tracing::warn!("pending setpoints not stored at exit: {e}"),
        _ => tracing::warn!("store flush at exit timed out"),
    }
}

/// Loads the DBD and runs the startup script (blocking EPICS calls).
async fn start_ioc(
    config: &Config,
    prefix: &Prefix,
    st_cmd: &std::path::Path,
    twin: Option<&Twin>,
) -> anyhow::Result<Ioc> {
    let env = config.ioc_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let prepared = epics_pvxs_sys::prepare(&env).context("preparing the IOC core")?;
    prepared.set_env("P", prefix.as_str())?;
    // TOP: the directory twin-ioc runs in, absolute (asLib wants absolute paths)
    let top = std::env::current_dir().context("the working directory")?;
    prepared.set_env("TOP", &top.display().to_string())?;
    let acf = crate::access::acf_file(&config.access, &top)?;
    tracing::info!(file = %acf.display(), read_only = config.access.read_only, "access security");
    prepared.set_env("TWIN_ACF", &acf.display().to_string())?;
    if let Some(t) = twin {
        prepared.set_env("TWIN_DB", &t.machine.profile.files.records.display().to_string())?;
        for (record, value) in startup::initial_record_values(&t.machine, &t.core.initial_values(), prefix) {
            prepared.set_initial_value(&record, "VAL", &value)?;
        }
    }
    let macros = format!("P={}", prefix.as_str());
    let script = st_cmd.to_path_buf();
    let ioc = tokio::task::spawn_blocking(move || prepared.run_script(&script, &macros))
        .await
        .context("startup script thread")?
        .with_context(|| format!("running {}", st_cmd.display()))?;
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
