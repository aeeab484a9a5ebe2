//! YAML read the way the deployment files mean it: a scalar as the text a
//! variable or a string field receives, whatever type YAML gave it. The
//! compose file's checks and the Kubernetes renders' both read it so.

use std::collections::BTreeMap;

use yaml_rust2::Yaml;

/// A scalar as text (`8777`, `true` and `"8777"` alike).
pub fn scalar(node: &Yaml) -> String {
    match node {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// A map of scalars (an environment, labels, ConfigMap data) as text; empty
/// where `node` is no map.
pub fn string_map(node: &Yaml) -> BTreeMap<String, String> {
    node.as_hash()
        .map(|hash| hash.iter().map(|(k, v)| (scalar(k), scalar(v))).collect())
        .unwrap_or_default()
}
