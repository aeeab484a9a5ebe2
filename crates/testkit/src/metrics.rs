//! A service's Prometheus metrics, as a test reads them off `/metrics`.

/// The sum of the samples on `{base_url}/metrics` whose lines `matches` picks
/// (0 when there are none).
pub async fn metric_sum(base_url: &str, matches: impl Fn(&str) -> bool) -> f64 {
    let url = format!("{base_url}/metrics");
    let metrics = reqwest::get(&url)
        .await
        .expect(&url)
        .text()
        .await
        .expect("metrics");
    metrics
        .lines()
        .filter(|line| matches(line))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
