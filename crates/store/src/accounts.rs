//! Users, sessions, organizations and memberships.

use domain::Timestamp;
use domain::auth::{Role, SignInFailures};
use domain::email::Email;
use domain::ids::{OrganizationId, UserId};

use crate::{Result, Store, StoreError, id, ms, ts};

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: Timestamp,
    /// When the holder confirmed they read mail sent to `email`.
    pub email_verified_at: Option<Timestamp>,
}

/// A link to confirm an account's address, and the message that carries it.
#[derive(Clone, Debug)]
pub struct NewEmailVerification<'a> {
    /// SHA-256 of the link's secret, hex.
    pub token_hash: &'a str,
    pub expires_at: Timestamp,
    pub notice: &'a crate::NewNotice,
}

#[derive(Debug, thiserror::Error)]
pub enum SendVerificationError {
    #[error("this address is confirmed already")]
    AlreadyVerified,
    #[error("{0} confirmation links were sent in the last day; use one of them, or try again tomorrow")]
    TooMany(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A link to set a new password, and the message that carries it.
#[derive(Clone, Debug)]
pub struct NewPasswordReset<'a> {
    /// SHA-256 of the link's secret, hex.
    pub token_hash: &'a str,
    pub expires_at: Timestamp,
    pub notice: &'a crate::NewNotice,
}

/// A new password to keep, and the notice that tells the account so.
#[derive(Clone, Debug)]
pub struct NewPassword<'a> {
    pub password_hash: &'a str,
    pub notice: &'a crate::NewNotice,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("an account with this e-mail address exists already")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A member of an organization, for its team list.
#[derive(Clone, Debug)]
pub struct MemberRecord {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub since: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum AddMemberError {
    #[error("no account has this e-mail address; ask them to sign up first")]
    UnknownUser,
    #[error("this person is a member already")]
    AlreadyMember,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

type UserRow = (String, String, String, String, i64, Option<i64>);

const USER_COLUMNS: &str = "id, email, name, password_hash, created_at, email_verified_at";

fn user(row: UserRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: id(&row.0)?,
        email: row.1,
        name: row.2,
        password_hash: row.3,
        created_at: ts(row.4)?,
        email_verified_at: row.5.map(ts).transpose()?,
    })
}

async fn insert_verification(
    tx: &mut crate::WriteTx,
    user: UserId,
    email: &str,
    v: &NewEmailVerification<'_>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(v.token_hash)
    .bind(user.to_string())
    .bind(email)
    .bind(ms(now))
    .bind(ms(v.expires_at))
    .execute(&mut **tx)
    .await?;
    crate::notifications::insert_notice(tx, v.notice, now).await?;
    Ok(())
}

/// Ends every live password link of `user`: they expire now. The rows stay
/// a day for the count of links sent (`add_password_reset`).
async fn end_password_links(tx: &mut crate::WriteTx, user: &str, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE password_resets SET expires_at = $2 WHERE user_id = $1 AND expires_at > $2")
        .bind(user)
        .bind(ms(now))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Creates an account and mails the link that confirms its address, in
    /// one transaction.
    pub async fn create_user(
        &self,
        user_id: UserId,
        email: &Email,
        name: &str,
        password_hash: &str,
        now: Timestamp,
        verification: &NewEmailVerification<'_>,
    ) -> std::result::Result<(), CreateUserError> {
        let mut tx = self.write().await?;
        let inserted =
            sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(user_id.to_string())
                .bind(email.as_str())
                .bind(name)
                .bind(password_hash)
                .bind(ms(now))
                .execute(&mut *tx)
                .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(CreateUserError::EmailTaken),
            Err(e) => return Err(StoreError::from(e).into()),
        }
        insert_verification(&mut tx, user_id, email.as_str(), verification, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Mails `user` another link to confirm their address, unless it is
    /// confirmed already or `per_day_max` links went out in the last day.
    pub async fn add_email_verification(
        &self,
        user: UserId,
        verification: &NewEmailVerification<'_>,
        per_day_max: i64,
        now: Timestamp,
    ) -> std::result::Result<(), SendVerificationError> {
        let mut tx = self.write().await?;
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT email, email_verified_at FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        let Some((email, verified)) = row else {
            return Err(StoreError::Corrupt(format!("user {user} vanished")).into());
        };
        if verified.is_some() {
            return Err(SendVerificationError::AlreadyVerified);
        }
        let (sent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM email_verifications WHERE user_id = $1 AND created_at > $2")
                .bind(user.to_string())
                .bind(ms(now - chrono::Duration::days(1)))
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        if sent >= per_day_max {
            return Err(SendVerificationError::TooMany(sent));
        }
        insert_verification(&mut tx, user, &email, verification, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Confirms the address a live link (by its secret's hash) was sent to,
    /// if the account still has it. Returns the account; a link used again
    /// confirms nothing new but still names it.
    pub async fn verify_email(&self, token_hash: &str, now: Timestamp) -> Result<Option<UserId>> {
        let mut tx = self.write().await?;
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) \
             WHERE (id, email) IN (SELECT user_id, email FROM email_verifications WHERE token_hash = $1 AND expires_at > $2) \
             RETURNING id",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|(u,)| id(&u)).transpose()
    }

    /// The account a live confirmation link (by its secret's hash) is for,
    /// if that account still has the address it was sent to.
    pub async fn email_verification(&self, token_hash: &str, now: Timestamp) -> Result<Option<UserRecord>> {
        self.user_of_link("email_verifications", token_hash, now).await
    }

    /// The account a live mailed link of `table` (by its secret's hash) is
    /// for, if that account still has the address the link was sent to.
    async fn user_of_link(&self, table: &'static str, token_hash: &str, now: Timestamp) -> Result<Option<UserRecord>> {
        let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM users u JOIN {table} l ON l.user_id = u.id AND l.email = u.email \
             WHERE l.token_hash = $1 AND l.expires_at > $2",
            USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        )))
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(user).transpose()
    }

    /// Records that `user` showed they read mail sent to `email` (another
    /// secret mailed there came back), if that is still their address.
    pub async fn mark_email_verified(&self, user: UserId, email: &str, now: Timestamp) -> Result<()> {
        self.write_one(
            sqlx::query(
                "UPDATE users SET email_verified_at = $3 WHERE id = $1 AND email = $2 AND email_verified_at IS NULL",
            )
            .bind(user.to_string())
            .bind(email)
            .bind(ms(now)),
        )
        .await?;
        Ok(())
    }

    /// Mails `user` a link to set a new password, unless `per_day_max` such
    /// links went out in the last day. Returns whether it was sent.
    pub async fn add_password_reset(
        &self,
        user: UserId,
        email: &str,
        reset: &NewPasswordReset<'_>,
        per_day_max: i64,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let (sent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at > $2")
                .bind(user.to_string())
                .bind(ms(now - chrono::Duration::days(1)))
                .fetch_one(&mut *tx)
                .await?;
        if sent >= per_day_max {
            return Ok(false);
        }
        // Tidy links too old to count; correctness never depends on it.
        sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND created_at <= $2")
            .bind(user.to_string())
            .bind(ms(now - chrono::Duration::days(2)))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(reset.token_hash)
        .bind(user.to_string())
        .bind(email)
        .bind(ms(now))
        .bind(ms(reset.expires_at))
        .execute(&mut *tx)
        .await?;
        crate::notifications::insert_notice(&mut tx, reset.notice, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The account a live password link (by its secret's hash) is for, if
    /// that account still has the address it was sent to.
    pub async fn password_reset(&self, token_hash: &str, now: Timestamp) -> Result<Option<UserRecord>> {
        self.user_of_link("password_resets", token_hash, now).await
    }

    /// Sets the password of the account a live link (by its secret's hash)
    /// is for, in one transaction: the link and every other one of the
    /// account stop working, every session ends (whoever knew the old
    /// password is signed out), and the address counts as confirmed (the
    /// link was mailed there). `None`, and nothing changed, when the link
    /// is unknown, used or expired.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        new: &NewPassword<'_>,
        now: Timestamp,
    ) -> Result<Option<UserId>> {
        let mut tx = self.write().await?;
        // Ending the link first (it expires now) makes it single-use under
        // concurrent attempts on both backends: the second one finds it
        // expired. The row stays, so the day's count of links still holds.
        let link: Option<(String, String)> = sqlx::query_as(
            "UPDATE password_resets SET expires_at = $2 WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id, email",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user, email)) = link else { return Ok(None) };
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $3, email_verified_at = COALESCE(email_verified_at, $4) \
             WHERE id = $1 AND email = $2",
        )
        .bind(&user)
        .bind(&email)
        .bind(new.password_hash)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            // The account's address is no longer the one the link went to.
            return Ok(None);
        }
        end_password_links(&mut tx, &user, now).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(&user).execute(&mut *tx).await?;
        crate::notifications::insert_notice(&mut tx, new.notice, now).await?;
        tx.commit().await?;
        self.cache.sessions.clear();
        Ok(Some(id(&user)?))
    }

    /// Sets `user`'s password (the caller checked the current one): every
    /// other session ends and pending password links stop working.
    pub async fn change_password(
        &self,
        user: UserId,
        new: &NewPassword<'_>,
        keep_session: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.to_string())
            .bind(new.password_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.to_string())
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        end_password_links(&mut tx, &user.to_string(), now).await?;
        crate::notifications::insert_notice(&mut tx, new.notice, now).await?;
        tx.commit().await?;
        self.cache.sessions.clear();
        Ok(())
    }

    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>> {
        let row: Option<UserRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1")))
                .bind(email.as_str())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        row.map(user).transpose()
    }

    pub async fn user_by_id(&self, user_id: UserId) -> Result<Option<UserRecord>> {
        let row: Option<UserRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
                .bind(user_id.to_string())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        row.map(user).transpose()
    }

    /// Starts a session for `user_id`, whose password was checked against
    /// `checked_hash`: only if that is still its password. A sign-in that
    /// checked the old password while a new one was being set must not
    /// outlive the new one, which ends every session. On PostgreSQL the
    /// account's row is locked for the check, so a password change either
    /// commits first (and the check fails) or waits and then ends this
    /// session too; SQLite's one writer orders them anyway. `false` when
    /// the password changed.
    pub async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: UserId,
        checked_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let lock = self.backend().share_lock();
        let current: Option<(String,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT password_hash FROM users WHERE id = $1{lock}")))
                .bind(user_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if current.is_none_or(|(hash,)| hash != checked_hash) {
            return Ok(false);
        }
        // Tidy expired sessions as we go; correctness never depends on it.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id.to_string())
            .bind(ms(now))
            .bind(ms(expires_at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Counts a password check about to be made at `now` for the address
    /// whose SHA-256 is `email_hash`, and answers the count with it: one
    /// more in its window, or the first of a new window when the one
    /// counting began at `ended_before` or earlier. Counting and reading are
    /// one statement, so checks made at once each see the others. Windows
    /// that ended are tidied on the way.
    pub async fn count_sign_in_attempt(
        &self,
        email_hash: &[u8],
        now: Timestamp,
        ended_before: Timestamp,
    ) -> Result<SignInFailures> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE since <= $1").bind(ms(ended_before)).execute(&mut *tx).await?;
        let (count, since): (i64, i64) = sqlx::query_as(
            "INSERT INTO sign_in_failures (email_hash, failures, since) VALUES ($1, 1, $2) \
             ON CONFLICT (email_hash) DO UPDATE SET failures = sign_in_failures.failures + 1 \
             RETURNING failures, since",
        )
        .bind(email_hash)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SignInFailures { count, since: ts(since)? })
    }

    /// Forgets the failed sign-ins of the address whose SHA-256 is
    /// `email_hash`: its owner signed in, or set a new password.
    pub async fn clear_sign_in_failures(&self, email_hash: &[u8]) -> Result<()> {
        self.write_one(sqlx::query("DELETE FROM sign_in_failures WHERE email_hash = $1").bind(email_hash)).await?;
        Ok(())
    }

    /// The user a bearer token belongs to, if the session is still valid.
    /// Served from the read cache when fresh: signing out on this node ends
    /// the session here at once, on other nodes within the cache's lifetime.
    pub async fn session_user(&self, token_hash: &[u8], now: Timestamp) -> Result<Option<UserId>> {
        let key = token_hash.to_vec();
        let session = crate::cache::cached!(self.cache.sessions, key, self.load_session(token_hash, now).await)?;
        Ok(session.filter(|(_, expires_at)| *expires_at > ms(now)).map(|(user, _)| user))
    }

    /// The session, and the account's recipient details with it: a
    /// signed-in buyer's checkout addresses its confirmation with them, and
    /// would otherwise read the account once more.
    async fn load_session(&self, token_hash: &[u8], now: Timestamp) -> Result<Option<(UserId, i64)>> {
        let generation = self.cache.recipients.generation();
        // Every buyer's first request of an on-sale reads it.
        let rows = self
            .hot_rows(
                "SELECT s.user_id, s.expires_at, u.email, u.name, u.locale FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
                &[token_hash.into(), ms(now).into()],
                |r| Ok((r.text(0)?, r.int(1)?, r.text(2)?, r.text(3)?, r.text(4)?)),
            )
            .await?;
        let Some((user, expires_at, email, name, locale)) = rows.into_iter().next() else {
            return Ok(None);
        };
        let user = id(&user)?;
        self.cache.recipients.put(user, crate::Recipient { user, email, name, locale }, generation);
        Ok(Some((user, expires_at)))
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        self.write_one(sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash)).await?;
        self.cache.sessions.invalidate(&token_hash.to_vec());
        Ok(())
    }

    pub async fn memberships(&self, user_id: UserId) -> Result<Vec<(OrganizationId, Role)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT organization_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at, organization_id",
        )
        .bind(user_id.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(org, role)| {
                Ok((id(&org)?, role.parse().map_err(|_| StoreError::Corrupt(format!("bad role '{role}'")))?))
            })
            .collect()
    }

    /// The user's role in the organization, or `None` if not a member (or if
    /// the organization does not exist).
    pub async fn role_in(&self, user_id: UserId, org: OrganizationId) -> Result<Option<Role>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1 AND organization_id = $2")
                .bind(user_id.to_string())
                .bind(org.to_string())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        row.map(|(r,)| r.parse().map_err(|_| StoreError::Corrupt(format!("bad role '{r}'")))).transpose()
    }

    /// Creates an organization with `owner` as its owner, atomically.
    pub async fn create_organization(
        &self,
        org: OrganizationId,
        name: &str,
        owner: UserId,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.to_string())
            .bind(name)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(org.to_string())
        .bind(owner.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn organization_name(&self, org: OrganizationId) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM organizations WHERE id = $1")
            .bind(org.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(row.map(|(n,)| n))
    }

    pub async fn add_member(
        &self,
        org: OrganizationId,
        email: &Email,
        role: Role,
        now: Timestamp,
    ) -> Result<UserId, AddMemberError> {
        let mut tx = self.write().await.map_err(AddMemberError::Store)?;
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let Some((user,)) = row else {
            return Err(AddMemberError::UnknownUser);
        };
        let inserted = sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id) DO NOTHING",
        )
        .bind(org.to_string())
        .bind(&user)
        .bind(role.as_str())
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() == 0 {
            return Err(AddMemberError::AlreadyMember);
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(id(&user)?)
    }

    /// The organization's members, owner first, then by when they joined.
    pub async fn members(&self, org: OrganizationId) -> Result<Vec<MemberRecord>> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.created_at, u.id",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(user, email, name, role, since)| {
                Ok(MemberRecord {
                    user: id(&user)?,
                    email,
                    name,
                    role: role.parse().map_err(|_| StoreError::Corrupt(format!("unknown role '{role}'")))?,
                    since: crate::ts(since)?,
                })
            })
            .collect()
    }

    /// Removes `user` from `org` if their role is `role`: the caller decided
    /// on that role, and a role changed meanwhile is not removed. Says
    /// whether a membership ended.
    pub async fn remove_member(&self, org: OrganizationId, user: UserId, role: Role, now: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2 AND role = $3")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            crate::invitations::revoke_invitations_by(&mut tx, org, user, now).await?;
            sqlx::query(
                "INSERT INTO member_removals (organization_id, user_id, role, removed_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.as_str())
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// When `user` last left `org`'s team, and the role they had then.
    pub async fn removed_from(&self, user: UserId, org: OrganizationId) -> Result<Option<(Role, Timestamp)>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT role, removed_at FROM member_removals WHERE user_id = $1 AND organization_id = $2 \
             ORDER BY removed_at DESC LIMIT 1",
        )
        .bind(user.to_string())
        .bind(org.to_string())
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|(role, at)| {
            let role = role.parse().map_err(|_| StoreError::Corrupt(format!("unknown role '{role}'")))?;
            Ok((role, crate::ts(at)?))
        })
        .transpose()
    }

    /// Whether any user exists: the demo loader only runs on an empty database.
    pub async fn is_empty(&self) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&mut *self.read().await?).await?;
        Ok(n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sign-in that checked a password which has since changed starts no
    /// session: the new password ended every session, and this one would
    /// outlive it.
    #[tokio::test]
    async fn a_session_starts_only_while_the_checked_password_is_current() {
        let dir = tempfile::tempdir().unwrap();
        let url = std::env::var("STORE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}/sessions.db", dir.path().display()));
        let store = Store::connect(&url).await.unwrap();
        let user = UserId::new();
        let email = format!("{user}@example.org");
        store
            .write_one(
                sqlx::query(
                    "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, 'A', 'new-hash', 0)",
                )
                .bind(user.to_string())
                .bind(&email),
            )
            .await
            .unwrap();
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::hours(1);
        let (stale, fresh) = (format!("{user}-stale").into_bytes(), format!("{user}-fresh").into_bytes());
        assert!(!store.create_session(&stale, user, "old-hash", now, until).await.unwrap());
        assert_eq!(store.session_user(&stale, now).await.unwrap(), None);
        assert!(store.create_session(&fresh, user, "new-hash", now, until).await.unwrap());
        assert_eq!(store.session_user(&fresh, now).await.unwrap(), Some(user));
    }
}
