//! A service binary run as a real process on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::ports::free_port;

/// How long a service may take to report healthy.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running service process, killed when dropped. Its output goes to
/// `target/test-logs/{name}-{port}.log`.
pub struct ServiceProcess {
    name: String,
    port: u16,
    child: Child,
    log: PathBuf,
}

/// The path of a workspace binary, next to the test binary's `deps` folder.
pub fn binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .ancestors()
        .find(|dir| dir.join(name).is_file())
        .unwrap_or_else(|| panic!("binary {name} not found above {}", test_binary.display()));
    profile_dir.join(name)
}

impl ServiceProcess {
    /// Starts `binary` listening on a free port (SERVICE_HOST/PORT) with `env`
    /// added to this process's environment.
    pub fn start(binary: &Path, env: &[(String, String)]) -> Self {
        Self::start_on(binary, free_port(), env)
    }

    /// Starts `binary` on `port`, e.g. to restart it where it was.
    pub fn start_on(binary: &Path, port: u16, env: &[(String, String)]) -> Self {
        let name: String = binary
            .file_name()
            .map_or("service".into(), |n| n.to_string_lossy().into());
        let log = log_path(&name, port);
        let output = std::fs::File::create(&log).expect("creating the service log");
        let child = Command::new(binary)
            // Events to stdout only, unless a test asks for fluentd.
            .env("LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("SERVICE_HOST", "127.0.0.1")
            .env("SERVICE_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("sharing the log file"))
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
        Self {
            name,
            port,
            child,
            log,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:{port}`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `GET /healthcheck` answers 200. Panics with the service's
    /// log if it exits or takes longer than a minute.
    pub async fn wait_healthy(mut self) -> Self {
        let client = reqwest::Client::new();
        let url = format!("{}/healthcheck", self.url());
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before it was healthy:\n{}",
                    self.name,
                    self.log()
                );
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return self;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{} was not healthy within {START_TIMEOUT:?}:\n{}",
            self.name,
            self.log()
        );
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.exited().await
    }

    /// Sends SIGTERM and returns at once, to watch the service stop.
    pub fn send_sigterm(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Waits for the process to exit (after a SIGTERM).
    pub async fn exited(&mut self) -> ExitStatus {
        tokio::time::timeout(START_TIMEOUT, self.child.wait())
            .await
            .expect("the service exits after SIGTERM")
            .expect("waiting for the service")
    }

    /// Kills the process with SIGKILL: no chance to clean up.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("killing the service");
    }

    /// The file its stdout and stderr go to.
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// What the service has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.child.id() {
            let pid = Pid::from_raw(i32::try_from(pid).expect("a pid fits in i32"));
            kill(pid, signal).expect("signalling the service");
        }
    }
}

fn log_path(name: &str, port: u16) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-logs");
    std::fs::create_dir_all(&dir).expect("creating target/test-logs");
    dir.join(format!("{name}-{port}.log"))
}
