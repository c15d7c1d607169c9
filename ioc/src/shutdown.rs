//! What ends the IOC: SIGTERM, SIGINT, or the interactive shell's `exit`.
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::oneshot;

/// Why the twin stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Terminate,
    Interrupt,
    ShellExit,
}

/// SIGTERM and SIGINT, caught from the moment they are installed (a signal
/// during start-up is kept until `requested` looks, instead of killing the
/// process with the default action).
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    /// Resolves with the first stop request.
    pub async fn requested(mut self, shell_exit: Option<oneshot::Receiver<()>>) -> StopReason {
        let shell = async {
            match shell_exit {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => StopReason::Terminate,
            _ = self.int.recv() => StopReason::Interrupt,
            () = shell => StopReason::ShellExit,
        }
    }
}
