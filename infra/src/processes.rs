//! Child processes of the local stack (moto and the instances of the six functions): started with
//! their own environment, their output copied line by line to `.local/logs/<name>.log` (one file
//! per function, shared by its instances, each line written whole) and to the console (prefixed
//! with the instance), restarted when they exit (as Lambda starts a new execution environment),
//! and killed when the stack stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Mutex};

use crate::runtime::Runtime;

/// How to start one process.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Name for logs (`.local/logs/<name>.log`).
    pub name: String,
    /// Which instance of `name` this is (shown on the console; the log file has no prefix, its
    /// lines stay the function's own JSON).
    pub instance: usize,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its whole environment (nothing is inherited but `PATH` and `HOME`).
    pub env: Vec<(String, String)>,
    /// Whether to copy its output to the console too.
    pub echo: bool,
}

/// A log file shared by every instance of one process name: one writer at a time, whole lines.
pub type SharedLog = Arc<Mutex<tokio::fs::File>>;

/// Opens (appending) `log_dir/<name>.log`.
///
/// # Errors
/// When the file cannot be opened.
pub async fn open_log(log_dir: &Path, name: &str) -> anyhow::Result<SharedLog> {
    let log_path = log_dir.join(format!("{name}.log"));
    let log = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .await
        .with_context(|| format!("opening {}", log_path.display()))?;
    Ok(Arc::new(Mutex::new(log)))
}

/// Starts `spec`, copying its output to `log_dir/<name>.log` (appending) and, if asked, the
/// console.
///
/// # Errors
/// When the log file or the process cannot be created.
pub async fn spawn(spec: &ProcessSpec, log_dir: &Path) -> anyhow::Result<Child> {
    spawn_logging_to(spec, &open_log(log_dir, &spec.name).await?)
}

/// Starts `spec`, copying its output to `log` and, if asked, the console.
///
/// # Errors
/// When the process cannot be created.
pub fn spawn_logging_to(spec: &ProcessSpec, log: &SharedLog) -> anyhow::Result<Child> {
    let mut command = Command::new(&spec.program);
    command.args(&spec.args).env_clear().stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    for name in ["PATH", "HOME"] {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    command.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let mut child = command.spawn().with_context(|| format!("starting {}", spec.program.display()))?;
    let streams: [Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    ];
    for stream in streams.into_iter().flatten() {
        let log = Arc::clone(log);
        let name = format!("{}#{}", spec.name, spec.instance);
        let echo = spec.echo;
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log.lock().await.write_all(format!("{line}\n").as_bytes()).await;
                if echo {
                    let _ = tokio::io::stdout().write_all(format!("{name:>11} | {line}\n").as_bytes()).await;
                }
            }
        });
    }
    Ok(child)
}

/// Keeps one function instance running until `shutdown` turns true, restarting it one second
/// after it exits, and tells the runtime when it is down.
pub async fn supervise(
    spec: ProcessSpec,
    log: SharedLog,
    runtime: Arc<Runtime>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut child = match spawn_logging_to(&spec, &log) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(function = %spec.name, instance = spec.instance, error = format!("{error:#}"), "Could not start function");
                return;
            }
        };
        let status = tokio::select! {
            status = child.wait() => status,
            _ = shutdown.changed() => {
                let _ = child.kill().await;
                return;
            }
        };
        runtime.mark_down(&spec.name, spec.instance);
        // On Ctrl-C the terminal signals the children too: wait a moment so that a shutdown
        // in progress is not reported as a crash.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                tracing::warn!(function = %spec.name, instance = spec.instance, status = ?status.ok(), "Function exited; restarted");
            }
            _ = shutdown.changed() => return,
        }
    }
}
