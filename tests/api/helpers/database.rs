//! A database of its own for each test: a SQLite file in the test's
//! directory, or a fresh schema of `TEST_DATABASE_URL` (PostgreSQL), dropped
//! when the test ends.

use diesel::{Connection, RunQueryDsl};

/// A fresh database for one test, dropped with it.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(dir: &std::path::Path) -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => Self {
                url: format!("sqlite://{}", dir.join("test.sqlite3").display()),
                postgres: None,
            },
            Some(base) => Self::schema_of(base),
        }
    }

    /// A schema of `TEST_DATABASE_URL`, or else of the machine's PostgreSQL
    /// (`postgres://postgres@127.0.0.1:5432/test`), whatever the run's
    /// backend: for tests that need several processes on one PostgreSQL.
    pub fn postgres() -> Self {
        let base = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        Self::schema_of(base)
    }

    fn schema_of(base: String) -> Self {
        // Test databases are local: no TLS unless the URL asks for it.
        // libpq's OpenSSL state is torn down at process exit while
        // the pools of finished tests still hold TLS connections,
        // which crashed the test process (SIGSEGV in libcrypto) after
        // every test had passed.
        let base = if base.contains("sslmode=") {
            base
        } else {
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}sslmode=disable")
        };
        let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(&base)
            .expect("PostgreSQL reachable (TEST_DATABASE_URL, or 127.0.0.1:5432)");
        diesel::sql_query(format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .expect("schema created");
        let separator = if base.contains('?') { '&' } else { '?' };
        Self {
            url: format!("{base}{separator}options=-csearch_path%3D{schema}"),
            postgres: Some((base, schema)),
        }
    }
}

/// `SELECT count(*) AS n ...` (`sql`, with `$1` bound to `param` when
/// given) on the PostgreSQL database at `url`.
pub fn count_rows(url: &str, sql: &str, param: Option<&str>) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel::PgConnection::establish(url).expect("connects");
    let query = diesel::sql_query(sql);
    match param {
        Some(param) => query
            .bind::<diesel::sql_types::Text, _>(param)
            .get_result::<Count>(&mut conn),
        None => query.get_result::<Count>(&mut conn),
    }
    .expect("counted")
    .n
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.postgres
            && let Ok(mut admin) = diesel::PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut admin);
        }
    }
}
