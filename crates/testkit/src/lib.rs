//! Test support on real backing services: the settings of the PostgreSQL and
//! RabbitMQ that `scripts/backing-services.sh` started (`settings`), fresh
//! databases per test (`database`), unique queue names (`names`), free ports
//! (`ports`), service binaries run as processes (`service`), the whole
//! cluster on fresh databases and queues (`cluster`), a fluentd stand-in that
//! decodes what the services ship (`fluent_receiver`), services run inside
//! the test process (`in_process`), a service's `/metrics` read as numbers
//! (`metrics`), a proxy whose
//! connections a test can cut (`tcp_proxy`), the outside programs some
//! tests drive (`tools`: schemathesis, Chromium, Prometheus), the
//! Kubernetes manifests as an overlay renders them (`kubernetes`), YAML's
//! scalars as text (`yaml`), and the
//! one stand-in, a fake Coinbase served over real HTTP (`fake_coinbase`).

pub mod api;
pub mod cluster;
pub mod database;
pub mod fake_coinbase;
pub mod fluent_receiver;
pub mod in_process;
pub mod kubernetes;
pub mod metrics;
pub mod names;
pub mod ports;
pub mod service;
pub mod settings;
pub mod tcp_proxy;
pub mod tools;
pub mod yaml;

pub use api::{Api, Reply};
pub use cluster::Cluster;
pub use database::TestDatabase;
pub use fake_coinbase::FakeCoinbase;
pub use fluent_receiver::FluentReceiver;
pub use in_process::InProcess;
pub use service::ServiceProcess;
