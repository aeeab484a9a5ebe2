//! The compose cluster on a real Docker engine, under container faults:
//! `./test.sh --compose` builds the images, brings the cluster up from
//! nothing with the fake Coinbase, runs the black-box suite against the
//! published ports, then these tests one at a time (they kill, stop and cut
//! containers of the one shared cluster), and removes everything after.
//! `ha` and `ha_stores` are the HA cluster's (`./test.sh --ha`), which the
//! compose suite leaves out, and which leaves out the others.
//! They are ignored by a plain `cargo test`, which has no cluster to use.

mod compose;
mod faults;
mod follow_order;
mod ha;
mod ha_stores;
mod images;
mod kubernetes;
mod ledger;
mod replicas;
