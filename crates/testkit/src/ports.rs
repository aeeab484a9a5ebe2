//! Free loopback ports for services under test.

use std::net::TcpListener;

/// A port that was free a moment ago. The OS hands out ephemeral ports in
/// turn, so a port freed here is not handed out again soon.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding a loopback port")
}
