//! Each service's own login to PostgreSQL. The migrations create a group
//! role per kind of access with only the grants that access needs; here the
//! migration service, which owns the schema, creates each service's login
//! role (or sets its password again) and makes it a member of its groups.
//! A service whose `{SERVICE}_DB_USER` is not set is given nothing, and
//! logs in as whoever its own variables say (as in the tests and natively).

use platform::config::{ConfigError, Env};
use sqlx::PgPool;

/// A login role and its password.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    password: String,
}

impl std::fmt::Debug for Login {
    // The password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The logins of the services, those that are configured.
#[derive(Debug, Clone, Default)]
pub struct ServiceLogins {
    /// `CREATE_BUY_ORDER_DB_USER`, `_PWD`.
    pub create_buy_order: Option<Login>,
    /// `READ_MODEL_SYNC_DB_USER`, `_PWD`.
    pub read_model_sync: Option<Login>,
    /// `FETCH_BUY_ORDERS_DB_USER`, `_PWD`.
    pub fetch_buy_orders: Option<Login>,
}

impl ServiceLogins {
    /// Fails when a user is set without its password.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            create_buy_order: login(env, "CREATE_BUY_ORDER_DB")?,
            read_model_sync: login(env, "READ_MODEL_SYNC_DB")?,
            fetch_buy_orders: login(env, "FETCH_BUY_ORDERS_DB")?,
        })
    }

    /// The write model's grants: (login, group role).
    pub(crate) fn write_model(&self) -> Vec<(&Login, &'static str)> {
        let create = self
            .create_buy_order
            .iter()
            .map(|l| (l, "rsdist_order_writer"));
        // read_model_sync reads the write model for `rebuild`.
        let sync = self
            .read_model_sync
            .iter()
            .map(|l| (l, "rsdist_order_reader"));
        // fetch_buy_orders checks API keys there.
        let fetch = self
            .fetch_buy_orders
            .iter()
            .map(|l| (l, "rsdist_key_checker"));
        create.chain(sync).chain(fetch).collect()
    }

    /// The read model's grants: (login, group role).
    pub(crate) fn read_model(&self) -> Vec<(&Login, &'static str)> {
        let sync = self
            .read_model_sync
            .iter()
            .map(|l| (l, "rsdist_read_model_writer"));
        let fetch = self
            .fetch_buy_orders
            .iter()
            .map(|l| (l, "rsdist_read_model_reader"));
        sync.chain(fetch).collect()
    }
}

fn login(env: &Env, prefix: &str) -> Result<Option<Login>, ConfigError> {
    let user: String = env.optional(&format!("{prefix}_USER"), String::new())?;
    if user.is_empty() {
        return Ok(None);
    }
    let password = env.required(&format!("{prefix}_PWD"))?;
    Ok(Some(Login { user, password }))
}

/// Creates each login (or sets its password) and grants it its group. Names
/// and passwords are quoted by PostgreSQL's own `format`, since role
/// statements take no parameters.
pub(crate) async fn provision(pool: &PgPool, grants: &[(&Login, &str)]) -> Result<(), sqlx::Error> {
    for (login, group) in grants {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)")
                .bind(&login.user)
                .fetch_one(pool)
                .await?;
        let verb = if exists { "ALTER" } else { "CREATE" };
        let statements: (String, String) = sqlx::query_as(
            "SELECT format('%s ROLE %I LOGIN INHERIT PASSWORD %L', $1::text, $2::text, $3::text), \
                    format('GRANT %I TO %I', $4::text, $2::text)",
        )
        .bind(verb)
        .bind(&login.user)
        .bind(&login.password)
        .bind(group)
        .fetch_one(pool)
        .await?;
        sqlx::raw_sql(&statements.0).execute(pool).await?;
        sqlx::raw_sql(&statements.1).execute(pool).await?;
    }
    Ok(())
}
