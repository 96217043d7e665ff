//! First run: while no org exists, a one-time setup link lets whoever started the server create
//! the first org and its owner.

use crate::orgs::OwnerInput;
use crate::{Core, CoreError, CreatedOrg};
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{Email, NewPassword, OrgName, PersonName, time};

impl Core {
    /// A fresh setup link (replacing older ones) when no org exists yet; `None` once set up.
    pub async fn issue_setup_link(&self) -> Result<Option<String>, CoreError> {
        if self.store().count_orgs().await? > 0 {
            return Ok(None);
        }
        let token = SecretToken::generate()?;
        let now = time::now();
        self.store()
            .replace_setup_token(&token.hash().0, now, now + self.settings().setup_ttl_secs)
            .await?;
        Ok(Some(self.link(&format!("/setup/{}", token.expose()))))
    }

    /// Whether a presented setup token is live (the setup page shows the form only then).
    pub async fn setup_link_is_live(&self, token: &str) -> Result<bool, CoreError> {
        Ok(self
            .store()
            .setup_token_is_live(&TokenHash::of(token).0, time::now())
            .await?)
    }

    /// Spends the setup link: creates the first org and its owner. The link works once.
    pub async fn complete_setup(
        &self,
        token: &str,
        org_name: OrgName,
        email: Email,
        display_name: PersonName,
        password: NewPassword,
        client: &crate::ClientMeta,
    ) -> Result<CreatedOrg, CoreError> {
        let hash = TokenHash::of(token);
        if !self
            .store()
            .setup_token_is_live(&hash.0, time::now())
            .await?
        {
            return Err(CoreError::Gone(
                "this setup link has been used or has expired",
            ));
        }
        let owner = OwnerInput {
            email,
            display_name: Some(display_name),
            password: Some(password),
        };
        self.create_org_inner(org_name, owner, Some(&hash), Some(client))
            .await
    }
}

impl Core {
    /// True until the first org exists.
    pub async fn needs_setup(&self) -> Result<bool, CoreError> {
        Ok(self.store().count_orgs().await? == 0)
    }
}
