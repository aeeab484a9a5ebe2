//! The compose cluster on a real Docker engine, under container faults:
//! `./test.sh --compose` builds the images, brings the cluster up from
//! nothing with the fake Coinbase, runs the black-box suite against the
//! published ports, then these tests one at a time (they kill, stop and cut
//! containers of the one shared cluster), and removes everything after.
//! They are ignored by a plain `cargo test`, which has no cluster to use.

mod compose;
mod faults;
mod images;
mod ledger;
mod replicas;
