//! Names no other test uses, so tests run in parallel on one broker and server.

use uuid::Uuid;

/// `{prefix}_{random}`: lower case, a valid database, exchange or queue name.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}
