//! `testvault admin …`: work on the data directory and database directly, safe while the server
//! runs (the database arbitrates). Passwords come from a prompt or a file, never from argv.

use crate::StartError;
use crate::config::Config;
use clap::Subcommand;
use std::path::PathBuf;
use testvault_core::{CoreError, Operator};
use testvault_domain::{
    Email, NewPassword, OrgName, PersonName, ProjectDescription, ProjectName, ProjectSlug, Role,
};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organisation and its owner (an existing account is reused).
    CreateOrg {
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// The owner's email address.
        #[arg(long)]
        owner_email: String,
        /// The owner's display name (default: the part of the email before `@`).
        #[arg(long)]
        owner_name: Option<String>,
        /// Read the new owner's password from this file (first line) instead of prompting.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Create a project in an organisation.
    CreateProject {
        /// The organisation's name.
        #[arg(long)]
        org: String,
        /// Short name used in URLs: a-z, 0-9 and '-'.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Optional description (stored encrypted).
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Print a new one-time setup link (only while no organisation exists).
    SetupLink,
    /// Check an organisation's audit chain; fails at the first edited, deleted, inserted or
    /// reordered event.
    VerifyAudit {
        /// The organisation's name.
        #[arg(long)]
        org: String,
    },
    /// Give a member another org role (a built-in level or a custom role's name). The
    /// organisation keeps at least one owner.
    SetRole {
        /// The organisation's name.
        #[arg(long)]
        org: String,
        /// The member's email address.
        #[arg(long)]
        email: String,
        /// viewer, tester, engineer, manager, owner (or 1–5), or a custom role's name.
        #[arg(long)]
        role: String,
    },
    /// Grant a member a role on one project, or take it away with `--role none`.
    Grant {
        /// The organisation's name.
        #[arg(long)]
        org: String,
        /// The project's slug.
        #[arg(long)]
        project: String,
        /// The member's email address.
        #[arg(long)]
        email: String,
        /// viewer, tester, engineer, manager, owner (or 1–5), or `none` to revoke.
        #[arg(long)]
        role: String,
    },
    /// Remove an organisation's IP allowlist (the way back in after a lock-out).
    ClearIpAllowlist {
        /// The organisation's name.
        #[arg(long)]
        org: String,
    },
}

fn invalid(e: testvault_domain::DomainError) -> StartError {
    StartError::Core(CoreError::Invalid(e))
}

fn read_password(file: Option<&PathBuf>) -> Result<NewPassword, StartError> {
    let raw = match file {
        Some(path) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(StartError::io(format!("reading {}", path.display())))?,
            );
            text.lines().next().unwrap_or("").to_string()
        }
        None => {
            let first = rpassword::prompt_password("Password for the new owner account: ")
                .map_err(StartError::io(
                    "reading the password (no terminal? use --password-file)",
                ))?;
            let again = rpassword::prompt_password("Repeat the password: ")
                .map_err(StartError::io("reading the password"))?;
            if first != again {
                return Err(StartError::Config("the two passwords differ".into()));
            }
            first
        }
    };
    NewPassword::parse(&raw).map_err(invalid)
}

pub async fn run(cfg: &Config, cmd: AdminCommand) -> Result<(), StartError> {
    let core = crate::server::open_core(cfg, cfg.public_url_for(cfg.listen)).await?;
    let op = Operator::unsafe_local_admin();
    let result = match cmd {
        AdminCommand::CreateOrg {
            name,
            owner_email,
            owner_name,
            password_file,
        } => {
            let name = OrgName::parse(&name).map_err(invalid)?;
            let email = Email::parse(&owner_email).map_err(invalid)?;
            let display = owner_name
                .as_deref()
                .map(PersonName::parse)
                .transpose()
                .map_err(invalid)?;
            let password = if core.account_exists(&op, &email).await? {
                None
            } else {
                Some(read_password(password_file.as_ref())?)
            };
            let created = core
                .create_org(&op, name.clone(), email.clone(), display, password)
                .await?;
            println!(
                "Created organisation {} (id {}) with owner {}{}.",
                name,
                created.org,
                email,
                if created.owner_is_new {
                    " (new account)"
                } else {
                    " (existing account)"
                }
            );
            Ok(())
        }
        AdminCommand::CreateProject {
            org,
            slug,
            name,
            description,
        } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            let slug = ProjectSlug::parse(&slug).map_err(invalid)?;
            let name = ProjectName::parse(&name).map_err(invalid)?;
            let description = ProjectDescription::parse(&description).map_err(invalid)?;
            let project = core
                .create_project_as_operator(&op, &org, slug, name, description)
                .await?;
            println!(
                "Created project {} ({}) in {}.",
                project.name, project.slug, org
            );
            Ok(())
        }
        AdminCommand::VerifyAudit { org } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            let report = core.verify_audit_as_operator(&op, &org).await?;
            match report.first_broken {
                None => {
                    println!(
                        "The audit chain of {org} is intact ({} events).",
                        report.events
                    );
                    Ok(())
                }
                Some((seq, why)) => Err(StartError::Config(format!(
                    "the audit chain of {org} is broken at event {seq} of {}: {why}",
                    report.events
                ))),
            }
        }
        AdminCommand::SetRole { org, email, role } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            let email = Email::parse(&email).map_err(invalid)?;
            let role = core
                .set_member_role_as_operator(&op, &org, &email, &role)
                .await?;
            println!("{email} is now {role} in {org}.");
            Ok(())
        }
        AdminCommand::Grant {
            org,
            project,
            email,
            role,
        } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            let email = Email::parse(&email).map_err(invalid)?;
            let role = match role.trim() {
                "none" => None,
                other => Some(Role::parse(other).map_err(invalid)?),
            };
            core.grant_project_as_operator(&op, &org, &project, &email, role)
                .await?;
            match role {
                Some(role) => println!("{email} is now {role} on {project} in {org}."),
                None => println!("{email} no longer has a grant on {project} in {org}."),
            }
            Ok(())
        }
        AdminCommand::ClearIpAllowlist { org } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            core.clear_ip_allowlist_as_operator(&op, &org).await?;
            println!("{org} accepts sign-ins, sessions and tokens from any network again.");
            Ok(())
        }
        AdminCommand::SetupLink => match core.issue_setup_link().await? {
            Some(link) => {
                println!("One-time setup link (replaces any earlier one):\n  {link}");
                Ok(())
            }
            None => Err(StartError::Config(
                "an organisation already exists; sign in, or use `admin create-org`".into(),
            )),
        },
    };
    core.close().await;
    result
}
