//! Waiting out a backing service that is not there yet.

use std::future::Future;
use std::time::Duration;

/// Runs `attempt` until it succeeds, calling `on_error` and sleeping `wait`
/// after each failure. It never gives up: stop it by dropping the future
/// (e.g. in a `select!` with the shutdown signal).
pub async fn until_ok<T, E, Attempt, Fut>(
    wait: Duration,
    mut attempt: Attempt,
    mut on_error: impl FnMut(&E),
) -> T
where
    Attempt: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => on_error(&error),
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_after_each_failure_until_the_attempt_succeeds() {
        let mut attempts = 0;
        let mut failures = Vec::new();
        let started = tokio::time::Instant::now();
        let value = until_ok(
            Duration::from_secs(2),
            || {
                attempts += 1;
                let outcome = if attempts < 3 {
                    Err(attempts)
                } else {
                    Ok("up")
                };
                async move { outcome }
            },
            |error| failures.push(*error),
        )
        .await;
        assert_eq!(value, "up");
        assert_eq!(failures, vec![1, 2]);
        assert_eq!(started.elapsed(), Duration::from_secs(4));
    }
}
