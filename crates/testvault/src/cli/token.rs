//! `testvault token …`: API tokens from the command line, on the data directory or database,
//! like the admin commands. `create` prints only the token, so it can be captured by a script.

use crate::StartError;
use crate::config::Config;
use clap::Subcommand;
use testvault_core::{CoreError, Operator, TokenForm, TokenRequest};
use testvault_domain::{DomainError, Email, OrgName, Scopes, TokenName, time};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a project token (--project) or a personal token (--user); prints only the token.
    Create {
        /// The organisation's name.
        #[arg(long)]
        org: String,
        /// Bind the token to this project (a CI token).
        #[arg(long)]
        project: Option<String>,
        /// Make a personal token acting as this member.
        #[arg(long, conflicts_with = "project")]
        user: Option<String>,
        /// A scope: read, results:write, cases:write or admin (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Lifetime, like `90d` or `30` (days); default 90 days.
        #[arg(long)]
        expires: Option<String>,
        /// What the token is for.
        #[arg(long, default_value = "created on the command line")]
        name: String,
        /// `testomatio` writes a project token as `tstmt_…`, the key Testomat.io's reporters
        /// take unchanged (docs/REPORTERS.md).
        #[arg(long, default_value = "testvault")]
        format: String,
    },
    /// List an organisation's live tokens (prefixes, never secrets).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a token by its prefix (the 8 characters after `tvt_`).
    Revoke { prefix: String },
}

fn invalid(e: DomainError) -> StartError {
    StartError::Core(CoreError::Invalid(e))
}

/// `90d` or `90` → 90.
fn parse_days(raw: &str) -> Result<i64, StartError> {
    raw.trim().trim_end_matches('d').parse().map_err(|_| {
        invalid(DomainError::new(
            "expires",
            "must be a number of days, like 90d",
        ))
    })
}

pub async fn run(cfg: &Config, cmd: TokenCommand) -> Result<(), StartError> {
    let core = crate::server::open_core(cfg, cfg.public_url_for(cfg.listen)).await?;
    let op = Operator::unsafe_local_admin();
    let result = match cmd {
        TokenCommand::Create {
            org,
            project,
            user,
            scopes,
            expires,
            name,
            format,
        } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            let user = user
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(invalid)?;
            let req = TokenRequest {
                name: TokenName::parse(&name).map_err(invalid)?,
                scopes: Scopes::parse(scopes.iter().map(String::as_str)).map_err(invalid)?,
                project,
                expires_in_days: expires.as_deref().map(parse_days).transpose()?,
                form: TokenForm::parse(&format).map_err(invalid)?,
            };
            let issued = core
                .create_token_as_operator(&op, &org, user.as_ref(), req)
                .await?;
            println!("{}", issued.token);
            Ok(())
        }
        TokenCommand::List { org } => {
            let org = OrgName::parse(&org).map_err(invalid)?;
            let tokens = core.list_tokens_as_operator(&op, &org).await?;
            if tokens.is_empty() {
                println!("No live tokens in {org}.");
            }
            for t in tokens {
                println!(
                    "tvt_{}_…  {:<8} {:<24} scopes: {:<24} {}  expires {}  last used {}",
                    t.prefix,
                    t.kind,
                    t.project.or(t.user_email).unwrap_or_default(),
                    t.scopes,
                    t.name,
                    time::format_utc(t.expires_at),
                    t.last_used_at
                        .map_or_else(|| "never".to_string(), time::format_utc),
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { prefix } => {
            let prefix = prefix
                .trim()
                .trim_start_matches("tvt_")
                .trim_end_matches('_')
                .to_string();
            core.revoke_token_as_operator(&op, &prefix).await?;
            println!("Revoked tvt_{prefix}_…; it stops working on its next request.");
            Ok(())
        }
    };
    core.close().await;
    result
}
