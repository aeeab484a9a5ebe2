//! One run's results, read back from its JSON lines, for `bench report`.

use std::path::Path;

use serde_json::Value;

/// The results of one run, a JSON object per line.
pub(crate) struct Results(pub Vec<Value>);

impl Results {
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("reading {}: {error}", path.display()))?;
        let rows = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Ok(Self(rows))
    }

    /// The rows of `scenario`.
    pub(crate) fn of<'a>(&'a self, scenario: &'a str) -> impl Iterator<Item = &'a Value> {
        self.0
            .iter()
            .filter(move |row| row["scenario"].as_str() == Some(scenario))
    }

    /// The row of `scenario` at `concurrency`, the last if it ran twice.
    pub(crate) fn at(&self, scenario: &str, concurrency: u64) -> Option<&Value> {
        self.0.iter().rfind(|row| {
            row["scenario"].as_str() == Some(scenario)
                && row["concurrency"].as_u64() == Some(concurrency)
        })
    }

    /// The first row whose scenario starts with `prefix`.
    pub(crate) fn starting(&self, prefix: &str) -> Option<&Value> {
        self.0.iter().find(|row| {
            row["scenario"]
                .as_str()
                .is_some_and(|name| name.starts_with(prefix))
        })
    }
}

/// 12345.6 as "12,346".
pub(crate) fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}
