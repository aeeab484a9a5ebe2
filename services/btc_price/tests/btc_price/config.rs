use std::path::Path;
use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(Path::new(env!("CARGO_BIN_EXE_btc_price")))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("running btc_price");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const COMPLETE: [(&str, &str); 7] = [
    ("LOG_FORMAT", "json"),
    ("SERVICE_HOST", "127.0.0.1"),
    ("SERVICE_PORT", "0"),
    ("CB_PROTOCOL", "http"),
    ("CB_HOST", "127.0.0.1"),
    ("CB_PORT", "9"),
    ("CB_PATH", "/v2/prices"),
];

#[test]
fn a_missing_variable_stops_the_service_with_its_name() {
    for missing in ["SERVICE_PORT", "CB_HOST", "CB_PATH"] {
        let env: Vec<_> = COMPLETE
            .into_iter()
            .filter(|(name, _)| *name != missing)
            .collect();
        let (succeeded, stderr) = run_with(&env);
        assert!(!succeeded, "started without {missing}");
        assert!(
            stderr.contains(&format!("missing required environment variable {missing}")),
            "{stderr}"
        );
    }
}

#[test]
fn a_malformed_variable_stops_the_service_with_its_name_and_value() {
    let mut env = COMPLETE.to_vec();
    env.push(("CB_TIMEOUT_MS", "soon"));
    let (succeeded, stderr) = run_with(&env);
    assert!(!succeeded);
    assert!(
        stderr.contains("CB_TIMEOUT_MS") && stderr.contains("soon"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_healthcheck_command_exits_0_only_while_the_service_is_healthy() {
    let fake = testkit::FakeCoinbase::start().await;
    let service = crate::start(&fake, 0, 2000).await;
    let port = service.port().to_string();
    // Async, so that the fake Coinbase on this test's runtime can answer meanwhile.
    let check = || async {
        tokio::process::Command::new(Path::new(env!("CARGO_BIN_EXE_btc_price")))
            .arg("healthcheck")
            .env_clear()
            .env("SERVICE_PORT", &port)
            .status()
            .await
            .expect("running the healthcheck")
            .success()
    };
    assert!(check().await, "healthy while Coinbase answers");
    fake.set_mode(testkit::fake_coinbase::Mode::Error);
    assert!(!check().await, "unhealthy while Coinbase fails");
    drop(service);
    assert!(!check().await, "unhealthy when nothing listens");
}
