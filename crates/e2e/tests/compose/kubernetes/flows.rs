//! Which connections an overlay's NetworkPolicies let through, worked out as
//! Kubernetes does: a pod that some policy selects for a direction is
//! isolated in it, and then only a rule of such a policy lets a connection
//! through; a connection needs the sender's egress and the receiver's
//! ingress. Endpoints outside the namespace (the ingress controller, DNS,
//! Coinbase, external stores) are not isolated by our policies.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use testkit::kubernetes::Rendered;
use testkit::yaml::{scalar, string_map};
use yaml_rust2::Yaml;

/// The namespace the overlays put everything in.
const NAMESPACE: &str = "rsdist";

/// Something a connection can start or end at.
pub struct Endpoint {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// An address, for endpoints outside the cluster (ipBlock peers).
    pub address: Option<Ipv4Addr>,
    pub ports: Vec<u16>,
}

impl Endpoint {
    /// A workload's pods, listening on their container ports.
    fn pod(name: &str, labels: BTreeMap<String, String>, ports: Vec<u16>) -> Self {
        Self {
            name: name.to_owned(),
            namespace: NAMESPACE.to_owned(),
            labels,
            address: None,
            ports,
        }
    }

    /// Pods of another namespace, labelled `labels`.
    pub fn in_namespace(
        name: &str,
        namespace: &str,
        labels: &[(&str, &str)],
        ports: &[u16],
    ) -> Self {
        Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            labels: pairs(labels),
            address: None,
            ports: ports.to_vec(),
        }
    }

    /// A host outside the cluster.
    pub fn outside(name: &str, address: Ipv4Addr, ports: &[u16]) -> Self {
        Self {
            name: name.to_owned(),
            namespace: String::new(),
            labels: BTreeMap::new(),
            address: Some(address),
            ports: ports.to_vec(),
        }
    }

    fn namespace_labels(&self) -> BTreeMap<String, String> {
        pairs(&[("kubernetes.io/metadata.name", &self.namespace)])
    }

    fn ours(&self) -> bool {
        self.namespace == NAMESPACE
    }
}

fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Every workload of `rendered` as an endpoint, then `others`.
pub fn endpoints(rendered: &Rendered, others: Vec<Endpoint>) -> Vec<Endpoint> {
    let mut all: Vec<Endpoint> = rendered
        .workloads()
        .iter()
        .map(|workload| {
            let ports = workload.container()["ports"]
                .as_vec()
                .into_iter()
                .flatten()
                .map(|port| port["containerPort"].as_i64().expect("a port number") as u16)
                .collect();
            Endpoint::pod(workload.app(), workload.labels.clone(), ports)
        })
        .collect();
    all.extend(others);
    all
}

/// A label selector: `matchLabels` and `matchExpressions` (`In`).
fn selects(selector: &Yaml, labels: &BTreeMap<String, String>) -> bool {
    let wanted = string_map(&selector["matchLabels"]);
    let labels_match = wanted.iter().all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector["matchExpressions"]
        .as_vec()
        .cloned()
        .unwrap_or_default();
    let expressions_match = expressions.iter().all(|expression| {
        assert_eq!(
            expression["operator"].as_str(),
            Some("In"),
            "only In is modelled"
        );
        let values: Vec<String> = expression["values"]
            .as_vec()
            .expect("values")
            .iter()
            .map(scalar)
            .collect();
        labels
            .get(expression["key"].as_str().expect("a key"))
            .is_some_and(|value| values.contains(value))
    });
    labels_match && expressions_match
}

fn in_block(block: &Yaml, address: Ipv4Addr) -> bool {
    let contains = |cidr: &str| {
        let (network, bits) = cidr.split_once('/').expect("a CIDR");
        let network: Ipv4Addr = network.parse().expect("an IPv4 network");
        let bits: u32 = bits.parse().expect("a prefix length");
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        u32::from(network) & mask == u32::from(address) & mask
    };
    let excepted = block["except"].as_vec().into_iter().flatten();
    contains(&scalar(&block["cidr"])) && !excepted.map(scalar).any(|cidr| contains(&cidr))
}

/// Whether a `from` or `to` peer of a rule in our namespace is `endpoint`.
fn peer_is(peer: &Yaml, endpoint: &Endpoint) -> bool {
    if !peer["ipBlock"].is_badvalue() {
        return endpoint
            .address
            .is_some_and(|address| in_block(&peer["ipBlock"], address));
    }
    if endpoint.address.is_some() {
        return false;
    }
    let pods = &peer["podSelector"];
    let namespaces = &peer["namespaceSelector"];
    let namespace_ok = if namespaces.is_badvalue() {
        endpoint.ours()
    } else {
        selects(namespaces, &endpoint.namespace_labels())
    };
    namespace_ok && (pods.is_badvalue() || selects(pods, &endpoint.labels))
}

fn port_allowed(rule: &Yaml, port: u16) -> bool {
    let Some(ports) = rule["ports"].as_vec() else {
        return true;
    };
    ports
        .iter()
        .any(|allowed| allowed["port"].as_i64() == Some(i64::from(port)))
}

/// Whether `direction` ("Ingress" or "Egress") of `pod` lets `peer`, on `port`.
fn lets(rendered: &Rendered, direction: &str, pod: &Endpoint, peer: &Endpoint, port: u16) -> bool {
    if !pod.ours() {
        return true;
    }
    let rules_key = direction.to_lowercase();
    let peers_key = if direction == "Ingress" { "from" } else { "to" };
    let policies: Vec<&Yaml> = rendered
        .of_kind("NetworkPolicy")
        .filter(|policy| selects(&policy["spec"]["podSelector"], &pod.labels))
        .filter(|policy| {
            let types = policy["spec"]["policyTypes"].as_vec().expect("policyTypes");
            types.iter().any(|t| t.as_str() == Some(direction))
        })
        .collect();
    if policies.is_empty() {
        return true;
    }
    policies.iter().any(|policy| {
        let rules = policy["spec"][rules_key.as_str()]
            .as_vec()
            .cloned()
            .unwrap_or_default();
        rules.iter().any(|rule| {
            let peers = rule[peers_key].as_vec().cloned().unwrap_or_default();
            port_allowed(rule, port) && peers.iter().any(|p| peer_is(p, peer))
        })
    })
}

/// Every (from, to, port) the policies let through, between two different
/// endpoints one of which is ours, to a port the receiver listens on.
pub fn allowed(rendered: &Rendered, endpoints: &[Endpoint]) -> BTreeSet<(String, String, u16)> {
    let mut flows = BTreeSet::new();
    for from in endpoints {
        let others = endpoints.iter().filter(|to| to.name != from.name);
        for to in others.filter(|to| from.ours() || to.ours()) {
            for &port in &to.ports {
                if lets(rendered, "Egress", from, to, port)
                    && lets(rendered, "Ingress", to, from, port)
                {
                    flows.insert((from.name.clone(), to.name.clone(), port));
                }
            }
        }
    }
    flows
}
