//! The APIs describe themselves, as the original's FastAPI services did:
//! `/openapi.json` is a valid OpenAPI 3.1 document that the services keep to
//! under schemathesis's generated requests, and `/docs` renders offline.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use testkit::Cluster;
use testkit::tools::{python_tool, system_tool};

/// The services that serve a document, with the operations it must list.
const DOCUMENTED: [(&str, &str, &str); 3] = [
    ("create_buy_order", "/buy_order", "put"),
    ("fetch_buy_orders", "/buy_orders", "get"),
    ("btc_price", "/buy", "get"),
];

async fn document(cluster: &Cluster, service: &str) -> Value {
    let url = format!("{}/openapi.json", cluster.service_url(service));
    let response = reqwest::get(&url).await.expect(&url);
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("a JSON document")
}

/// Runs a program to its end (at most `limit`), its output kept.
async fn run(program: &Path, args: &[&str], limit: Duration) -> Output {
    let running = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(limit, running)
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {limit:?}", program.display()))
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn every_api_serves_a_valid_openapi_3_1_document_of_its_operations() {
    let cluster = Cluster::start().await;
    let validator = python_tool("openapi-spec-validator");
    for (service, path, method) in DOCUMENTED {
        let document = document(&cluster, service).await;
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "{service}: {}",
            document["openapi"]
        );
        assert!(
            document["paths"][path][method].is_object(),
            "{service}: no {method} {path}"
        );
        // Swagger UI groups operations by tag, under "default" when untagged.
        let tag = document["paths"][path][method]["tags"][0].as_str();
        let declared = document["tags"].as_array().cloned().unwrap_or_default();
        let described = declared.iter().any(|t| {
            t["name"].as_str() == tag && t["description"].as_str().is_some_and(|d| !d.is_empty())
        });
        assert!(
            tag.is_some() && described,
            "{service}: {method} {path} has tag {tag:?}, described: {described}"
        );
        let file = std::env::temp_dir().join(format!("{service}-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&file, document.to_string()).expect("writing the document");
        let checked = run(
            &validator,
            &[file.to_str().expect("utf-8")],
            Duration::from_secs(60),
        )
        .await;
        let _ = std::fs::remove_file(&file);
        assert!(checked.status.success(), "{service}: {}", text(&checked));
    }
}

#[tokio::test]
async fn the_create_api_documents_every_answer_it_can_give() {
    let cluster = Cluster::start().await;
    let document = document(&cluster, "create_buy_order").await;
    let put = &document["paths"]["/buy_order"]["put"];
    for status in ["200", "401", "409", "413", "422", "500", "503"] {
        assert!(put["responses"][status].is_object(), "no {status} in {put}");
    }
    assert!(put["responses"]["200"]["headers"]["Idempotent-Replayed"].is_object());
    let codes = &document["components"]["schemas"]["ConflictCode"]["enum"];
    assert_eq!(
        codes,
        &serde_json::json!([
            "btc_limit_exceeded",
            "idempotence_key_reused",
            "client_btc_limit_exceeded"
        ])
    );
    let scheme = &document["components"]["securitySchemes"]["api_key"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&"http".into(), &"bearer".into()),
        "{scheme}"
    );
    assert_eq!(document["security"], serde_json::json!([{"api_key": []}]));
    let amount = &document["components"]["schemas"]["OrderBody"]["properties"]["amount"];
    // A decimal string of a pattern, or a JSON number.
    let forms = amount["oneOf"].as_array().expect("oneOf");
    assert!(forms[0]["pattern"].is_string(), "{amount}");
    assert_eq!(forms[1]["type"], "number", "{amount}");
    let fetch = document_of_fetch(&cluster).await;
    let page_size = fetch
        .iter()
        .find(|p| p["name"] == "page_size")
        .expect("page_size");
    assert_eq!(
        (
            &page_size["schema"]["minimum"],
            &page_size["schema"]["maximum"]
        ),
        (&1.into(), &100.into())
    );
}

async fn document_of_fetch(cluster: &Cluster) -> Vec<Value> {
    let document = document(cluster, "fetch_buy_orders").await;
    document["paths"]["/buy_orders"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .clone()
}

/// schemathesis sends requests generated from the service's own document
/// (examples, boundary values, then random ones, valid and invalid) and
/// checks each answer: no 500, a status and a body that the document allows.
async fn schemathesis_finds_no_fault(service: &str) {
    let cluster = Cluster::start().await;
    let document = format!("{}/openapi.json", cluster.service_url(service));
    // As client 1, so that the operations behind the key check are explored.
    let authorization = format!("Authorization: Bearer {}", testkit::settings::dev_api_key());
    let output = run(
        &python_tool("st"),
        &[
            "run",
            &document,
            "--header",
            &authorization,
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--max-time",
            "45",
            "--workers",
            "2",
            "--seed",
            "1",
            "--no-color",
        ],
        Duration::from_secs(240),
    )
    .await;
    let report = text(&output);
    println!("{report}");
    assert!(
        output.status.success(),
        "schemathesis found faults in {service}:\n{report}"
    );
}

#[tokio::test]
async fn schemathesis_finds_no_fault_in_create_buy_order() {
    schemathesis_finds_no_fault("create_buy_order").await;
}

#[tokio::test]
async fn schemathesis_finds_no_fault_in_fetch_buy_orders() {
    schemathesis_finds_no_fault("fetch_buy_orders").await;
}

#[tokio::test]
async fn schemathesis_finds_no_fault_in_btc_price() {
    schemathesis_finds_no_fault("btc_price").await;
}

/// Chromium, headless, with every host but loopback unresolvable, loads
/// `/docs`, runs its scripts, and the rendered page lists the operation.
#[tokio::test]
async fn the_docs_page_renders_offline_and_lists_the_operations() {
    let cluster = Cluster::start().await;
    for (service, path, method) in DOCUMENTED {
        let url = format!("{}/docs/", cluster.service_url(service));
        let profile = tempdir(service);
        let output = run(
            &system_tool("chromium"),
            &[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                &format!("--user-data-dir={}", profile.display()),
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=15000",
                "--dump-dom",
                &url,
            ],
            Duration::from_secs(120),
        )
        .await;
        let _ = std::fs::remove_dir_all(&profile);
        let dom = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{service}: {}", text(&output));
        // Swagger UI renders each operation as an "opblock" with its method
        // and path; the title comes from the document it fetched.
        let operation = format!("opblock-{method}");
        assert!(
            dom.contains(&operation),
            "{service}: no {operation} in the page:\n{dom}"
        );
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{service}: no {path} in the page:\n{dom}"
        );
        assert!(
            dom.contains(service),
            "{service}: the title is missing:\n{dom}"
        );
        let tag = document(&cluster, service).await["paths"][path][method]["tags"][0].clone();
        let tag = tag.as_str().expect("a tag");
        assert!(
            dom.contains(&format!("data-tag=\"{tag}\"")),
            "{service}: no section of the tag {tag:?}:\n{dom}"
        );
        assert!(
            !dom.contains("data-tag=\"default\""),
            "{service}: operations under the tag \"default\":\n{dom}"
        );
    }
}

fn tempdir(service: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chromium-{service}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a profile folder");
    dir
}
