#![forbid(unsafe_code)]
#![expect(
    clippy::expect_used,
    reason = "a test harness reports failure by panicking"
)]
//! Test harness: starts the real server on 127.0.0.1 port 0 over HTTPS, on a fresh database per
//! test (a temporary SQLCipher file, or a PostgreSQL database created and dropped for the test),
//! and gives tests a cookie-keeping HTTPS client that trusts the server's own certificate.
//!
//! PostgreSQL: `TESTVAULT_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`). When
//! no server answers, PostgreSQL tests are skipped with a loud message — unless `CI` is set, in
//! which case they fail.

pub mod authenticator;
mod client;
mod db;
pub mod idp;
mod smtp;

pub use client::{Client, Resp, http_client};
pub use db::{Backend, TestDb};
pub use smtp::SmtpServer;

use std::net::SocketAddr;
use testvault::config::{Config, Layer};
use testvault::server::Server;

pub const OWNER_EMAIL: &str = "owner@acme.test";
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

/// A running Testvault on its own database and data directory.
pub struct TestApp {
    pub url: String,
    pub addr: SocketAddr,
    pub server: Option<Server>,
    pub db: TestDb,
    pub data_dir: tempfile::TempDir,
    ca_pem: Vec<u8>,
    pub setup_link: Option<String>,
}

/// Generates a `sqlite` and a `postgres` test from one `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::Backend::postgres_available(stringify!($name)).await {
                        super::$name($crate::Backend::Postgres).await;
                    }
                }
            }
        )*
    };
}

impl TestApp {
    /// Starts a server on a new database of `backend`.
    pub async fn start(backend: Backend) -> TestApp {
        let db = TestDb::create(backend).await;
        Self::start_on(db).await
    }

    /// Starts a server on `db` (which the app then owns and drops).
    pub async fn start_on(db: TestDb) -> TestApp {
        Self::start_with(db, |l| l).await
    }

    /// Like `start_on`, letting the test adjust the configuration layer.
    pub async fn start_with(db: TestDb, adjust: impl FnOnce(Layer) -> Layer) -> TestApp {
        testvault::tls::install_crypto_provider();
        // `TESTKIT_LOG=info cargo test … -- --nocapture` shows the server's log.
        if let Ok(filter) = std::env::var("TESTKIT_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let data_dir = tempfile::tempdir().expect("temp dir");
        let cfg = Self::config(&db, data_dir.path(), adjust);
        let server = testvault::server::start(&cfg).await.expect("server starts");
        let addr = server.addr;
        let ca_pem = std::fs::read(&server.cert_path).expect("certificate readable");
        TestApp {
            url: format!("https://{addr}"),
            addr,
            setup_link: server.setup_link.clone(),
            server: Some(server),
            db,
            data_dir,
            ca_pem,
        }
    }

    fn config(
        db: &TestDb,
        data_dir: &std::path::Path,
        adjust: impl FnOnce(Layer) -> Layer,
    ) -> Config {
        let layer = Layer {
            data_dir: Some(data_dir.to_path_buf()),
            listen: Some("127.0.0.1:0".parse().expect("address")),
            database_url: db.postgres_url(),
            master_key: Some(db.master_key_hex().to_string()),
            ..Layer::default()
        };
        Config::resolve(None, Layer::default(), adjust(layer)).expect("valid test config")
    }

    /// A second, independent server process-equivalent on the same database and master key
    /// (stateless instances behind a load balancer).
    pub async fn another_instance(&self) -> (Server, String, Vec<u8>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = Self::config(&self.db, dir.path(), |l| l);
        let server = testvault::server::start(&cfg)
            .await
            .expect("second instance starts");
        let url = format!("https://{}", server.addr);
        let ca = std::fs::read(&server.cert_path).expect("certificate readable");
        // The directory only holds the instance's own certificate; keep it for the test's life.
        std::mem::forget(dir);
        (server, url, ca)
    }

    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// A fresh browser-like client (no cookies).
    pub fn client(&self) -> Client {
        Client::new(&self.url, &self.ca_pem)
    }

    /// Completes first-run setup through the setup page and returns the owner's signed-in client.
    pub async fn setup_owner(&self) -> Client {
        let link = self
            .setup_link
            .clone()
            .expect("a fresh app has a setup link");
        // The link names the public URL, which need not be the address we test on.
        let path = link[link.find("/setup/").expect("a setup path")..].to_string();
        let owner = self.client();
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "setup page: {}", page.body);
        let resp = owner
            .post_form(
                &path,
                &[
                    ("org_name", "Acme"),
                    ("display_name", "Olive Owner"),
                    ("email", OWNER_EMAIL),
                    ("password", OWNER_PASSWORD),
                ],
            )
            .await;
        assert_eq!(resp.status, 303, "setup should redirect: {}", resp.body);
        owner
    }

    /// Invites `email` (as the owner) and accepts as a new member; returns the member's client.
    pub async fn add_member(&self, owner: &Client, email: &str, password: &str) -> Client {
        let inv = owner
            .post_json(
                "/api/v1/invitations",
                &serde_json::json!({ "email": email }),
            )
            .await;
        assert_eq!(inv.status, 201, "invite: {}", inv.body);
        let link = inv.json()["data"]["link"]
            .as_str()
            .expect("link")
            .to_string();
        let path = link.trim_start_matches(&self.url).to_string();
        let member = self.client();
        assert_eq!(member.get(&path).await.status, 200);
        let resp = member
            .post_form(
                &path,
                &[("display_name", "Max Member"), ("password", password)],
            )
            .await;
        assert_eq!(resp.status, 303, "accept: {}", resp.body);
        member
    }

    /// Runs SQL against this app's database (to age sessions, tamper with rows, …).
    pub async fn sql(&self, statement: &str) {
        match self.db.backend {
            Backend::Postgres => {
                let mut conn = self.pg_conn().await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&mut conn)
                    .await
                    .expect("statement runs");
                let _ = sqlx::Connection::close(conn).await;
            }
            Backend::Sqlite => {
                let mut conn = self.sqlite_conn().await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&mut conn)
                    .await
                    .expect("statement runs");
                let _ = sqlx::Connection::close(conn).await;
            }
        }
    }

    /// Like `sql`, but returns the database's refusal instead of panicking.
    pub async fn try_sql(&self, statement: &str) -> Result<(), String> {
        let stmt = sqlx::AssertSqlSafe(statement.to_string());
        let result = match self.db.backend {
            Backend::Postgres => {
                let mut conn = self.pg_conn().await;
                let r = sqlx::raw_sql(stmt).execute(&mut conn).await.map(|_| ());
                let _ = sqlx::Connection::close(conn).await;
                r
            }
            Backend::Sqlite => {
                let mut conn = self.sqlite_conn().await;
                let r = sqlx::raw_sql(stmt).execute(&mut conn).await.map(|_| ());
                let _ = sqlx::Connection::close(conn).await;
                r
            }
        };
        result.map_err(|e| e.to_string())
    }

    /// The first column of the first row of `query`, a number (`COUNT(*)`, an id).
    pub async fn sql_i64(&self, query: &str) -> i64 {
        let q = || sqlx::AssertSqlSafe(query.to_string());
        match self.db.backend {
            Backend::Postgres => {
                let mut conn = self.pg_conn().await;
                let v = sqlx::query_scalar(q())
                    .fetch_one(&mut conn)
                    .await
                    .expect("query runs");
                let _ = sqlx::Connection::close(conn).await;
                v
            }
            Backend::Sqlite => {
                let mut conn = self.sqlite_conn().await;
                let v = sqlx::query_scalar(q())
                    .fetch_one(&mut conn)
                    .await
                    .expect("query runs");
                let _ = sqlx::Connection::close(conn).await;
                v
            }
        }
    }

    /// The first column of the first row of `query`, as bytes.
    pub async fn sql_bytes(&self, query: &str) -> Option<Vec<u8>> {
        let q = || sqlx::AssertSqlSafe(query.to_string());
        match self.db.backend {
            Backend::Postgres => {
                let mut conn = self.pg_conn().await;
                let v = sqlx::query_scalar(q())
                    .fetch_optional(&mut conn)
                    .await
                    .expect("query runs");
                let _ = sqlx::Connection::close(conn).await;
                v
            }
            Backend::Sqlite => {
                let mut conn = self.sqlite_conn().await;
                let v = sqlx::query_scalar(q())
                    .fetch_optional(&mut conn)
                    .await
                    .expect("query runs");
                let _ = sqlx::Connection::close(conn).await;
                v
            }
        }
    }

    /// A connection to this app's PostgreSQL database as the test cluster's superuser (tests
    /// switch to the application role with `SET ROLE` to check what it may do).
    pub async fn pg_conn(&self) -> sqlx::PgConnection {
        use sqlx::ConnectOptions;
        let url = self.db.postgres_url().expect("postgres url");
        url.parse::<sqlx::postgres::PgConnectOptions>()
            .expect("url")
            .connect()
            .await
            .expect("connect")
    }

    async fn sqlite_conn(&self) -> sqlx::SqliteConnection {
        use sqlx::ConnectOptions;
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.data_dir.path().join("testvault.db"))
            .pragma("key", self.db.sqlcipher_key())
            .busy_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .expect("open the SQLCipher file")
    }

    /// Stops the server gracefully.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown(std::time::Duration::from_secs(5)).await;
        }
    }
}

impl Drop for TestApp {
    /// Closes the server and its database pool before the test's runtime goes away, so no
    /// SQLCipher connection is still being torn down while the test process exits (OpenSSL's exit
    /// handlers racing such a thread can crash the process after every test has passed).
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current()
            && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| {
                handle.block_on(server.shutdown(std::time::Duration::ZERO))
            });
        }
    }
}
