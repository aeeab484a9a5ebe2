//! Free loopback ports for services under test.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

use uuid::Uuid;

/// Ports are drawn below the kernel's ephemeral range (32768 and up on Linux),
/// so the source port of some outgoing connection cannot take a port between
/// the moment it is chosen and the moment the service binds it.
const RANGE: std::ops::Range<u16> = 20_000..32_000;

/// A port that is free now and that this process has not handed out before.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    loop {
        // A random start keeps parallel test processes apart.
        let span = u128::from(RANGE.end - RANGE.start);
        let offset = u16::try_from(Uuid::new_v4().as_u128() % span).expect("below the span");
        let port = RANGE.start + offset;
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
}
