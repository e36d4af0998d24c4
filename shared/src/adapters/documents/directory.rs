//! [`Directory`] on the document table: users, their email aliases, sessions.

use super::*;

// ---------------------------------------------------------------------------------------------
// Directory
// ---------------------------------------------------------------------------------------------

/// [`Directory`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocDirectory<D> {
    table: D,
}

pub(super) fn email_claim(user: &User) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::user_email(&user.tenant_id, &user.email),
        entity: "user_email",
        body: to_json(&user.id)?,
        expires_at: None,
        precondition: Precondition::Absent,
    })
}

/// A session document, expiring with the session.
pub(super) fn session_write(
    tenant: &TenantId,
    session: &Session,
    precondition: Precondition,
) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::session(tenant, &session.id),
        entity: "session",
        body: to_json(session)?,
        expires_at: Some(ExpiresAt::from_epoch_secs(session.expires_at.as_secs())),
        precondition,
    })
}

impl<D: DocTable> Directory for DocDirectory<D> {
    async fn create_user(&self, user: &User) -> Result<(), CreateUserError> {
        let writes = vec![
            email_claim(user)?,
            DocWrite::Put {
                key: keys::user(&user.tenant_id, &user.id),
                entity: "user",
                body: to_json(user)?,
                expires_at: None,
                precondition: Precondition::Absent,
            },
        ];
        match self.table.write_docs(writes, user.created_at).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { index: 0 }) => Err(CreateUserError::EmailTaken),
            Err(DocWriteError::Conflict { .. }) => Err(anyhow::anyhow!("user id collision").into()),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<Versioned<User>>, DirectoryError> {
        let doc = self.table.get_doc(&keys::user(tenant, id), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json).transpose()?)
    }

    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<Versioned<User>>, DirectoryError> {
        let Some(claim) = self.table.get_doc(&keys::user_email(tenant, email), self.table.now()).await?
        else {
            return Ok(None);
        };
        let id: UserId = from_json(&claim)?.value;
        self.user(tenant, &id).await
    }

    async fn users(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<User>, DirectoryError> {
        let after = match cursor_within(after, keys::USER_PREFIX) {
            Some(Err(())) => return Err(DirectoryError::InvalidCursor),
            Some(Ok(a)) => Some(a),
            None => None,
        };
        let (docs, next) = self
            .table
            .query_docs(
                &keys::tenant_partition(tenant),
                keys::USER_PREFIX,
                after,
                (limit, true),
                self.table.now(),
            )
            .await?;
        let items = docs.iter().map(|d| from_json(d).map(|v| v.value)).collect::<anyhow::Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn update_user(&self, user: &User, version: u64) -> Result<(), UpdateError> {
        let mut writes = vec![DocWrite::Put {
            key: keys::user(&user.tenant_id, &user.id),
            entity: "user",
            body: to_json(user)?,
            expires_at: None,
            precondition: Precondition::Version(version),
        }];
        if user.status == UserStatus::Deleted {
            // A deletion blanks the email (P55): the alias to release is the stored one's.
            let stored = self.table.get_doc(&keys::user(&user.tenant_id, &user.id), user.updated_at).await?;
            let stored_email = stored
                .and_then(|doc| serde_json::from_str::<User>(&doc.body).ok())
                .map(|old| old.email)
                .unwrap_or_default();
            let mut emails = vec![stored_email, user.email.clone()];
            emails.retain(|email| !email.is_empty());
            emails.dedup();
            writes.extend(emails.iter().map(|email| DocWrite::Delete {
                key: keys::user_email(&user.tenant_id, email),
                precondition: Precondition::None,
            }));
        }
        match self.table.write_docs(writes, user.updated_at).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { .. }) => Err(UpdateError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn create_session(&self, tenant: &TenantId, session: &Session) -> Result<(), DirectoryError> {
        let write = session_write(tenant, session, Precondition::Absent)?;
        self.table.write_docs(vec![write], session.created_at).await.map_err(anyhow::Error::new)?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Versioned<Session>>, DirectoryError> {
        let now = self.table.now();
        let doc = self.table.get_doc(&keys::session(tenant, id), now).await?;
        Ok(doc.as_ref().map(from_json).transpose()?)
    }

    async fn update_session(
        &self,
        tenant: &TenantId,
        session: &Session,
        version: u64,
    ) -> Result<(), UpdateError> {
        let write = session_write(tenant, session, Precondition::Version(version))?;
        if write_one(&self.table, write, session.created_at).await? {
            Ok(())
        } else {
            Err(UpdateError::Conflict)
        }
    }

    async fn claim_login_attempt(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> Result<LoginClaim, DirectoryError> {
        let (window, ends) = login_window(now);
        let key = keys::login_attempts(tenant, email, window);
        let expires = ExpiresAt::from_epoch_secs(ends);
        match self.table.increment_within(&key, LOGIN_ATTEMPTS_ALLOWED, expires).await? {
            Some(_) => Ok(LoginClaim::Claimed),
            None => Ok(LoginClaim::Throttled {
                retry_after_secs: u64::try_from(ends - now.as_secs()).unwrap_or(1).max(1),
            }),
        }
    }

    async fn reset_login_attempts(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> Result<(), DirectoryError> {
        let (window, _) = login_window(now);
        let delete = DocWrite::Delete {
            key: keys::login_attempts(tenant, email, window),
            precondition: Precondition::None,
        };
        self.table.write_docs(vec![delete], now).await.map_err(anyhow::Error::new)?;
        Ok(())
    }
}

impl<D> DocDirectory<D> {
    /// The directory on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}
