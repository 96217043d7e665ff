//! API tokens: personal tokens act as their user within their scopes; project tokens (CI) do
//! project-level work on one project. Shown once; only the prefix and a hash of the secret are
//! kept. Failed token attempts are throttled per IP.

use crate::audit::{self, Actor, Change, ClientMeta};
use crate::principal::Credential;
use crate::{Core, CoreError, Operator, Principal};
use serde::Serialize;
use serde_json::json;
use testvault_crypto::ApiToken;
use testvault_domain::{
    Access, DomainError, Email, MemberRole, OrgId, OrgName, Permission, PermissionSet, ProjectId,
    Role, Scope, Scopes, TokenName, UserId, time,
};
use testvault_store::{NewToken, TokenRow};
use uuid::Uuid;

const INVALID_TOKEN: &str = "invalid, revoked or expired API token";
/// `last_used_at` is written at most this often per token (or when the IP changes).
const TOUCH_EVERY_SECS: i64 = 60;

/// What a new token is for.
pub struct TokenRequest {
    pub name: TokenName,
    pub scopes: Scopes,
    /// A project slug makes a project token; none makes a personal token.
    pub project: Option<String>,
    /// Days until it expires; the org default (90) when `None`.
    pub expires_in_days: Option<i64>,
    /// How the secret is written.
    pub form: TokenForm,
}

/// How a token's secret is written: Testvault's `tvt_…`, or `tstmt_…` for a project key that
/// Testomat.io's reporters take unchanged. Both are checked the same way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenForm {
    #[default]
    Testvault,
    Testomatio,
}

impl TokenForm {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "" | "testvault" => Ok(TokenForm::Testvault),
            "testomatio" => Ok(TokenForm::Testomatio),
            _ => Err(DomainError::new(
                "format",
                "must be `testvault` or `testomatio`",
            )),
        }
    }
}

/// A token as lists show it (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub prefix: String,
    pub name: String,
    pub kind: &'static str,
    pub user_email: Option<String>,
    pub project: Option<String>,
    pub scopes: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

impl From<TokenRow> for TokenView {
    fn from(r: TokenRow) -> Self {
        Self {
            kind: if r.project_slug.is_some() {
                "project"
            } else {
                "personal"
            },
            prefix: r.prefix,
            name: r.name,
            user_email: r.user_email,
            project: r.project_slug,
            scopes: r.scopes,
            created_by: r.created_by_name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            last_used_ip: r.last_used_ip,
        }
    }
}

/// A new token: `token` is the only time the secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub prefix: String,
    pub name: String,
    pub kind: &'static str,
    pub project: Option<String>,
    pub scopes: String,
    pub expires_at: i64,
}

impl Core {
    fn expiry(&self, days: Option<i64>, now: i64) -> Result<i64, CoreError> {
        let max = self.settings().token_max_days;
        let days = days.unwrap_or(self.settings().token_default_days.min(max));
        if !(1..=max).contains(&days) {
            return Err(DomainError::new(
                "expires_in_days",
                format!("must be between 1 and {max} days"),
            )
            .into());
        }
        Ok(now + days * 86_400)
    }

    /// Creates a token for the signed-in caller. Tokens cannot mint tokens.
    pub async fn create_token(
        &self,
        p: &Principal,
        req: TokenRequest,
    ) -> Result<IssuedToken, CoreError> {
        p.require_session()?;
        let (user, project) = match &req.project {
            None => (Some(p.user), None),
            Some(slug) => {
                p.allow(Permission::ManageTokens)?;
                let project = self.project_for_token(p.org, slug, &req.scopes).await?;
                if !p.sees_project(project.0) {
                    return Err(CoreError::NotFound("project"));
                }
                // Nobody grants what they do not hold: every scope's permission must be the
                // creator's in that project.
                let held = p.access.in_project(project.0);
                for scope in req.scopes.iter() {
                    if !scope_within(scope, held) {
                        return Err(DomainError::new(
                            "scopes",
                            format!("`{}` is beyond your own role", scope.name()),
                        )
                        .into());
                    }
                }
                (None, Some(project))
            }
        };
        self.insert_token(Actor::Principal(p), p.org, user, project, Some(p.user), req)
            .await
    }

    async fn project_for_token(
        &self,
        org: OrgId,
        slug: &str,
        scopes: &Scopes,
    ) -> Result<(ProjectId, String), CoreError> {
        if scopes.contains(Scope::Admin) {
            return Err(DomainError::new(
                "scopes",
                "project tokens carry read, results:write or cases:write, not admin",
            )
            .into());
        }
        let row = self
            .store()
            .find_project(org, slug)
            .await?
            .ok_or(CoreError::NotFound("project"))?;
        Ok((row.id, row.slug))
    }

    async fn insert_token(
        &self,
        actor: Actor<'_>,
        org: OrgId,
        user: Option<UserId>,
        project: Option<(ProjectId, String)>,
        created_by: Option<UserId>,
        req: TokenRequest,
    ) -> Result<IssuedToken, CoreError> {
        let now = time::now();
        let expires_at = self.expiry(req.expires_in_days, now)?;
        let token = match req.form {
            TokenForm::Testvault => ApiToken::generate()?,
            TokenForm::Testomatio if project.is_some() => ApiToken::generate_testomatio()?,
            TokenForm::Testomatio => {
                return Err(DomainError::new(
                    "format",
                    "a Testomat.io-style key is a project token: choose a project",
                )
                .into());
            }
        };
        let scopes = req.scopes.to_storage();
        let event = actor.event(
            org,
            Change::new("token.created", "token", format!("tvt_{}", token.prefix)).after(json!({
                "name": req.name.as_str(),
                "kind": if project.is_some() { "project" } else { "personal" },
                "user": user,
                "project": project.as_ref().map(|(_, slug)| slug),
                "scopes": scopes,
                "expires_at": expires_at,
            })),
        );
        self.store()
            .create_token(
                NewToken {
                    id: Uuid::new_v4(),
                    org,
                    prefix: &token.prefix,
                    secret_hash: &token.secret_hash().0,
                    name: req.name.as_str(),
                    user,
                    project: project.as_ref().map(|(id, _)| *id),
                    scopes: &scopes,
                    created_by,
                    now,
                    expires_at,
                },
                &event,
            )
            .await?;
        tracing::info!(org.id = %org, token.prefix = %token.prefix, "API token created");
        Ok(IssuedToken {
            token: token.expose().to_string(),
            prefix: token.prefix.clone(),
            name: req.name.as_str().to_string(),
            kind: if project.is_some() {
                "project"
            } else {
                "personal"
            },
            project: project.map(|(_, slug)| slug),
            scopes,
            expires_at,
        })
    }

    /// The caller's own tokens; with `ManageTokens`, every token in the org.
    pub async fn list_tokens(&self, p: &Principal) -> Result<Vec<TokenView>, CoreError> {
        let only = if p.can(Permission::ManageTokens) {
            None
        } else {
            Some(p.user)
        };
        let rows = self.store().list_tokens(p.org, only, time::now()).await?;
        Ok(rows.into_iter().map(TokenView::from).collect())
    }

    /// Revokes one of the caller's tokens; with `ManageTokens`, any token in the org.
    pub async fn revoke_token(&self, p: &Principal, prefix: &str) -> Result<(), CoreError> {
        p.require_session()?;
        let only = if p.can(Permission::ManageTokens) {
            None
        } else {
            Some(p.user)
        };
        let event = audit::by(
            p,
            Change::new("token.revoked", "token", format!("tvt_{prefix}")),
        );
        if self
            .store()
            .revoke_token(p.org, prefix, only, time::now(), &event)
            .await?
        {
            tracing::info!(org.id = %p.org, token.prefix = %prefix, "API token revoked");
            Ok(())
        } else {
            Err(CoreError::NotFound("token"))
        }
    }

    /// The principal behind a presented API token. Revocation and expiry take effect here, on
    /// the next request; a personal token follows its user's current role.
    pub async fn authenticate_token(
        &self,
        presented: &str,
        client: &ClientMeta,
    ) -> Result<Principal, CoreError> {
        let ip = client.ip.as_str();
        let throttle_key = self.keyring().master().keyed_hash("token/ip", ip);
        let now = time::now();
        let state = self.store().throttle_state(&throttle_key).await?;
        if state.locked_until > now {
            return Err(CoreError::Throttled {
                retry_after_secs: state.locked_until - now,
            });
        }
        match self.token_principal(presented, client, now).await? {
            Some(p) => Ok(p),
            None => {
                let next = crate::auth::after_failure(
                    state,
                    now,
                    self.settings().rate_limits.token_failures_per_ip,
                );
                self.store()
                    .save_throttle_state(&throttle_key, next)
                    .await?;
                tracing::info!(client.ip = ip, "API token refused");
                Err(CoreError::Unauthenticated(INVALID_TOKEN))
            }
        }
    }

    async fn token_principal(
        &self,
        presented: &str,
        client: &ClientMeta,
        now: i64,
    ) -> Result<Option<Principal>, CoreError> {
        let ip = client.ip.as_str();
        let Some((prefix, secret_hash)) = ApiToken::parse(presented) else {
            return Ok(None);
        };
        let Some(t) = self.store().token_auth(&prefix).await? else {
            return Ok(None);
        };
        let matches = aws_lc_rs_equal(&t.secret_hash, &secret_hash.0);
        let gone_user = t.user.is_some() && t.role.is_none();
        if !matches || t.revoked_at.is_some() || t.expires_at <= now || gone_user {
            // A real token's prefix: the failure belongs in that org's trail.
            let why = if !matches {
                "wrong secret"
            } else if t.revoked_at.is_some() {
                "revoked"
            } else if gone_user {
                "user left the org"
            } else {
                "expired"
            };
            let event = audit::by_anonymous(
                t.org,
                &format!("tvt_{prefix}"),
                client,
                Change::new("auth.token_refused", "token", format!("tvt_{prefix}"))
                    .after(json!({ "reason": why })),
            );
            self.store().record_audit(&event).await?;
            return Ok(None);
        }
        let scopes =
            Scopes::parse(t.scopes.split(' ')).map_err(|e| CoreError::internal(e.to_string()))?;
        let principal = match (t.user, t.project) {
            (Some(user), None) => {
                let Some(role) = t.role else { return Ok(None) };
                // A personal token acts as its user: where the org requires a second factor,
                // a user without one gets nothing done through a token either.
                if self
                    .store()
                    .get_org(t.org)
                    .await?
                    .is_some_and(|o| o.require_second_factor)
                    && self
                        .store()
                        .user_factor(user)
                        .await?
                        .is_none_or(|f| f.confirmed_at.is_none())
                    && self.store().passkey_count(user).await? == 0
                {
                    return Err(CoreError::EnrolmentRequired);
                }
                let access = self.access_of(t.org, user, &role).await?;
                Principal {
                    user,
                    email: t.user_email.unwrap_or_default(),
                    display_name: t.user_name.unwrap_or_default(),
                    org: t.org,
                    org_name: t.org_name,
                    role,
                    access,
                    credential: Credential::PersonalToken { prefix, scopes },
                    client: client.clone(),
                }
            }
            (_, Some(project)) => Principal {
                user: t.created_by.unwrap_or(UserId(Uuid::nil())),
                email: String::new(),
                display_name: format!("project token {prefix}"),
                org: t.org,
                org_name: t.org_name,
                role: MemberRole::Builtin(Role::Viewer),
                // Unused: a project token's power is its scopes on its one project.
                access: Access::default(),
                credential: Credential::ProjectToken {
                    prefix,
                    scopes,
                    project,
                },
                client: client.clone(),
            },
            (None, None) => return Ok(None),
        };
        if !crate::auth::allowlist_allows(&t.ip_allowlist, ip) {
            return Err(CoreError::NetworkNotAllowed);
        }
        let stale = t
            .last_used_at
            .is_none_or(|last| now - last >= TOUCH_EVERY_SECS);
        if stale || t.last_used_ip.as_deref() != Some(ip) {
            self.store().touch_token(t.id, now, ip).await?;
        }
        Ok(Some(principal))
    }

    /// `testvault token create`: a project token, or a personal token for `user`.
    pub async fn create_token_as_operator(
        &self,
        _op: &Operator,
        org: &OrgName,
        user: Option<&Email>,
        req: TokenRequest,
    ) -> Result<IssuedToken, CoreError> {
        let org_row = self
            .store()
            .find_org_by_name(org.as_str())
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        match (&req.project, user) {
            (Some(slug), _) => {
                let project = self
                    .project_for_token(org_row.id, slug, &req.scopes)
                    .await?;
                self.insert_token(Actor::Operator, org_row.id, None, Some(project), None, req)
                    .await
            }
            (None, Some(email)) => {
                let u = self
                    .store()
                    .find_user_by_email(email.as_str())
                    .await?
                    .ok_or(CoreError::NotFound("user"))?;
                if self.store().member_role(org_row.id, u.id).await?.is_none() {
                    return Err(CoreError::NotFound("member"));
                }
                self.insert_token(Actor::Operator, org_row.id, Some(u.id), None, None, req)
                    .await
            }
            (None, None) => Err(DomainError::new(
                "project",
                "give --project for a CI token or --user for a personal token",
            )
            .into()),
        }
    }

    /// `testvault token list --org`.
    pub async fn list_tokens_as_operator(
        &self,
        _op: &Operator,
        org: &OrgName,
    ) -> Result<Vec<TokenView>, CoreError> {
        let org_row = self
            .store()
            .find_org_by_name(org.as_str())
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        let rows = self
            .store()
            .list_tokens(org_row.id, None, time::now())
            .await?;
        Ok(rows.into_iter().map(TokenView::from).collect())
    }

    /// `testvault token revoke PREFIX`.
    pub async fn revoke_token_as_operator(
        &self,
        _op: &Operator,
        prefix: &str,
    ) -> Result<(), CoreError> {
        let org = self
            .store()
            .token_org(prefix)
            .await?
            .ok_or(CoreError::NotFound("token"))?;
        let event = audit::by_operator(
            org,
            Change::new("token.revoked", "token", format!("tvt_{prefix}")),
        );
        if self
            .store()
            .revoke_token(org, prefix, None, time::now(), &event)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::Gone("this token was already revoked"))
        }
    }
}

/// Whether `held` covers everything `scope` would let a project token do.
fn scope_within(scope: Scope, held: PermissionSet) -> bool {
    Permission::ALL
        .into_iter()
        .filter(|p| p.is_project_level())
        .filter(|p| scope == Scope::Admin || Scope::needed_for(*p) == scope)
        .all(|p| held.contains(p))
}

fn aws_lc_rs_equal(a: &[u8], b: &[u8]) -> bool {
    testvault_crypto::token::constant_time_eq(a, b)
}
