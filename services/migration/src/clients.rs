//! `migration clients ...`: the operator's commands for clients, their BTC
//! limits and their API keys, run against the write model as the schema's
//! owner. A key is printed once, when it is issued; the table keeps only its
//! SHA-256 (`platform::auth::key_hash`).

use platform::auth::key_hash;
use platform::config::{ConfigError, Env};
use platform::events;
use platform::postgres::DatabaseConfig;
use rust_decimal::Decimal;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

/// How to call the commands, printed on a usage error.
pub const USAGE: &str = "usage: migration clients <command>
  list                             every client: id, email, BTC limit, BTC bought, live keys
  create <email> [<btc limit>]     a new client, with a BTC limit of its own if given
  set-limit <client id> <btc|none> sets or removes a client's BTC limit
  issue-key <client id>            a new API key, printed only this once
  list-keys [<client id>]          every key (never the key itself), newest first
  revoke-key <key id>              the key stops working within AUTH_CACHE_TTL_MS";

/// One of the commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientsCommand {
    List,
    Create {
        email: String,
        btc_limit: Option<Decimal>,
    },
    SetLimit {
        client: i64,
        btc_limit: Option<Decimal>,
    },
    IssueKey {
        client: i64,
    },
    ListKeys {
        client: Option<i64>,
    },
    RevokeKey {
        key: i64,
    },
}

impl ClientsCommand {
    /// Reads the words after `clients`. Fails, saying what is wrong, on
    /// anything else.
    pub fn parse(words: &[String]) -> Result<Self, String> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["list"] => Ok(Self::List),
            ["create", email] => Ok(Self::Create {
                email: email.to_string(),
                btc_limit: None,
            }),
            ["create", email, limit] => Ok(Self::Create {
                email: email.to_string(),
                btc_limit: Some(btc(limit)?),
            }),
            ["set-limit", client, "none"] => Ok(Self::SetLimit {
                client: id(client)?,
                btc_limit: None,
            }),
            ["set-limit", client, limit] => Ok(Self::SetLimit {
                client: id(client)?,
                btc_limit: Some(btc(limit)?),
            }),
            ["issue-key", client] => Ok(Self::IssueKey {
                client: id(client)?,
            }),
            ["list-keys"] => Ok(Self::ListKeys { client: None }),
            ["list-keys", client] => Ok(Self::ListKeys {
                client: Some(id(client)?),
            }),
            ["revoke-key", key] => Ok(Self::RevokeKey { key: id(key)? }),
            _ => Err(USAGE.to_owned()),
        }
    }
}

fn id(text: &str) -> Result<i64, String> {
    text.parse().map_err(|_| format!("{text:?} is not an id"))
}

fn btc(text: &str) -> Result<Decimal, String> {
    match text.parse::<Decimal>() {
        Ok(limit) if limit > Decimal::ZERO && limit.scale() <= 8 => Ok(limit),
        _ => Err(format!(
            "{text:?} is not a BTC amount above 0 with at most 8 decimal places"
        )),
    }
}

/// The write model, reached as the schema's owner (`WRITE_MODEL_DB_*`).
pub fn write_model_from_env(env: &Env) -> Result<DatabaseConfig, ConfigError> {
    Ok(DatabaseConfig::from_env(env, "WRITE_MODEL_DB")?.without_timeouts())
}

/// Runs `command`; its summary is what the operator reads.
pub async fn run(
    write_model: DatabaseConfig,
    command: ClientsCommand,
) -> Result<String, sqlx::Error> {
    let pool = write_model.connect().await?;
    let done = match command {
        ClientsCommand::List => list(&pool).await,
        ClientsCommand::Create { email, btc_limit } => create(&pool, &email, btc_limit).await,
        ClientsCommand::SetLimit { client, btc_limit } => set_limit(&pool, client, btc_limit).await,
        ClientsCommand::IssueKey { client } => issue_key(&pool, client).await,
        ClientsCommand::ListKeys { client } => list_keys(&pool, client).await,
        ClientsCommand::RevokeKey { key } => revoke_key(&pool, key).await,
    };
    pool.close().await;
    done
}

async fn list(pool: &PgPool) -> Result<String, sqlx::Error> {
    let rows: Vec<(i64, String, Option<Decimal>, Decimal, i64)> = sqlx::query_as(
        "SELECT c.id, c.email, c.btc_limit, c.btc_total, \
                (SELECT count(*) FROM api_key k WHERE k.client_id = c.id AND k.revoked_at IS NULL) \
           FROM client c ORDER BY c.id",
    )
    .fetch_all(pool)
    .await?;
    let mut listing = "client\temail\tbtc limit\tbtc bought\tlive keys".to_owned();
    for (id, email, limit, bought, keys) in rows {
        let limit = limit.map_or_else(|| "-".to_owned(), |l| l.to_string());
        listing.push_str(&format!("\n{id}\t{email}\t{limit}\t{bought}\t{keys}"));
    }
    Ok(listing)
}

async fn create(
    pool: &PgPool,
    email: &str,
    btc_limit: Option<Decimal>,
) -> Result<String, sqlx::Error> {
    let client: i64 =
        sqlx::query_scalar("INSERT INTO client (email, btc_limit) VALUES ($1, $2) RETURNING id")
            .bind(email)
            .bind(btc_limit)
            .fetch_one(pool)
            .await?;
    tracing::info!(
        client_id = client,
        btc_limit = btc_limit.map(|l| l.to_string()),
        message = events::CLIENT_CREATED
    );
    Ok(format!("client {client} created ({email})"))
}

async fn set_limit(
    pool: &PgPool,
    client: i64,
    btc_limit: Option<Decimal>,
) -> Result<String, sqlx::Error> {
    let updated = sqlx::query("UPDATE client SET btc_limit = $2 WHERE id = $1")
        .bind(client)
        .bind(btc_limit)
        .execute(pool)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(sqlx::Error::RowNotFound);
    }
    tracing::info!(
        client_id = client,
        btc_limit = btc_limit.map(|l| l.to_string()),
        message = events::CLIENT_BTC_LIMIT_SET
    );
    Ok(match btc_limit {
        Some(limit) => format!("client {client} may hold at most {limit} BTC"),
        None => format!("client {client} has no BTC limit of its own"),
    })
}

/// A fresh key: `rsd_` and 64 hex digits holding 244 random bits (two v4
/// UUIDs, from the operating system's random source).
fn new_key() -> String {
    format!("rsd_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// What tells a key apart in listings: its first 12 characters.
fn prefix(key: &str) -> &str {
    &key[..key.len().min(12)]
}

async fn issue_key(pool: &PgPool, client: i64) -> Result<String, sqlx::Error> {
    let key = new_key();
    let id = insert_key(pool, client, &key)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    tracing::info!(
        client_id = client,
        key_id = id,
        prefix = prefix(&key),
        message = events::API_KEY_ISSUED
    );
    Ok(format!(
        "{key}\napi key {id} of client {client}: it is shown only this once"
    ))
}

/// Stores a key's hash for `client`; None if that key is already stored.
async fn insert_key(pool: &PgPool, client: i64, key: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_key (client_id, key_hash, prefix) VALUES ($1, $2, $3) \
         ON CONFLICT (key_hash) DO NOTHING RETURNING id",
    )
    .bind(client)
    .bind(&key_hash(key)[..])
    .bind(prefix(key))
    .fetch_optional(pool)
    .await
}

/// Makes the development key of `DEV_API_KEY` a key of client 1, unless it
/// is stored already (a revoked one stays revoked).
pub(crate) async fn install_dev_key(pool: &PgPool, key: &str) -> Result<(), sqlx::Error> {
    if let Some(id) = insert_key(pool, 1, key).await? {
        tracing::warn!(
            client_id = 1,
            key_id = id,
            prefix = prefix(key),
            message = events::DEV_API_KEY_INSTALLED
        );
    }
    Ok(())
}

type KeyRow = (
    i64,
    i64,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

async fn list_keys(pool: &PgPool, client: Option<i64>) -> Result<String, sqlx::Error> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT id, client_id, prefix, created_at, last_used_at, revoked_at FROM api_key \
         WHERE $1::bigint IS NULL OR client_id = $1 ORDER BY id DESC",
    )
    .bind(client)
    .fetch_all(pool)
    .await?;
    let time = |t: Option<OffsetDateTime>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    let mut listing = "key\tclient\tprefix\tcreated\tlast used\trevoked".to_owned();
    for (id, client, prefix, created, used, revoked) in rows {
        let created = time(Some(created));
        listing.push_str(&format!(
            "\n{id}\t{client}\t{prefix}\t{created}\t{}\t{}",
            time(used),
            time(revoked)
        ));
    }
    Ok(listing)
}

async fn revoke_key(pool: &PgPool, key: i64) -> Result<String, sqlx::Error> {
    let revoked =
        sqlx::query("UPDATE api_key SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
            .bind(key)
            .execute(pool)
            .await?;
    if revoked.rows_affected() == 0 {
        return Err(sqlx::Error::RowNotFound);
    }
    tracing::info!(key_id = key, message = events::API_KEY_REVOKED);
    Ok(format!(
        "api key {key} revoked; it stops working within AUTH_CACHE_TTL_MS"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<ClientsCommand, String> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        ClientsCommand::parse(&words)
    }

    #[test]
    fn commands_are_read_with_their_arguments_checked() {
        assert_eq!(
            parse("create a@example.com 1.5"),
            Ok(ClientsCommand::Create {
                email: "a@example.com".into(),
                btc_limit: Some("1.5".parse().expect("decimal"))
            })
        );
        assert_eq!(
            parse("set-limit 2 none"),
            Ok(ClientsCommand::SetLimit {
                client: 2,
                btc_limit: None
            })
        );
        assert_eq!(
            parse("revoke-key 7"),
            Ok(ClientsCommand::RevokeKey { key: 7 })
        );
        assert_eq!(
            parse("list-keys"),
            Ok(ClientsCommand::ListKeys { client: None })
        );
        assert_eq!(parse("list"), Ok(ClientsCommand::List));
        for wrong in [
            "",
            "issue-key",
            "issue-key x",
            "create a 0",
            "create a 0.000000001",
            "set-limit 1 -1",
            "drop 1",
            "list 1",
        ] {
            assert!(parse(wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn keys_are_long_random_and_distinct() {
        let (first, second) = (new_key(), new_key());
        assert_ne!(first, second);
        assert_eq!(first.len(), 4 + 64);
        assert!(first.starts_with("rsd_"));
        assert_eq!(prefix(&first), &first[..12]);
    }
}
