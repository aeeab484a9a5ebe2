//! A service whose background work (batch writer, relay, consumer) ends
//! stops serving and fails, so that its supervisor restarts it; it does not
//! go on answering as if it worked. A handler that panics still answers.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use platform::config::Env;
use platform::http::{self, ListenConfig};

async fn listener() -> http::Listener {
    let env = Env::from_pairs([("SERVICE_HOST", "127.0.0.1"), ("SERVICE_PORT", "0")]);
    let listen = ListenConfig::from_env(&env).expect("a listen config");
    http::bind(&listen).await.expect("binding")
}

fn router() -> Router {
    Router::new().route("/healthcheck", get(|| async { "ok" }))
}

#[tokio::test]
async fn a_background_task_that_panics_stops_the_service_with_an_error() {
    let listener = listener().await;
    let url = format!(
        "http://{}/healthcheck",
        listener.local_addr().expect("bound")
    );
    let background = |_cancel| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        panic!("the worker broke");
    };
    let serving = tokio::spawn(http::serve_with_background(
        listener,
        router(),
        std::future::pending(),
        "worker",
        background,
    ));
    let before = reqwest::get(&url)
        .await
        .expect("served while the worker runs");
    assert_eq!(before.status(), 200);

    let served = tokio::time::timeout(Duration::from_secs(20), serving).await;
    let served = served
        .expect("the service stopped")
        .expect("no panic escaped");
    let error = served.expect_err("it fails rather than serve on");
    assert!(error.to_string().contains("worker"), "{error}");
    assert!(
        reqwest::get(&url).await.is_err(),
        "nothing answers any more"
    );
}

#[tokio::test]
async fn a_background_task_that_returns_early_also_stops_the_service() {
    let listener = listener().await;
    let background = |_cancel| async {};
    let served = tokio::time::timeout(
        Duration::from_secs(20),
        http::serve_with_background(
            listener,
            router(),
            std::future::pending(),
            "relay",
            background,
        ),
    )
    .await
    .expect("the service stopped");
    assert!(served.is_err());
}

#[tokio::test]
async fn on_shutdown_the_background_task_is_cancelled_and_the_service_ends_cleanly() {
    let listener = listener().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let background = |cancel: tokio_util::sync::CancellationToken| async move {
        cancel.cancelled().await;
    };
    let shutdown = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(http::serve_with_background(
        listener,
        router(),
        shutdown,
        "worker",
        background,
    ));
    stop.send(()).expect("the service listens for shutdown");
    let served = tokio::time::timeout(Duration::from_secs(20), serving).await;
    assert!(served.expect("it stopped").expect("no panic").is_ok());
}

#[tokio::test]
async fn a_handler_that_panics_answers_500_with_a_reference() {
    let listener = listener().await;
    let url = format!("http://{}/broken", listener.local_addr().expect("bound"));
    let router = router().route(
        "/broken",
        get(|| async {
            let amounts: Vec<u8> = Vec::new();
            amounts[3].to_string()
        }),
    );
    let _serving = tokio::spawn(http::serve(listener, router, std::future::pending()));
    let response = reqwest::get(&url)
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    let detail = body["detail"].as_str().expect("a detail");
    assert!(
        detail.starts_with("an error occurred. please contact support and quote reference "),
        "{detail}"
    );
    assert!(!detail.contains("index out of bounds"), "{detail}");
}
