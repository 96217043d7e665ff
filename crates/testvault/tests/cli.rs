#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! The `testvault` binary as an operator uses it: admin commands on a data directory, `config
//! show`, refusals of insecure settings.

use std::process::{Command, Output};

fn testvault(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testvault"));
    cmd.arg("--data-dir").arg(data_dir).args(args);
    cmd.env_remove("TESTVAULT_DATABASE_URL")
        .env_remove("TESTVAULT_MASTER_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn admin_creates_org_and_project_with_password_from_a_file() {
    let dir = tempfile::tempdir().expect("dir");
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "a long admin passphrase\n").expect("write");
    let data = dir.path().join("data");
    let out = testvault(
        &data,
        &[
            "admin",
            "create-org",
            "--name",
            "Acme",
            "--owner-email",
            "owner@acme.test",
            "--password-file",
            pw.to_str().unwrap_or_default(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Created organisation Acme"), "{stdout}");
    assert!(!stdout.contains("passphrase") && !stderr.contains("passphrase"));

    let out = testvault(
        &data,
        &[
            "admin",
            "create-project",
            "--org",
            "acme",
            "--slug",
            "web",
            "--name",
            "Web",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Created project Web (web) in acme"),
        "{stdout}"
    );

    // Same name again: a clear conflict, non-zero exit.
    let out = testvault(
        &data,
        &[
            "admin",
            "create-org",
            "--name",
            "ACME",
            "--owner-email",
            "owner@acme.test",
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("an organisation with this name already exists"),
        "{stderr}"
    );

    // A weak password is refused with the reason.
    std::fs::write(&pw, "password1234\n").expect("write");
    let out = testvault(
        &data,
        &[
            "admin",
            "create-org",
            "--name",
            "Other",
            "--owner-email",
            "new@other.test",
            "--password-file",
            pw.to_str().unwrap_or_default(),
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("too common"), "{stderr}");

    // Roles and grants from the CLI; the org always keeps an owner.
    let admin = |args: &[&str]| {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let out = testvault(&data, &all, &[]);
        let (stdout, stderr) = text(&out);
        (out.status.success(), format!("{stdout}{stderr}"))
    };
    let base = ["--org", "Acme", "--email", "owner@acme.test"];
    let (ok, said) = admin(&[&["set-role"][..], &base, &["--role", "manager"]].concat());
    assert!(!ok && said.contains("at least one owner"), "{said}");
    let (ok, said) = admin(&[&["set-role"][..], &base, &["--role", "Auditor"]].concat());
    assert!(!ok && said.contains("role not found"), "{said}");
    let (ok, said) = admin(&[&["set-role"][..], &base, &["--role", "owner"]].concat());
    assert!(ok && said.contains("is now owner in Acme"), "{said}");
    let grant = [&["grant", "--project", "web"][..], &base].concat();
    let (ok, said) = admin(&[&grant[..], &["--role", "tester"]].concat());
    assert!(ok && said.contains("is now tester on web"), "{said}");
    let (ok, said) = admin(&[&grant[..], &["--role", "none"]].concat());
    assert!(ok && said.contains("no longer has a grant"), "{said}");
    let (ok, said) = admin(&[&grant[..], &["--role", "none"]].concat());
    assert!(!ok && said.contains("grant not found"), "{said}");
    let (ok, said) = admin(&[
        "grant",
        "--project",
        "web",
        "--org",
        "Acme",
        "--email",
        "nobody@acme.test",
        "--role",
        "viewer",
    ]);
    assert!(!ok && said.contains("member not found"), "{said}");

    // Once an org exists there is no setup link to hand out.
    let out = testvault(&data, &["admin", "setup-link"], &[]);
    assert!(!out.status.success());
}

#[test]
fn password_is_never_taken_from_argv() {
    let dir = tempfile::tempdir().expect("dir");
    let out = testvault(
        dir.path(),
        &[
            "admin",
            "create-org",
            "--name",
            "A",
            "--owner-email",
            "a@a.test",
            "--password",
            "x",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("unexpected argument '--password'"));
}

#[test]
fn config_show_layers_and_redacts() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("testvault.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:9443\"\nlog_level = \"debug\"\n").expect("write");
    let out = testvault(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap_or_default(),
            "config",
            "show",
        ],
        &[
            (
                "TESTVAULT_DATABASE_URL",
                "postgres://tv:s3cr3t-pass@db.example/tv",
            ),
            ("TESTVAULT_LISTEN", "127.0.0.1:9555"),
            ("TESTVAULT_LISTNE", "typo"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("listen = \"127.0.0.1:9555\""),
        "env beats file: {stdout}"
    );
    assert!(
        stdout.contains("log_level = \"debug\""),
        "file beats default: {stdout}"
    );
    assert!(
        stdout.contains("postgres://tv:<redacted>@db.example/tv"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"));
    assert!(
        stderr.contains("unknown environment variable TESTVAULT_LISTNE"),
        "{stderr}"
    );

    let flag = testvault(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:9666",
            "config",
            "show",
        ],
        &[("TESTVAULT_LISTEN", "127.0.0.1:9555")],
    );
    assert!(
        text(&flag).0.contains("listen = \"127.0.0.1:9666\""),
        "flags beat env"
    );
}

#[test]
fn insecure_settings_refuse_to_start_and_say_why() {
    let dir = tempfile::tempdir().expect("dir");
    let weak = "00".repeat(32);
    let out = testvault(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[("TESTVAULT_MASTER_KEY", &weak)],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("refusing to start") && stderr.contains("weak"),
        "{stderr}"
    );
    assert!(!stderr.contains(&weak), "the key itself is never printed");

    let out = testvault(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "http://tv.example",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("https://"));

    // A master key file others can read is refused.
    let data = dir.path().join("d2");
    assert!(
        testvault(&data, &["admin", "setup-link"], &[])
            .status
            .success()
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let out = testvault(&data, &["admin", "setup-link"], &[]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("chmod 600"));
}

#[test]
fn token_commands_create_list_and_revoke() {
    let dir = tempfile::tempdir().expect("dir");
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "a long admin passphrase\n").expect("write");
    let data = dir.path().join("data");
    let pw_arg = pw.to_str().unwrap_or_default();
    let ok = |out: &Output| assert!(out.status.success(), "{:?}", text(out));
    ok(&testvault(
        &data,
        &[
            "admin",
            "create-org",
            "--name",
            "Acme",
            "--owner-email",
            "owner@acme.test",
            "--password-file",
            pw_arg,
        ],
        &[],
    ));
    ok(&testvault(
        &data,
        &[
            "admin",
            "create-project",
            "--org",
            "Acme",
            "--slug",
            "web",
            "--name",
            "Web",
        ],
        &[],
    ));

    let out = testvault(
        &data,
        &[
            "token",
            "create",
            "--org",
            "Acme",
            "--project",
            "web",
            "--scope",
            "results:write",
            "--scope",
            "read",
            "--expires",
            "30d",
        ],
        &[],
    );
    ok(&out);
    let (stdout, _) = text(&out);
    let token = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "prints only the token: {stdout}");
    assert!(token.starts_with("tvt_") && token.len() == 77, "{token}");
    let prefix = &token[4..12];

    let (list, _) = text(&testvault(&data, &["token", "list", "--org", "Acme"], &[]));
    assert!(list.contains(&format!("tvt_{prefix}_")), "{list}");
    assert!(
        list.contains("read results:write") && list.contains("web"),
        "{list}"
    );
    assert!(!list.contains(&token[13..]), "never the secret");

    let personal = testvault(
        &data,
        &[
            "token",
            "create",
            "--org",
            "Acme",
            "--user",
            "owner@acme.test",
            "--scope",
            "read",
        ],
        &[],
    );
    ok(&personal);
    let neither = testvault(
        &data,
        &["token", "create", "--org", "Acme", "--scope", "read"],
        &[],
    );
    assert!(!neither.status.success());
    assert!(
        text(&neither).1.contains("--project"),
        "{:?}",
        text(&neither)
    );

    ok(&testvault(&data, &["token", "revoke", prefix], &[]));
    let (verified, _) = text(&testvault(
        &data,
        &["admin", "verify-audit", "--org", "Acme"],
        &[],
    ));
    assert!(
        verified.contains("The audit chain of Acme is intact (5 events)"),
        "{verified}"
    );
    let (list, _) = text(&testvault(&data, &["token", "list", "--org", "Acme"], &[]));
    assert!(!list.contains(&format!("tvt_{prefix}_")), "{list}");
    assert!(
        !testvault(&data, &["token", "revoke", prefix], &[])
            .status
            .success(),
        "already revoked"
    );
}
