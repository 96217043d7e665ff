//! One database per test: a temporary SQLCipher file, or a PostgreSQL database that is created
//! for the test and dropped when the `TestDb` is dropped.

use sqlx::ConnectOptions;
use std::str::FromStr;
use testvault_crypto::MasterKey;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn admin_url() -> String {
    std::env::var("TESTVAULT_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

impl Backend {
    /// Whether PostgreSQL tests can run. Without a server: a loud skip locally, a failure in CI.
    pub async fn postgres_available(test: &str) -> bool {
        let reachable = async {
            let opts = sqlx::postgres::PgConnectOptions::from_str(&admin_url()).ok()?;
            let conn = tokio::time::timeout(std::time::Duration::from_secs(5), opts.connect())
                .await
                .ok()?;
            conn.ok().map(|_| ())
        }
        .await
        .is_some();
        if reachable {
            return true;
        }
        if std::env::var_os("CI").is_some() {
            panic!(
                "PostgreSQL is not reachable at {} and CI is set: PostgreSQL tests must run",
                admin_url()
            );
        }
        eprintln!(
            "\n!!!!! SKIPPING the PostgreSQL half of `{test}`: no server at {} (set TESTVAULT_TEST_PG). In CI this fails. !!!!!\n",
            admin_url()
        );
        false
    }
}

pub struct TestDb {
    pub backend: Backend,
    master: MasterKey,
    master_hex: String,
    /// PostgreSQL: the database name and its URL.
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        let master = MasterKey::generate().expect("master key");
        let master_hex = master.to_hex().to_string();
        match backend {
            Backend::Sqlite => TestDb {
                backend,
                master,
                master_hex,
                pg: None,
            },
            Backend::Postgres => {
                let name = format!("tv_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::postgres::PgConnectOptions::from_str(&admin_url())
                    .expect("admin url")
                    .connect()
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let url = match admin_url().rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => panic!("TESTVAULT_TEST_PG must end in /<database>"),
                };
                TestDb {
                    backend,
                    master,
                    master_hex,
                    pg: Some((name, url)),
                }
            }
        }
    }

    pub fn master_key_hex(&self) -> &str {
        &self.master_hex
    }

    pub fn postgres_url(&self) -> Option<String> {
        self.pg.as_ref().map(|(_, url)| url.clone())
    }

    pub fn sqlcipher_key(&self) -> String {
        self.master.sqlcipher_key().to_string()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((name, _)) = self.pg.take() else {
            return;
        };
        // Drop runs outside async; use a private runtime on a plain thread.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(opts) = sqlx::postgres::PgConnectOptions::from_str(&admin_url())
                        && let Ok(mut admin) = opts.connect().await
                    {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}
