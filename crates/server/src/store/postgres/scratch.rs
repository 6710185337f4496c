//! Database URLs taken apart (to hide a password, to name another database), and the
//! scratch databases the test suites run against: one fresh database per test server.

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use sqlx::migrate::Migrator;
use sqlx::{Connection as _, PgConnection};

use super::redacted;
use uuid::Uuid;

/// What scratch databases are called; [`drop_scratch_database`] drops nothing else.
const SCRATCH_PREFIX: &str = "natter_test_";
/// What the migrated databases scratch databases are copied from are called, followed by a
/// digest of the migrations they hold (so a changed or added migration makes a new one).
const TEMPLATE_PREFIX: &str = "natter_template_";
/// The advisory lock (on the admin database) under which the template is made, replaced and
/// copied: one test process at a time, so no copy ever reads a template being built or dropped.
const TEMPLATE_LOCK: i64 = 0x6e61_7474_6572_7470; // "natterpt"

/// `natter_template_<first 16 hex digits of SHA-256 over every migration's version and
/// checksum>`.
fn template_name(migrator: &Migrator) -> String {
    let mut digest = Sha256::new();
    for m in migrator.iter() {
        digest.update(m.version.to_be_bytes());
        digest.update(&m.checksum);
    }
    let hex: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{TEMPLATE_PREFIX}{hex}")
}

/// `scheme://[userinfo@]host[:port][/database][?query]`, split without decoding anything.
pub(super) struct UrlParts<'a> {
    /// Up to and including `://` (empty when there is none).
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    /// The path with its leading `/` (empty when there is none).
    path: &'a str,
    /// `?…` and `#…`, as given.
    rest: &'a str,
}

impl<'a> UrlParts<'a> {
    pub(super) fn split(url: &'a str) -> Self {
        let (scheme, after) = match url.find("://") {
            Some(i) => url.split_at(i + 3),
            None => ("", url),
        };
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, tail) = after.split_at(authority_end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let (path, rest) = tail.split_at(path_end);
        Self {
            scheme,
            userinfo,
            host,
            path,
            rest,
        }
    }

    fn join(&self, userinfo: Option<&str>, path: &str, rest: &str) -> String {
        let at = if userinfo.is_some() { "@" } else { "" };
        format!(
            "{}{}{at}{}{path}{rest}",
            self.scheme,
            userinfo.unwrap_or(""),
            self.host
        )
    }

    /// The URL with `***` for its password, in the user info or a `password=` parameter.
    pub(super) fn redacted(&self) -> String {
        let userinfo = self.userinfo.map(|u| match u.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => u.to_string(),
        });
        let rest = match self.rest.split_once('?') {
            Some((before, query)) => {
                let (query, fragment) = match query.split_once('#') {
                    Some((q, f)) => (q, format!("#{f}")),
                    None => (query, String::new()),
                };
                let query = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => pair.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                format!("{before}?{query}{fragment}")
            }
            None => self.rest.to_string(),
        };
        self.join(userinfo.as_deref(), self.path, &rest)
    }

    /// The same server and options, database `name`.
    fn with_database(&self, name: &str) -> String {
        self.join(self.userinfo, &format!("/{name}"), self.rest)
    }

    /// The database the path names (`None`: the server's default, the user's name).
    fn database(&self) -> Option<&str> {
        Some(self.path.trim_start_matches('/')).filter(|d| !d.is_empty())
    }
}

/// Creates a fresh database `natter_test_<uuid>`, already migrated, on the server `admin_url`
/// points at (connected as a user allowed to create databases) and returns its URL:
/// `admin_url` with the new database's name as its path. For test suites, one database per
/// test server.
///
/// The database is a copy of a template migrated once per set of migrations and kept on the
/// server (`natter_template_<digest>`): copying a small database is much cheaper than
/// running every migration for each of the suites' hundreds of test servers. Templates of
/// other migrations (an older checkout's) are dropped when a new one is made.
pub async fn scratch_database(admin_url: &str) -> anyhow::Result<String> {
    let parts = UrlParts::split(admin_url);
    let shown = parts.redacted();
    let name = format!("{SCRATCH_PREFIX}{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {shown}"))?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .with_context(|| format!("waiting for the template lock on {shown}"))?;
    let copied = async {
        let template = ensure_template(&mut admin, &parts).await?;
        // Names made here of [a-z0-9_] only: nothing to quote or escape. `raw_sql`: the
        // simple protocol, as `CREATE DATABASE` must run outside any transaction block.
        sqlx::raw_sql(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating the database {name} through {shown}"))?;
        anyhow::Ok(())
    }
    .await;
    // Closing the connection would free the lock too; unlocking first keeps the others'
    // wait short.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await;
    copied?;
    unlocked.with_context(|| format!("giving up the template lock on {shown}"))?;
    admin.close().await?;
    Ok(parts.with_database(&name))
}

/// The name of the template for this build's migrations, made first if the server has none
/// yet. Runs under [`TEMPLATE_LOCK`]. It is migrated under a name of its own and renamed once
/// complete, so a test process killed half-way never leaves a half-migrated template behind.
async fn ensure_template(admin: &mut PgConnection, parts: &UrlParts<'_>) -> anyhow::Result<String> {
    let migrator = super::migrator();
    let template = template_name(&migrator);
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut *admin)
            .await
            .context("looking for the scratch databases' template")?;
    if exists {
        return Ok(template);
    }
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
    )
    .bind(TEMPLATE_PREFIX)
    .bind(&template)
    .fetch_all(&mut *admin)
    .await
    .context("listing old templates")?;
    for old in stale {
        // Only names of [a-z0-9_], as made here, are dropped.
        if old
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
                .execute(&mut *admin)
                .await
                .with_context(|| format!("dropping the old template {old}"))?;
        }
    }
    let partial = format!("{template}_partial");
    let url = parts.with_database(&partial);
    sqlx::raw_sql(&format!("CREATE DATABASE {partial}"))
        .execute(&mut *admin)
        .await
        .with_context(|| format!("creating the template {partial}"))?;
    let mut conn = PgConnection::connect(&url)
        .await
        .with_context(|| format!("connecting to the template {partial}"))?;
    migrator
        .run(&mut conn)
        .await
        .with_context(|| format!("migrating the template {partial}"))?;
    conn.close().await?;
    sqlx::raw_sql(&format!("ALTER DATABASE {partial} RENAME TO {template}"))
        .execute(&mut *admin)
        .await
        .with_context(|| format!("naming the template {template}"))?;
    Ok(template)
}

/// Drops a database made by [`scratch_database`], ending its open connections first (a
/// server dropped without shutting down may still hold some). Refuses any other name.
pub async fn drop_scratch_database(admin_url: &str, url: &str) -> anyhow::Result<()> {
    let shown = UrlParts::split(admin_url).redacted();
    let name = UrlParts::split(url)
        .database()
        .filter(|n| {
            n.strip_prefix(SCRATCH_PREFIX)
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .with_context(|| format!("{} is not a scratch database", redacted(url)))?
        .to_string();
    let mut admin = PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {shown}"))?;
    // `WITH (FORCE)` (PostgreSQL 13 and later) ends the connections still open to it.
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping the database {name} through {shown}"))?;
    admin.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::UrlParts;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        let r = |u: &str| UrlParts::split(u).redacted();
        assert_eq!(
            r("postgres://natter:s3cret@db.internal:5432/natter?sslmode=require"),
            "postgres://natter:***@db.internal:5432/natter?sslmode=require"
        );
        assert_eq!(
            r("postgres://natter@db/natter?password=s3cret&sslmode=require"),
            "postgres://natter@db/natter?password=***&sslmode=require"
        );
        // an '@' inside the password does not leak its first half
        assert_eq!(r("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(r("postgresql://h"), "postgresql://h");
    }

    #[test]
    fn another_database_on_the_same_server_keeps_credentials_and_options() {
        let with = |u: &str| UrlParts::split(u).with_database("natter_test_1");
        assert_eq!(
            with("postgres://postgres:pw@127.0.0.1:5432/postgres?sslmode=disable"),
            "postgres://postgres:pw@127.0.0.1:5432/natter_test_1?sslmode=disable"
        );
        assert_eq!(
            with("postgres://postgres@127.0.0.1"),
            "postgres://postgres@127.0.0.1/natter_test_1"
        );
        assert_eq!(UrlParts::split("postgres://h/").database(), None);
        assert_eq!(
            UrlParts::split("postgres://h/db?x=1").database(),
            Some("db")
        );
    }
}
