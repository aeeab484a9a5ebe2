//! Typed configuration read from environment variables with the original's
//! names. Every failure names the variable, so a service that cannot start
//! says exactly what to fix.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// A variable that is missing or cannot be read as what it configures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {name}")]
    Missing { name: String },
    #[error("environment variable {name} is malformed ({value:?}): {reason}")]
    Malformed {
        name: String,
        value: String,
        reason: String,
    },
}

/// Where variables are looked up: the process environment, or a fixed map in tests.
pub struct Env {
    values: HashMap<String, String>,
    /// Every name looked up, so a check can compare them with what a
    /// deployment sets.
    looked_up: Mutex<BTreeSet<String>>,
}

impl Env {
    /// A snapshot of the process environment.
    pub fn from_process() -> Self {
        Self::from_map(std::env::vars().collect())
    }

    /// A fixed set of variables, for tests and tools.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let values = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned()));
        Self::from_map(values.collect())
    }

    fn from_map(values: HashMap<String, String>) -> Self {
        Self {
            values,
            looked_up: Mutex::default(),
        }
    }

    /// The names looked up so far, set or not.
    pub fn looked_up(&self) -> BTreeSet<String> {
        self.looked_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The variable parsed as `T`. Fails when it is unset, empty or malformed.
    pub fn required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name) {
            Some(value) => parse(name, value),
            None => Err(ConfigError::Missing {
                name: name.to_owned(),
            }),
        }
    }

    /// The variable parsed as `T`, or `default` when unset or empty.
    /// Fails when it is set but malformed.
    pub fn optional<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(name)
            .map_or(Ok(default), |value| parse(name, value))
    }

    /// A whole number of seconds, or `default` seconds when unset.
    pub fn seconds(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        self.optional(name, default).map(Duration::from_secs)
    }

    /// A whole number of milliseconds, or `default` milliseconds when unset.
    pub fn millis(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        self.optional(name, default).map(Duration::from_millis)
    }

    /// As [`Env::optional`], for a size or a count where zero makes no
    /// sense (a prefetch of 0, a pool of 0): fails when it is zero.
    pub fn positive<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + Default + PartialEq + Display,
        T::Err: Display,
    {
        let value = self.optional(name, default)?;
        if value == T::default() {
            return Err(ConfigError::Malformed {
                name: name.to_owned(),
                value: value.to_string(),
                reason: "must be greater than 0".into(),
            });
        }
        Ok(value)
    }

    /// As [`Env::millis`], for an interval or a timeout that must not be zero.
    pub fn positive_millis(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        self.positive(name, default).map(Duration::from_millis)
    }

    // An empty value counts as unset: compose writes `NAME=` for an unset default.
    fn raw(&self, name: &str) -> Option<&str> {
        self.looked_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned());
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

fn parse<T>(name: &str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .trim()
        .parse()
        .map_err(|error: T::Err| ConfigError::Malformed {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: error.to_string(),
        })
}

/// An HTTP service this one calls, e.g. `BTC_PRICE_PROTOCOL`, `_HOST`, `_PORT`.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub protocol: String,
    pub host: String,
    pub port: u16,
}

impl UpstreamConfig {
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            protocol: env.required(&format!("{prefix}_PROTOCOL"))?,
            host: env.required(&format!("{prefix}_HOST"))?,
            port: env.required(&format!("{prefix}_PORT"))?,
        })
    }

    /// `protocol://host:port`, with no trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}", self.protocol, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named() {
        let env = Env::from_pairs([("SERVICE_HOST", "0.0.0.0")]);
        let error = env
            .required::<u16>("SERVICE_PORT")
            .expect_err("SERVICE_PORT is missing");
        assert_eq!(
            error,
            ConfigError::Missing {
                name: "SERVICE_PORT".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "missing required environment variable SERVICE_PORT"
        );
    }

    #[test]
    fn an_empty_variable_counts_as_missing() {
        let env = Env::from_pairs([("SERVICE_HOST", ""), ("SERVICE_PORT", "80")]);
        let error = env
            .required::<String>("SERVICE_HOST")
            .expect_err("SERVICE_HOST is empty");
        assert_eq!(
            error,
            ConfigError::Missing {
                name: "SERVICE_HOST".into()
            }
        );
    }

    #[test]
    fn a_malformed_variable_is_named_with_its_value() {
        let env = Env::from_pairs([("SERVICE_HOST", "0.0.0.0"), ("SERVICE_PORT", "eighty")]);
        let error = env
            .required::<u16>("SERVICE_PORT")
            .expect_err("SERVICE_PORT is not a port");
        let message = error.to_string();
        assert!(
            message.contains("SERVICE_PORT") && message.contains("eighty"),
            "{message}"
        );
    }

    #[test]
    fn optional_variables_fall_back_to_their_default_but_not_when_malformed() {
        let env = Env::from_pairs([("CB_TIMEOUT_MS", "250"), ("CB_CACHE_TTL_MS", "-1")]);
        assert_eq!(
            env.millis("CB_TIMEOUT_MS", 2000),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            env.seconds("Q_CLIENT_CONNECT_RETRY_S", 3),
            Ok(Duration::from_secs(3))
        );
        let error = env.millis("CB_CACHE_TTL_MS", 1000).expect_err("negative");
        assert!(error.to_string().contains("CB_CACHE_TTL_MS"));
    }

    #[test]
    fn a_zero_where_zero_would_stop_the_work_is_refused_by_name() {
        let env = Env::from_pairs([("Q_PREFETCH", "0"), ("OUTBOX_SWEEP_MS", "0")]);
        let prefetch = env.positive::<u16>("Q_PREFETCH", 256).expect_err("zero");
        assert!(prefetch.to_string().contains("Q_PREFETCH"), "{prefetch}");
        let sweep = env
            .positive_millis("OUTBOX_SWEEP_MS", 1000)
            .expect_err("zero");
        assert!(sweep.to_string().contains("OUTBOX_SWEEP_MS"), "{sweep}");
        assert_eq!(env.positive::<u16>("UNSET", 7), Ok(7));
    }
}
