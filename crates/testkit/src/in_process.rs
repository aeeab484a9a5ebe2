//! A service run inside the test process: its `App` built on port 0 and run
//! on the test's runtime, so that handler-level tests need no binary built
//! beforehand and start in milliseconds. The process-based `service` and
//! `cluster` remain for what needs a real process (signals, crashes).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use platform::config::Env;
use tokio::sync::oneshot;

/// A running service; it is shut down when dropped.
pub struct InProcess {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    /// Runs a service listening on `addr` (its `App::local_addr()`): `run`
    /// is its `App::run`, given the shutdown future.
    pub fn spawn<Run, Served>(addr: SocketAddr, run: Run) -> Self
    where
        Run: FnOnce(Shutdown) -> Served,
        Served: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let shutdown = Shutdown(stopped);
        let task = tokio::spawn(run(shutdown));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Waits until `GET /healthcheck` answers 200 (or panics after a minute).
    pub async fn wait_healthy(self) -> Self {
        let url = format!("{}/healthcheck", self.url());
        let client = reqwest::Client::new();
        for _ in 0..600 {
            let answer = client.get(&url).send().await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return self;
            }
            assert!(!self.task.is_finished(), "the service at {url} stopped");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{url} never became healthy");
    }
}

/// `vars` and a free loopback port to listen on (`SERVICE_PORT=0`), as a
/// service's config source; with the development API key, which the
/// migration service installs and the test's [`crate::Api`] sends.
pub fn listening(mut vars: Vec<(String, String)>) -> Env {
    vars.push(("SERVICE_HOST".into(), "127.0.0.1".into()));
    vars.push(("SERVICE_PORT".into(), "0".into()));
    vars.push(("DEV_API_KEY".into(), crate::settings::dev_api_key()));
    Env::from_pairs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// `{prefix}_PROTOCOL`, `_HOST` and `_PORT` pointing at `service`.
pub fn upstream(prefix: &str, service: &InProcess) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}_PROTOCOL"), "http".into()),
        (format!("{prefix}_HOST"), "127.0.0.1".into()),
        (format!("{prefix}_PORT"), service.port().to_string()),
    ]
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// The shutdown future handed to a service's `run`.
pub struct Shutdown(oneshot::Receiver<()>);

impl Future for Shutdown {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(drop)
    }
}
