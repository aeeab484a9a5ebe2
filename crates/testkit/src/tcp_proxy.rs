//! A loopback TCP proxy whose connections a test can cut, to show what a
//! service does when its broker goes away and comes back, without touching
//! the broker that other tests share.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A running proxy to one upstream; it stops when dropped.
pub struct TcpProxy {
    port: u16,
    state: Arc<State>,
    accepting: tokio::task::JoinHandle<()>,
}

struct State {
    upstream: SocketAddr,
    open: AtomicBool,
    /// Cancelled to drop every connection made before a cut.
    connections: Mutex<CancellationToken>,
    /// Cancelled to stop forwarding on every connection made before a silence.
    forwarding: Mutex<CancellationToken>,
}

impl TcpProxy {
    /// Starts forwarding a free loopback port to `host`:`port`.
    pub async fn start(host: &str, port: u16) -> Self {
        let upstream = (host, port)
            .to_socket_addrs()
            .expect("resolving the proxy's upstream")
            .next()
            .expect("the upstream host resolves");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let state = Arc::new(State {
            upstream,
            open: AtomicBool::new(true),
            connections: Mutex::new(CancellationToken::new()),
            forwarding: Mutex::new(CancellationToken::new()),
        });
        let accepting = tokio::spawn(accept(listener, state.clone()));
        Self {
            port,
            state,
            accepting,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        renew(&self.state.connections);
    }

    /// Keeps every open connection but carries nothing more on it, as a
    /// network that drops packets does, and refuses new ones until
    /// [`TcpProxy::restore`]. The silent connections stay open until a cut.
    pub fn silence(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        renew(&self.state.forwarding);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

/// Cancels the token in `slot`, and puts a fresh one there for later connections.
fn renew(slot: &Mutex<CancellationToken>) {
    let mut token = slot.lock().unwrap_or_else(|p| p.into_inner());
    token.cancel();
    *token = CancellationToken::new();
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    while let Ok((client, _)) = listener.accept().await {
        if !state.open.load(Ordering::SeqCst) {
            continue; // dropping the socket refuses the connection
        }
        let current = |slot: &Mutex<CancellationToken>| {
            slot.lock().unwrap_or_else(|p| p.into_inner()).clone()
        };
        let (cut, silenced) = (current(&state.connections), current(&state.forwarding));
        tokio::spawn(forward(client, state.upstream, cut, silenced));
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    cut: CancellationToken,
    silenced: CancellationToken,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = cut.cancelled() => {}
        // Both sockets stay open, carrying nothing, until a cut.
        _ = silenced.cancelled() => cut.cancelled().await,
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}
