//! Free loopback ports for services under test.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};
use uuid::Uuid;

/// Ports are drawn below the kernel's ephemeral range (32768 and up on Linux),
/// so the source port of some outgoing connection cannot take a port between
/// the moment it is chosen and the moment the service binds it.
const RANGE: std::ops::Range<u16> = 20_000..32_000;

/// The claims this process holds, one locked file per port.
static CLAIMS: Mutex<Vec<Flock<File>>> = Mutex::new(Vec::new());

/// A port that is free now and that no other test process, nor this one,
/// has been handed. nextest runs each test in a process of its own, so a
/// port is claimed across processes: a port one test has chosen but whose
/// service has not bound it yet looks free to every other test.
pub fn free_port() -> u16 {
    loop {
        // A random start keeps parallel test processes apart.
        let span = u128::from(RANGE.end - RANGE.start);
        let offset = u16::try_from(Uuid::new_v4().as_u128() % span).expect("below the span");
        let port = RANGE.start + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && claim(port) {
            return port;
        }
    }
}

/// Takes an exclusive lock on a file named after `port`, kept until this
/// process exits (the kernel lets go of it then, however the process ends);
/// false if another claim holds it.
fn claim(port: u16) -> bool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-ports");
    std::fs::create_dir_all(&dir).expect("creating target/test-ports");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))
        .expect("opening a port's claim file");
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(claim) => {
            CLAIMS.lock().unwrap_or_else(|p| p.into_inner()).push(claim);
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second claim opens the file anew, as another test process would:
    /// the lock of the first keeps it out.
    #[test]
    fn a_port_handed_out_cannot_be_claimed_again() {
        let port = free_port();
        assert!(!claim(port), "port {port} was claimed twice");
        assert_ne!(free_port(), port);
    }
}
