//! deploy/kubernetes checked without a cluster, from what `kubectl
//! kustomize` renders for each overlay: every service's settings complete
//! (by the services' own config loaders, as for compose), ports and probes
//! on the routes the services serve, probes, resources and the pod security
//! settings on every Deployment, the NetworkPolicies letting through exactly
//! the cluster's flows, and the images those of the compose cluster.
//! scripts/kubernetes-checks.sh validates the same renders against the
//! Kubernetes API schemas.

mod flows;

use std::collections::{BTreeMap, BTreeSet};

use platform::config::Env;
use platform::health::{LIVE_PATH, PATH, REPLICA_PATH};
use platform::http::{BACKGROUND_STOP_DEADLINE, ListenConfig};
use testkit::kubernetes::{Rendered, Workload};
use testkit::settings::dotenv;
use testkit::yaml::scalar;

use super::{Compose, RUST_SERVICES, unset_reads};
use flows::Endpoint;

const OVERLAYS: [&str; 2] = ["dev", "production"];

/// A Rust service's name in Kubernetes, where names have no underscores.
fn app(service: &str) -> String {
    service.replace('_', "-")
}

/// The keys production's Secret must hold, as secrets.example.env lists
/// them, each with a stand-in value.
fn production_secrets() -> BTreeMap<String, String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/kubernetes/overlays/production/secrets.example.env"
    );
    let text = std::fs::read_to_string(path).expect("secrets.example.env");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, _)| (key.to_owned(), "stand-in".to_owned()))
        .collect()
}

/// An overlay's render, its ConfigMap, and its Secret (production's: the
/// keys it lists, with stand-in values), each read once.
struct Overlay {
    manifests: Rendered,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
}

impl Overlay {
    fn render(overlay: &str) -> Self {
        let rendered = Rendered::overlay(overlay);
        let config = rendered.config();
        let secrets = match overlay {
            "production" => {
                assert!(rendered.secrets().is_none(), "production commits no Secret");
                production_secrets()
            }
            _ => rendered
                .secrets()
                .expect("the dev overlay makes the Secret"),
        };
        Self {
            manifests: rendered,
            config,
            secrets,
        }
    }

    /// The environment of `service`'s container, every value resolved.
    fn env(&self, service: &str) -> BTreeMap<String, String> {
        self.manifests
            .workload(&app(service))
            .env(&self.config, &self.secrets)
    }
}

#[test]
fn every_variable_each_service_reads_is_set_for_it_in_both_overlays() {
    let defined: BTreeSet<String> = dotenv().into_keys().collect();
    for overlay in OVERLAYS {
        let rendered = Overlay::render(overlay);
        for service in RUST_SERVICES {
            let environment = rendered.env(service);
            let command = if service == "migration" {
                "migration apply"
            } else {
                service
            };
            let mut missing = unset_reads(command, &environment, &defined)
                .unwrap_or_else(|error| panic!("{overlay}: {service} would not start: {error}"));
            // Deliberately: production installs no development key.
            missing.retain(|name| !(overlay == "production" && name == "DEV_API_KEY"));
            assert!(
                missing.is_empty(),
                "{overlay}: {service} reads {missing:?}, unset"
            );
            if overlay == "production" {
                assert!(
                    !environment.contains_key("DEV_API_KEY"),
                    "production has no dev key"
                );
            }
            assert_eq!(
                environment.get("MIGRATIONS_GATE").map(String::as_str),
                Some("schema"),
                "{overlay}: {service} waits for the schema, the migration being a Job"
            );
        }
    }
}

/// The dev overlay's values are .env's, but for the hosts (each a Service
/// of the overlay listening on the port the settings give) and Coinbase
/// (the fake, as FAKE_COINBASE=1 under compose).
#[test]
fn the_dev_overlay_has_the_values_of_dotenv_and_its_hosts_are_its_services() {
    let Overlay {
        manifests: rendered,
        config,
        secrets,
    } = Overlay::render("dev");
    let dotenv = dotenv();
    let faked = ["CB_PROTOCOL", "CB_HOST", "CB_PORT"];
    for (name, value) in config.iter().chain(&secrets) {
        let Some(expected) = dotenv.get(name) else {
            continue;
        };
        if name.ends_with("_HOST") || faked.contains(&name.as_str()) {
            continue;
        }
        assert_eq!(value, expected, "dev overlay: {name}");
    }
    for (name, host) in &config {
        let Some(prefix) = name.strip_suffix("_HOST") else {
            continue;
        };
        if name == "SERVICE_HOST" {
            continue;
        }
        let service = rendered
            .find("Service", host)
            .unwrap_or_else(|| panic!("{name}={host} is no Service of the dev overlay"));
        let ports: Vec<String> = service["spec"]["ports"]
            .as_vec()
            .expect("ports")
            .iter()
            .map(|port| scalar(&port["port"]))
            .collect();
        assert_eq!(
            ports,
            [config[&format!("{prefix}_PORT")].clone()],
            "{name}={host}"
        );
    }
}

/// Each API's container port is the port .env gives it, its Service
/// forwards that port, and its probes ask routes the services serve.
#[test]
fn ports_and_probe_paths_match_dotenv_and_the_routes() {
    let dotenv = dotenv();
    for overlay in OVERLAYS {
        let rendered = Overlay::render(overlay);
        for service in RUST_SERVICES.iter().filter(|s| **s != "migration") {
            let env = rendered.env(service);
            let workload = rendered.manifests.workload(&app(service));
            let port_variable = format!("{}_PORT", service.to_uppercase());
            assert_eq!(
                env["SERVICE_PORT"], dotenv[&port_variable],
                "{overlay}: {service}"
            );
            assert_eq!(
                workload.port("http").map(|p| p.to_string()),
                Some(env["SERVICE_PORT"].clone()),
                "{overlay}: {service}'s container port"
            );
            for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                let node = &workload.container()[probe];
                if node.is_badvalue() {
                    continue;
                }
                let path = node["httpGet"]["path"].as_str().unwrap_or_default();
                assert!(
                    [PATH, REPLICA_PATH, LIVE_PATH].contains(&path),
                    "{overlay}: {service} {probe} asks {path:?}"
                );
                assert_eq!(node["httpGet"]["port"].as_str(), Some("http"));
            }
            if let Some(api) = rendered.manifests.find("Service", &app(service)) {
                let port = &api["spec"]["ports"][0];
                assert_eq!(
                    scalar(&port["port"]),
                    env["SERVICE_PORT"],
                    "{overlay}: {service}"
                );
                assert_eq!(port["targetPort"].as_str(), Some("http"));
            }
        }
    }
}

/// Whole milliseconds of a quantity such as `100m` or `1` (cores), or bytes
/// of `64Mi`, to compare requests with limits.
fn quantity(value: &str) -> u64 {
    let (number, scale) = match value {
        v if v.ends_with('m') => (&v[..v.len() - 1], 1),
        v if v.ends_with("Mi") => (&v[..v.len() - 2], 1 << 20),
        v if v.ends_with("Gi") => (&v[..v.len() - 2], 1 << 30),
        v => (v, 1000),
    };
    number.parse::<u64>().expect("a whole quantity") * scale
}

fn assert_resources(overlay: &str, workload: &Workload) {
    let resources = &workload.container()["resources"];
    for resource in ["cpu", "memory"] {
        let request = resources["requests"][resource].as_str().map(str::to_owned);
        let limit = resources["limits"][resource].as_str().map(str::to_owned);
        let (Some(request), Some(limit)) = (request, limit) else {
            panic!(
                "{overlay}: {} sets no {resource} request or limit",
                workload.name
            )
        };
        assert!(
            quantity(&request) <= quantity(&limit),
            "{overlay}: {} {resource}",
            workload.name
        );
    }
}

fn assert_locked_down(overlay: &str, workload: &Workload) {
    let pod = &workload.pod["securityContext"];
    let name = workload.name;
    assert_eq!(
        pod["runAsNonRoot"].as_bool(),
        Some(true),
        "{overlay}: {name}"
    );
    assert_eq!(pod["runAsUser"].as_i64(), Some(10001), "{overlay}: {name}");
    assert_eq!(
        pod["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault"),
        "{overlay}: {name}"
    );
    let container = &workload.container()["securityContext"];
    assert_eq!(
        container["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "{overlay}: {name}"
    );
    assert_eq!(
        container["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{overlay}: {name}"
    );
    let dropped: Vec<String> = container["capabilities"]["drop"]
        .as_vec()
        .map(|items| items.iter().map(scalar).collect())
        .unwrap_or_default();
    assert_eq!(dropped, ["ALL"], "{overlay}: {name} drops every capability");
}

/// Seconds a probe may fail for before it gives up.
fn patience_s(probe: &yaml_rust2::Yaml) -> i64 {
    probe["periodSeconds"].as_i64().unwrap_or(10) * probe["failureThreshold"].as_i64().unwrap_or(3)
}

#[test]
fn every_deployment_has_probes_resources_and_the_security_context() {
    for overlay in OVERLAYS {
        let rendered = Overlay::render(overlay);
        for service in RUST_SERVICES {
            let workload = rendered.manifests.workload(&app(service));
            assert_resources(overlay, &workload);
            assert_locked_down(overlay, &workload);
            if service == "migration" {
                assert_eq!(workload.kind, "Job", "{overlay}: the migration runs once");
                continue;
            }
            assert_eq!(workload.kind, "Deployment", "{overlay}: {service}");
            let container = workload.container();
            let ready = container["readinessProbe"]["httpGet"]["path"].as_str();
            let live = container["livenessProbe"]["httpGet"]["path"].as_str();
            assert_eq!(
                live,
                Some(LIVE_PATH),
                "{overlay}: {service}'s liveness asks no store"
            );
            assert!(
                ready.is_some() && ready != live,
                "{overlay}: {service}: readiness {ready:?}"
            );
            if ["create_buy_order", "fetch_buy_orders"].contains(&service) {
                assert_eq!(
                    ready,
                    Some(REPLICA_PATH),
                    "{overlay}: {service} stays in while a store is away"
                );
            }
            if service != "btc_price" {
                let startup = &container["startupProbe"];
                assert!(
                    patience_s(startup) >= 300,
                    "{overlay}: {service} waits at least five minutes for the migration Job"
                );
            }
            assert_grace_covers_the_drain(overlay, service, &rendered, &workload);
        }
    }
}

/// The grace period holds the shutdown notice, the requests' deadline and,
/// for the services with background work, its drain.
fn assert_grace_covers_the_drain(
    overlay: &str,
    service: &str,
    rendered: &Overlay,
    workload: &Workload,
) {
    let environment = rendered.env(service);
    let env = Env::from_pairs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let limits = ListenConfig::from_env(&env)
        .expect("listen settings")
        .limits;
    let mut drain = limits.shutdown_notice + limits.shutdown_deadline;
    if ["create_buy_order", "read_model_sync"].contains(&service) {
        drain += BACKGROUND_STOP_DEADLINE;
    }
    let grace = workload.pod["terminationGracePeriodSeconds"]
        .as_i64()
        .expect("a grace period");
    assert!(
        u64::try_from(grace).expect("positive") > drain.as_secs(),
        "{overlay}: {service}: {grace} s of grace for a {drain:?} drain"
    );
    assert!(
        limits.shutdown_notice.as_secs() >= 2,
        "{overlay}: {service} gives notice"
    );
}

/// Each Deployment file says where its resource figures come from.
#[test]
fn every_resource_figure_names_the_measurement_it_came_from() {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/kubernetes/base");
    for service in RUST_SERVICES {
        let file = if service == "migration" {
            "migration".to_owned()
        } else {
            app(service)
        };
        let text = std::fs::read_to_string(format!("{base}/{file}.yaml")).expect("the manifest");
        let block = &text[text.find("resources:").expect("resources")..];
        let comment = &block[..block.find("requests:").expect("requests")];
        assert!(
            comment.contains("RSS") && comment.contains("MiB"),
            "{service}: {comment}"
        );
        if service != "migration" {
            assert!(
                comment.contains("µs"),
                "{service}: CPU per request: {comment}"
            );
        }
    }
}

/// The dev overlay's pods, and what is outside: the ingress controller, the
/// cluster's DNS, Coinbase.
fn dev_endpoints(rendered: &Rendered) -> Vec<Endpoint> {
    flows::endpoints(
        rendered,
        vec![
            Endpoint::in_namespace("ingress-controller", "ingress-nginx", &[], &[]),
            Endpoint::in_namespace("kube-dns", "kube-system", &[("k8s-app", "kube-dns")], &[53]),
            Endpoint::outside(
                "coinbase",
                "104.18.0.1".parse().expect("an address"),
                &[443],
            ),
        ],
    )
}

/// (from, to, port) of the flows the cluster has, wherever the stores are.
fn cluster_flows(
    stores: [&str; 4],
    coinbase: (&str, u16),
    ours: &[&str],
) -> BTreeSet<(String, String, u16)> {
    let [write, read, queue, log] = stores;
    let mut expected: BTreeSet<(String, String, u16)> = [
        ("migration", write, 5432),
        ("migration", read, 5432),
        ("create-buy-order", write, 5432),
        ("create-buy-order", queue, 5672),
        ("create-buy-order", "btc-price", 8776),
        ("read-model-sync", queue, 5672),
        ("read-model-sync", read, 5432),
        ("read-model-sync", write, 5432),
        ("fetch-buy-orders", read, 5432),
        ("fetch-buy-orders", write, 5432),
        ("btc-price", coinbase.0, coinbase.1),
        ("ingress-controller", "create-buy-order", 8777),
        ("ingress-controller", "fetch-buy-orders", 8778),
    ]
    .into_iter()
    .map(|(from, to, port)| (from.to_owned(), to.to_owned(), port))
    .collect();
    for pod in ours {
        expected.insert(((*pod).to_owned(), "kube-dns".to_owned(), 53));
        if *pod != log {
            expected.insert(((*pod).to_owned(), log.to_owned(), 24224));
        }
    }
    expected
}

fn ours(rendered: &Rendered) -> Vec<String> {
    rendered
        .workloads()
        .iter()
        .map(|w| w.app().to_owned())
        .collect()
}

#[test]
fn the_dev_network_policies_allow_exactly_the_flows_of_the_cluster() {
    let rendered = Rendered::overlay("dev");
    let allowed = flows::allowed(&rendered, &dev_endpoints(&rendered));
    let pods = ours(&rendered);
    let pods: Vec<&str> = pods.iter().map(String::as_str).collect();
    let mut expected = cluster_flows(
        ["write-model", "read-model", "queue", "log"],
        ("fake-coinbase", 8779),
        &pods,
    );
    // The real Coinbase stays open, for a dev cluster with internet that
    // sets CB_HOST back.
    expected.insert(("btc-price".into(), "coinbase".into(), 443));
    let unexpected: Vec<_> = allowed.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&allowed).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "allowed but not a flow: {unexpected:?}\nneeded but denied: {missing:?}"
    );
    for (from, to, port) in [
        ("fetch-buy-orders", "queue", 5672),
        ("btc-price", "write-model", 5432),
        ("read-model-sync", "btc-price", 8776),
        ("ingress-controller", "write-model", 5432),
    ] {
        assert!(
            !allowed.contains(&(from.into(), to.into(), port)),
            "{from} -> {to}:{port} is open"
        );
    }
}

#[test]
fn the_production_network_policies_allow_exactly_the_flows_to_the_external_stores() {
    let rendered = Rendered::overlay("production");
    let address = |text: &str| text.parse().expect("an address");
    let mut endpoints = dev_endpoints(&rendered);
    endpoints.extend([
        Endpoint::outside("write-model", address("10.10.0.7"), &[5432]),
        Endpoint::outside("read-model", address("10.20.0.7"), &[5432]),
        Endpoint::outside("queue", address("10.30.0.7"), &[5672]),
        Endpoint::in_namespace("log", "logging", &[], &[24224]),
    ]);
    let allowed = flows::allowed(&rendered, &endpoints);
    let pods = ours(&rendered);
    let pods: Vec<&str> = pods.iter().map(String::as_str).collect();
    let expected = cluster_flows(
        ["write-model", "read-model", "queue", "log"],
        ("coinbase", 443),
        &pods,
    );
    let unexpected: Vec<_> = allowed.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&allowed).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "allowed but not a flow: {unexpected:?}\nneeded but denied: {missing:?}"
    );
}

/// Production runs the replicas of the issue, autoscales the APIs on CPU,
/// spreads every service over nodes, budgets disruptions of each, and
/// exposes exactly the two APIs.
#[test]
fn production_replicates_autoscales_spreads_and_exposes_the_two_apis() {
    let rendered = Rendered::overlay("production");
    for (name, replicas) in [
        ("create-buy-order", 3),
        ("fetch-buy-orders", 3),
        ("read-model-sync", 3),
        ("btc-price", 2),
    ] {
        let deployment = rendered.find("Deployment", name).expect("the Deployment");
        assert_eq!(
            deployment["spec"]["replicas"].as_i64(),
            Some(replicas),
            "{name}"
        );
        let spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"].as_vec();
        let keys: Vec<&str> = spread
            .into_iter()
            .flatten()
            .filter_map(|c| c["topologyKey"].as_str())
            .collect();
        assert!(
            keys.contains(&"kubernetes.io/hostname"),
            "{name} spreads over nodes"
        );
        let budget = rendered
            .find("PodDisruptionBudget", name)
            .expect("a disruption budget");
        assert_eq!(
            budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"].as_str(),
            Some(name)
        );
    }
    for name in ["create-buy-order", "fetch-buy-orders"] {
        let autoscaler = rendered
            .find("HorizontalPodAutoscaler", name)
            .expect("an autoscaler");
        assert_eq!(
            autoscaler["spec"]["scaleTargetRef"]["name"].as_str(),
            Some(name)
        );
        assert_eq!(
            autoscaler["spec"]["metrics"][0]["resource"]["name"].as_str(),
            Some("cpu")
        );
    }
    let ingress = rendered.find("Ingress", "rsdist").expect("the Ingress");
    let backends: BTreeMap<String, String> = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_vec()
        .expect("paths")
        .iter()
        .map(|path| {
            (
                scalar(&path["path"]),
                scalar(&path["backend"]["service"]["name"]),
            )
        })
        .collect();
    let expected = [
        ("/buy_order", "create-buy-order"),
        ("/buy_orders", "fetch-buy-orders"),
    ];
    assert_eq!(
        backends,
        expected.map(|(p, s)| (p.to_owned(), s.to_owned())).into()
    );
    for store in ["StatefulSet", "PersistentVolumeClaim"] {
        assert_eq!(
            rendered.of_kind(store).count(),
            0,
            "production runs no {store}"
        );
    }
}

/// The images are the compose cluster's, by name and tag, and pulled only
/// when missing (an offline engine has no registry to pull from).
#[test]
fn the_images_are_those_the_compose_cluster_runs() {
    let compose = Compose::load();
    for overlay in OVERLAYS {
        let rendered = Rendered::overlay(overlay);
        for workload in rendered.workloads() {
            let image = scalar(&workload.container()["image"]);
            let compose_service = workload.app().replace('-', "_");
            let expected = compose.services[&compose_service]["image"]
                .as_str()
                .expect("an image");
            assert_eq!(image, expected, "{overlay}: {}", workload.name);
            let policy = workload.container()["imagePullPolicy"].as_str();
            assert_eq!(policy, Some("IfNotPresent"), "{overlay}: {}", workload.name);
        }
    }
}
