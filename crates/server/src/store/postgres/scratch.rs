//! Database URLs taken apart (to hide a password, to name another database), and the
//! scratch databases the test suites run against: one fresh database per test server.

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection};

use super::redacted;
use uuid::Uuid;

/// What scratch databases are called; [`drop_scratch_database`] drops nothing else.
const SCRATCH_PREFIX: &str = "natter_test_";

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

/// Creates a fresh, empty database `natter_test_<uuid>` on the server `admin_url` points at
/// (connected as a user allowed to create databases) and returns its URL: `admin_url` with
/// the new database's name as its path. For test suites, one database per test server.
pub async fn scratch_database(admin_url: &str) -> anyhow::Result<String> {
    let parts = UrlParts::split(admin_url);
    let shown = parts.redacted();
    let name = format!("{SCRATCH_PREFIX}{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {shown}"))?;
    // A name made here of [a-z0-9_] only: nothing to quote or escape. `raw_sql`: the simple
    // protocol, as `CREATE DATABASE` must run outside any transaction block.
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating the database {name} through {shown}"))?;
    admin.close().await?;
    Ok(parts.with_database(&name))
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
