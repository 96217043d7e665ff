//! A real SMTP server for tests: `aiosmtpd` (PyPI) on 127.0.0.1 writing to a Maildir.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A real aiosmtpd server with a Maildir handler, on a port the OS picks.
const SERVE: &str = r#"
import asyncio, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Mailbox(sys.argv[1])), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts aiosmtpd, or returns `None` (loud skip locally; failure in CI) when it is missing.
    pub async fn start(test: &str) -> Option<SmtpServer> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd is not installed and CI is set (pip install aiosmtpd)"
            );
            eprintln!(
                "\n!!!!! SKIPPING `{test}`: aiosmtpd is not installed (pip install aiosmtpd). In CI this fails. !!!!!\n"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("Maildir");
        // aiosmtpd binds port 0 itself and prints the port it got: no window in which another
        // test could take a port we picked.
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVE)
            .arg(&maildir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            line
        })
        .await
        .expect("read port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("aiosmtpd did not report its port: {line:?}"));
        Some(SmtpServer {
            port,
            maildir,
            child,
            _dir: dir,
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages delivered so far, raw.
    pub fn messages(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.join("new"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
