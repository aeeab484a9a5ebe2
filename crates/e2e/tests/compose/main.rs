//! docker-compose.yml checked without a Docker engine: every variable a Rust
//! service reads from its environment that `.env` defines is set for it, and
//! every host and port it is given names another service and that service's
//! port. Wiring mistakes of this kind otherwise show only when the cluster
//! runs. The Kubernetes manifests get the same checks and more
//! (`kubernetes`).

mod kubernetes;

use std::collections::{BTreeMap, BTreeSet};

use platform::config::{ConfigError, Env};
use platform::telemetry::fluentd::FluentdConfig;
use testkit::settings::dotenv;
use testkit::yaml::{scalar, string_map};
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Where each infrastructure service listens inside the network.
const INFRASTRUCTURE_PORTS: [(&str, &str); 4] = [
    ("write_model", "5432"),
    ("read_model", "5432"),
    ("queue", "5672"),
    ("log", "24224"),
];

/// Hosts outside the cluster.
const THIRD_PARTY_HOSTS: [&str; 1] = ["CB_HOST"];

/// `${NAME}` and `${NAME:-default}` replaced from `.env`, as compose does.
fn interpolate(text: &str, variables: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closing brace") + start;
        let expression = &rest[start + 2..end];
        let (name, default) = expression.split_once(":-").unwrap_or((expression, ""));
        let value = variables.get(name).map(String::as_str).unwrap_or(default);
        assert!(
            !value.is_empty() || expression.contains(":-"),
            "${{{name}}} is not in .env"
        );
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Applies YAML merge keys (`<<: *anchor` and `<<: [*a, *b]`), which compose honours.
fn merged(node: &Yaml) -> Yaml {
    match node {
        Yaml::Hash(hash) => {
            let mut result = yaml_rust2::yaml::Hash::new();
            if let Some(merge) = hash.get(&Yaml::String("<<".into())) {
                let sources = match merge {
                    Yaml::Array(items) => items.clone(),
                    single => vec![single.clone()],
                };
                for source in sources {
                    if let Yaml::Hash(source) = merged(&source) {
                        result.extend(source);
                    }
                }
            }
            for (key, value) in hash {
                if key.as_str() != Some("<<") {
                    result.insert(key.clone(), merged(value));
                }
            }
            Yaml::Hash(result)
        }
        Yaml::Array(items) => Yaml::Array(items.iter().map(merged).collect()),
        other => other.clone(),
    }
}

struct Compose {
    services: BTreeMap<String, Yaml>,
}

impl Compose {
    fn load() -> Self {
        let text = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("reading");
        let documents = YamlLoader::load_from_str(&interpolate(&text, &dotenv())).expect("YAML");
        let root = merged(&documents[0]);
        let services = root["services"].as_hash().expect("a services map");
        let services = services
            .iter()
            .map(|(k, v)| (scalar(k), v.clone()))
            .collect();
        Self { services }
    }

    fn environment(&self, service: &str) -> BTreeMap<String, String> {
        let node = &self.services[service]["environment"];
        assert!(node.as_hash().is_some(), "{service} has an environment map");
        string_map(node)
    }

    fn published(&self, service: &str) -> Vec<String> {
        let ports = self.services[service]["ports"]
            .as_vec()
            .cloned()
            .unwrap_or_default();
        ports.iter().map(scalar).collect()
    }
}

/// The names a service looks up, and whether its config loads, from `env`.
fn lookups(service: &str, env: &Env) -> Result<(), ConfigError> {
    match service {
        "migration" => migration::Config::from_env(env).map(drop),
        // The one-off `migration apply` (the Kubernetes Job), which serves nothing.
        "migration apply" => migration::Schemas::from_env(env).map(drop),
        "btc_price" => btc_price::Config::from_env(env).map(drop),
        "create_buy_order" => create_buy_order::Config::from_env(env).map(drop),
        "read_model_sync" => read_model_sync::Config::from_env(env).map(drop),
        "fetch_buy_orders" => fetch_buy_orders::Config::from_env(env).map(drop),
        other => panic!("unknown service {other}"),
    }?;
    let format: String = env.optional("LOG_FORMAT", "both".to_owned())?;
    if format != "json" {
        FluentdConfig::from_env(env, "check")?;
    }
    Ok(())
}

const RUST_SERVICES: [&str; 5] = testkit::cluster::SERVICES;

/// What `service` (as [`lookups`] names it) reads that `defined` has but
/// `environment` does not set; an error when its config does not load.
fn unset_reads(
    service: &str,
    environment: &BTreeMap<String, String>,
    defined: &BTreeSet<String>,
) -> Result<Vec<String>, ConfigError> {
    let env = Env::from_pairs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    lookups(service, &env)?;
    let unset = env.looked_up().into_iter();
    Ok(unset
        .filter(|name| defined.contains(name) && !environment.contains_key(name))
        .collect())
}

#[test]
fn every_variable_a_service_reads_from_dotenv_is_set_for_it() {
    let compose = Compose::load();
    let defined: BTreeSet<String> = dotenv().into_keys().collect();
    for service in RUST_SERVICES {
        let environment = compose.environment(service);
        let missing = unset_reads(service, &environment, &defined)
            .unwrap_or_else(|error| panic!("{service} would not start under compose: {error}"));
        assert!(
            missing.is_empty(),
            "{service} reads {missing:?}, which compose does not set"
        );
    }
}

#[test]
fn every_host_and_port_names_another_service_and_its_port() {
    let compose = Compose::load();
    let port_of = |host: &str| -> Option<String> {
        if let Some((_, port)) = INFRASTRUCTURE_PORTS.iter().find(|(name, _)| *name == host) {
            return Some((*port).to_owned());
        }
        RUST_SERVICES
            .contains(&host)
            .then(|| compose.environment(host)["SERVICE_PORT"].clone())
    };
    for service in RUST_SERVICES {
        let environment = compose.environment(service);
        for (name, host) in &environment {
            let Some(prefix) = name.strip_suffix("_HOST") else {
                continue;
            };
            if name == "SERVICE_HOST" || THIRD_PARTY_HOSTS.contains(&name.as_str()) {
                continue;
            }
            assert!(
                compose.services.contains_key(host),
                "{service}: {name}={host} is no service"
            );
            let port = &environment[&format!("{prefix}_PORT")];
            assert_eq!(
                Some(port),
                port_of(host).as_ref(),
                "{service}: {prefix}_PORT for {host}"
            );
        }
    }
}

/// A published port as (host address, host port, container port); the host
/// address is empty when compose publishes on every interface.
fn split_mapping(mapping: &str) -> (String, String, String) {
    match mapping.split(':').collect::<Vec<_>>()[..] {
        [host, container] => (String::new(), host.to_owned(), container.to_owned()),
        [address, host, container] => (address.to_owned(), host.to_owned(), container.to_owned()),
        _ => panic!("not [address:]host:container: {mapping}"),
    }
}

#[test]
fn only_the_two_apis_are_public_and_every_other_published_port_is_loopback() {
    let compose = Compose::load();
    let variables = dotenv();
    let service_port = |service: &str| compose.environment(service)["SERVICE_PORT"].clone();
    let mut published = BTreeMap::new();
    for service in compose.services.keys() {
        for mapping in compose.published(service) {
            let (address, host, container) = split_mapping(&mapping);
            published.insert(host, (address, service.clone(), container));
        }
    }
    let port = |name: &str| variables[name].clone();
    // The APIs are published by the ingress alone, on their own ports.
    let ingress = |address: &str, name: &str| {
        let container = compose.environment("ingress")[name].clone();
        assert_eq!(container, port(name), "the ingress listens on {name}");
        (address.to_owned(), "ingress".to_owned(), container)
    };
    assert_eq!(
        service_port("create_buy_order"),
        port("CREATE_BUY_ORDER_PORT")
    );
    assert_eq!(
        service_port("fetch_buy_orders"),
        port("FETCH_BUY_ORDERS_PORT")
    );
    let expected = BTreeMap::from([
        (
            port("CREATE_BUY_ORDER_EXT_PORT"),
            ingress("", "CREATE_BUY_ORDER_PORT"),
        ),
        (
            port("FETCH_BUY_ORDERS_EXT_PORT"),
            ingress("", "FETCH_BUY_ORDERS_PORT"),
        ),
        (
            port("INGRESS_STATS_EXT_PORT"),
            ingress("127.0.0.1", "INGRESS_STATS_PORT"),
        ),
        (
            port("Q_MANAGEMENT_EXT_PORT"),
            (
                "127.0.0.1".to_owned(),
                "queue".to_owned(),
                "15672".to_owned(),
            ),
        ),
        (
            port("FAKE_COINBASE_EXT_PORT"),
            (
                "127.0.0.1".to_owned(),
                "fake_coinbase".to_owned(),
                port("FAKE_COINBASE_PORT"),
            ),
        ),
    ]);
    assert_eq!(published, expected);
    assert_eq!(variables["CREATE_BUY_ORDER_EXT_PORT"], "8777");
    assert_eq!(variables["FETCH_BUY_ORDERS_EXT_PORT"], "8778");
}

#[test]
fn every_service_has_a_healthcheck_and_waits_for_what_it_needs() {
    let compose = Compose::load();
    for service in RUST_SERVICES {
        let node = &compose.services[service];
        assert!(
            !node["healthcheck"].is_badvalue(),
            "{service} has a healthcheck"
        );
        assert_eq!(
            node["restart"].as_str(),
            Some("unless-stopped"),
            "{service} restarts"
        );
    }
    for service in ["create_buy_order", "read_model_sync", "fetch_buy_orders"] {
        let condition = &compose.services[service]["depends_on"]["migration"]["condition"];
        assert_eq!(
            condition.as_str(),
            Some("service_healthy"),
            "{service} waits for migrations"
        );
    }
    for volume in [
        "write_model_data",
        "read_model_data",
        "queue_data",
        "logging_data",
    ] {
        let text = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("reading");
        assert!(text.contains(&format!("{volume}:/")), "{volume} is mounted");
    }
}

#[test]
fn every_service_rotates_its_container_logs() {
    let compose = Compose::load();
    assert!(compose.services.len() >= 11, "every service was read");
    for (service, node) in &compose.services {
        let logging = &node["logging"];
        assert_eq!(
            logging["driver"].as_str(),
            Some("json-file"),
            "{service} sets its log driver"
        );
        let options = &logging["options"];
        let max_size = options["max-size"].as_str().unwrap_or_default();
        assert!(
            max_size.ends_with('m') || max_size.ends_with('k'),
            "{service} rotates its log by size, not {max_size:?}"
        );
        let files: u32 = scalar(&options["max-file"]).parse().expect("a file count");
        assert!(files >= 1, "{service} keeps at most {files} files");
    }
}

#[test]
fn under_compose_request_events_go_to_the_log_service_alone() {
    let compose = Compose::load();
    for service in RUST_SERVICES {
        let environment = compose.environment(service);
        assert_eq!(
            environment.get("LOG_FORMAT").map(String::as_str),
            Some("fluentd"),
            "{service}: stdout keeps only the start, stop and faults"
        );
    }
}

/// The HA layer's secrets, each set empty in turn: compose refuses to start
/// anything and names it (`${NAME:?…}`); with `.env`'s values it is valid.
#[test]
fn the_ha_layer_refuses_to_start_without_a_replication_password_or_the_erlang_cookie() {
    let config = |variable: Option<&str>| {
        let mut command = std::process::Command::new("docker-compose");
        command
            .args([
                "-f",
                "docker-compose.yml",
                "-f",
                "docker-compose.ha.yml",
                "config",
                "-q",
            ])
            .current_dir(ROOT);
        command.envs(variable.map(|name| (name, "")));
        command
            .output()
            .expect("docker-compose (scripts/static-checks.sh installs it)")
    };
    let valid = config(None);
    assert!(valid.status.success(), "{valid:?}");
    for variable in [
        "WRITE_MODEL_REPLICATION_USER",
        "WRITE_MODEL_REPLICATION_PWD",
        "READ_MODEL_REPLICATION_USER",
        "READ_MODEL_REPLICATION_PWD",
        "Q_ERLANG_COOKIE",
    ] {
        let refused = config(Some(variable));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{variable} empty: accepted");
        assert!(
            stderr.contains(&format!("{variable} must be set")),
            "{variable} empty: {stderr}"
        );
    }
}
