//! The outside programs some tests drive: schemathesis and the OpenAPI
//! validator (PyPI, in the project's virtualenv), Chromium and Prometheus
//! (Debian's packages). `scripts/test-tools.sh`, which `./test.sh` runs,
//! installs them; a test that needs one fails, naming the script, when it
//! is missing, rather than pass without checking anything.

use std::path::{Path, PathBuf};

/// A program from the project's virtualenv (`$RSDIST_TOOLS_DIR/venv/bin`,
/// default `target/tools/venv/bin`).
pub fn python_tool(name: &str) -> PathBuf {
    let tools = std::env::var_os("RSDIST_TOOLS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools"),
        PathBuf::from,
    );
    existing(tools.join("venv/bin").join(name))
}

/// A program on PATH.
pub fn system_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    existing(found.unwrap_or_else(|| PathBuf::from(name)))
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test-tools.sh (./test.sh does)",
        path.display()
    );
    path
}
