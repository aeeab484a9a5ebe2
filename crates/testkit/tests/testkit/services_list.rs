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
