use testkit::cluster::SERVICES;

/// The words of `NAME=(...)` in scripts/services.sh.
fn script_list(name: &str) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/services.sh");
    let text = std::fs::read_to_string(path).expect("reading scripts/services.sh");
    let prefix = format!("{name}=(");
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} in scripts/services.sh"));
    let words = line.strip_suffix(')').expect("a one-line list");
    words.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_rust_list_of_services_is_the_scripts_list() {
    assert_eq!(script_list("RUST_SERVICES"), SERVICES);
}

/// The first mermaid diagram of the README: the picture of the cluster.
fn readme_diagram() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("reading README.md");
    let start = readme
        .find("```mermaid\n")
        .expect("a mermaid diagram in the README");
    let body = &readme[start + "```mermaid\n".len()..];
    body[..body.find("```").expect("the diagram's end")].to_owned()
}

#[test]
fn every_service_of_the_scripts_is_a_node_of_the_readmes_diagram() {
    let diagram = readme_diagram();
    let services = [
        script_list("RUST_SERVICES"),
        script_list("INFRASTRUCTURE_SERVICES"),
    ]
    .concat();
    for service in services {
        // A node is declared as `id[label]`, `id[(label)]` or `id[[label]]`,
        // and named in its label.
        let declared = diagram.lines().any(|line| {
            let label = line.trim_start().strip_prefix(&format!("{service}["));
            label.is_some_and(|label| label.contains(service.as_str()))
        });
        assert!(declared, "{service} is not a node of the README's diagram");
    }
}
