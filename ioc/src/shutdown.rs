//! What ends the IOC: SIGTERM, SIGINT, or the interactive shell's `exit`.
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// Why the twin stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Terminate,
    Interrupt,
    ShellExit,
}

/// Resolves with the first stop request.
pub async fn requested(shell_exit: Option<oneshot::Receiver<()>>) -> std::io::Result<StopReason> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let shell = async {
        match shell_exit {
            Some(rx) => {
                let _ = rx.await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    Ok(tokio::select! {
        _ = term.recv() => StopReason::Terminate,
        _ = int.recv() => StopReason::Interrupt,
        () = shell => StopReason::ShellExit,
    })
}
