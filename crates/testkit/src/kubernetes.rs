//! The Kubernetes manifests as `kubectl kustomize` renders an overlay of
//! `deploy/kubernetes`, read the way the cluster would read them: each
//! workload's pod, and the environment its container gets from the
//! ConfigMap, the Secret and its own `env`.

use std::collections::BTreeMap;

use base64::Engine;
use yaml_rust2::{Yaml, YamlLoader};

use crate::yaml::{scalar, string_map};

const OVERLAYS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/kubernetes/overlays"
);

/// Every object one overlay renders.
pub struct Rendered {
    pub objects: Vec<Yaml>,
}

/// A Deployment, StatefulSet or Job, and its pod template.
pub struct Workload<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    /// The pod template's `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// The pod template's `spec`.
    pub pod: &'a Yaml,
}

impl Rendered {
    /// `kubectl kustomize deploy/kubernetes/overlays/<overlay>`; panics with
    /// kubectl's words when it fails or is missing.
    pub fn overlay(overlay: &str) -> Self {
        let output = std::process::Command::new("kubectl")
            .args(["kustomize", &format!("{OVERLAYS}/{overlay}")])
            .output()
            .expect("kubectl (scripts/kubernetes-checks.sh says where it comes from)");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "kubectl kustomize {overlay}: {stderr}"
        );
        let text = String::from_utf8(output.stdout).expect("UTF-8 YAML");
        let objects = YamlLoader::load_from_str(&text).expect("YAML");
        Self { objects }
    }

    /// Every object of `kind`.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Yaml> {
        self.objects
            .iter()
            .filter(move |object| object["kind"].as_str() == Some(kind))
    }

    /// The object of `kind` named `name`, if any.
    pub fn find(&self, kind: &str, name: &str) -> Option<&Yaml> {
        self.objects.iter().find(|object| {
            object["kind"].as_str() == Some(kind)
                && object["metadata"]["name"].as_str() == Some(name)
        })
    }

    /// The Deployments, StatefulSets and Jobs.
    pub fn workloads(&self) -> Vec<Workload<'_>> {
        let kinds = ["Deployment", "StatefulSet", "Job"];
        self.objects
            .iter()
            .filter(|object| kinds.contains(&object["kind"].as_str().unwrap_or_default()))
            .map(|object| Workload {
                kind: object["kind"].as_str().expect("a kind"),
                name: object["metadata"]["name"].as_str().expect("a name"),
                labels: string_map(&object["spec"]["template"]["metadata"]["labels"]),
                pod: &object["spec"]["template"]["spec"],
            })
            .collect()
    }

    /// The workload named `name`; panics if there is none.
    pub fn workload(&self, name: &str) -> Workload<'_> {
        self.workloads()
            .into_iter()
            .find(|workload| workload.name == name)
            .unwrap_or_else(|| panic!("no workload {name}"))
    }

    /// The data of the ConfigMap or Secret whose generated name starts with
    /// `prefix` (kustomize appends a hash), Secret values decoded.
    fn generated(&self, kind: &str, prefix: &str) -> Option<BTreeMap<String, String>> {
        let object = self.objects.iter().find(|object| {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            object["kind"].as_str() == Some(kind)
                && (name == prefix || name.starts_with(&format!("{prefix}-")))
        })?;
        let mut data = string_map(&object["data"]);
        if kind == "Secret" {
            for value in data.values_mut() {
                // kubectl folds long values over lines.
                let folded: String = value.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(folded.as_bytes())
                    .expect("base64 in a Secret");
                *value = String::from_utf8(bytes).expect("a UTF-8 secret");
            }
        }
        Some(data)
    }

    /// The ConfigMap rsdist-config.
    pub fn config(&self) -> BTreeMap<String, String> {
        self.generated("ConfigMap", "rsdist-config")
            .expect("the ConfigMap rsdist-config")
    }

    /// The Secret rsdist-secrets, where the overlay makes it.
    pub fn secrets(&self) -> Option<BTreeMap<String, String>> {
        self.generated("Secret", "rsdist-secrets")
    }
}

/// Where one variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Value(String),
    ConfigMap(String),
    Secret { key: String, optional: bool },
}

impl Workload<'_> {
    /// The pod's one container (each of ours has one).
    pub fn container(&self) -> &Yaml {
        let containers = self.pod["containers"].as_vec().expect("containers");
        assert_eq!(containers.len(), 1, "{}: one container", self.name);
        &containers[0]
    }

    /// `app.kubernetes.io/name`.
    pub fn app(&self) -> &str {
        &self.labels["app.kubernetes.io/name"]
    }

    /// Each variable the container sets and where its value comes from:
    /// the whole ConfigMap where it has `envFrom`, then its own `env`,
    /// which wins, as in Kubernetes.
    pub fn env_sources(&self, config: &BTreeMap<String, String>) -> BTreeMap<String, Source> {
        let container = self.container();
        let mut sources = BTreeMap::new();
        for from in container["envFrom"].as_vec().into_iter().flatten() {
            assert!(
                !from["configMapRef"].is_badvalue(),
                "{}: envFrom only the ConfigMap",
                self.name
            );
            for key in config.keys() {
                sources.insert(key.clone(), Source::ConfigMap(key.clone()));
            }
        }
        for variable in container["env"].as_vec().into_iter().flatten() {
            let name = scalar(&variable["name"]);
            let from = &variable["valueFrom"];
            let source = if !from["configMapKeyRef"].is_badvalue() {
                Source::ConfigMap(scalar(&from["configMapKeyRef"]["key"]))
            } else if !from["secretKeyRef"].is_badvalue() {
                Source::Secret {
                    key: scalar(&from["secretKeyRef"]["key"]),
                    optional: from["secretKeyRef"]["optional"].as_bool() == Some(true),
                }
            } else {
                Source::Value(scalar(&variable["value"]))
            };
            sources.insert(name, source);
        }
        sources
    }

    /// The container's environment with every value resolved; a Secret key
    /// the Secret lacks is set only where it is optional.
    pub fn env(
        &self,
        config: &BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (name, source) in self.env_sources(config) {
            let value = match source {
                Source::Value(value) => Some(value),
                Source::ConfigMap(key) => Some(config.get(&key).cloned().unwrap_or_else(|| {
                    panic!(
                        "{}: {name} from ConfigMap key {key}, which it lacks",
                        self.name
                    )
                })),
                Source::Secret { key, optional } => {
                    let value = secrets.get(&key).cloned();
                    assert!(
                        value.is_some() || optional,
                        "{}: {name} from Secret key {key}, which it lacks",
                        self.name
                    );
                    value
                }
            };
            if let Some(value) = value {
                env.insert(name, value);
            }
        }
        env
    }

    /// The container's port named `name`.
    pub fn port(&self, name: &str) -> Option<u16> {
        let ports = self.container()["ports"].as_vec()?;
        ports
            .iter()
            .find(|port| port["name"].as_str() == Some(name))
            .and_then(|port| port["containerPort"].as_i64())
            .map(|port| u16::try_from(port).expect("a port"))
    }
}
