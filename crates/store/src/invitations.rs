//! Invitations to an organization's team, and changes of a member's role.
//!
//! An invitation is found by the SHA-256 of the secret its link carries
//! (hex), never by the secret itself.

use domain::Timestamp;
use domain::auth::Role;
use domain::ids::{OrganizationId, UserId};

use crate::{NewNotice, Result, Store, StoreError, id, ms, ts};

/// An invitation, with the names a page about it shows.
#[derive(Clone, Debug)]
pub struct InvitationRecord {
    pub id: String,
    pub organization: OrganizationId,
    pub organization_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub invited_by_name: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// `open`, `accepted` or `revoked`; an open one past `expires_at` has lapsed.
    pub status: String,
}

/// A new invitation as the use case decided it.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub id: String,
    pub organization: OrganizationId,
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("this person is a member already")]
    AlreadyMember,
    #[error("an invitation to this address is open")]
    AlreadyInvited,
    #[error("too many invitations today")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptInvitationError {
    #[error("no invitation has this link")]
    Unknown,
    #[error("this invitation was accepted already")]
    Accepted,
    #[error("this invitation was withdrawn")]
    Revoked,
    #[error("this invitation has expired")]
    Expired,
    #[error("this account is a member of the organization already")]
    AlreadyMember,
    /// The invitation was sent to another address (given) than the
    /// accepting account's.
    #[error("this invitation was sent to another address")]
    OtherAddress(String),
    /// The account has the invited address but was made after the
    /// invitation and has not confirmed it: whoever made it may not own it.
    #[error("the account's address is not confirmed")]
    AddressUnconfirmed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const INVITATION_COLUMNS: &str = "i.id, i.organization_id, o.name, i.email, i.role, i.invited_by, u.name, \
     i.created_at, i.expires_at, i.status";

type InvitationRow = (String, String, String, String, String, String, String, i64, i64, String);

fn invitation(r: InvitationRow) -> Result<InvitationRecord> {
    Ok(InvitationRecord {
        id: r.0,
        organization: id(&r.1)?,
        organization_name: r.2,
        email: r.3,
        role: r.4.parse().map_err(|_| StoreError::Corrupt(format!("unknown role '{}'", r.4)))?,
        invited_by: id(&r.5)?,
        invited_by_name: r.6,
        created_at: ts(r.7)?,
        expires_at: ts(r.8)?,
        status: r.9,
    })
}

/// The dedupe key of an invitation's notice (built the same way in SQL by
/// `hold_back_invitation_mail`): one message per invitation,
/// and the one to hold back if the invitation is withdrawn before it went.
pub fn invitation_notice_key(invitation: &str) -> String {
    format!("invitation:{invitation}")
}

/// Unsent e-mails of invitations `matching` picks (a condition on
/// `invitations`) are not sent: their links would not work.
async fn hold_back_invitation_mail(
    tx: &mut crate::WriteTx,
    matching: &str,
    org: OrganizationId,
    who: &str,
) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE notifications SET email_status = 'none' WHERE email_status = 'queued' AND dedupe_key IN \
         (SELECT 'invitation:' || id FROM invitations WHERE organization_id = $1 AND {matching} AND status = 'open')"
    )))
    .bind(org.to_string())
    .bind(who)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records an invitation and its e-mail together, unless the address
    /// has an open invitation already (withdrawing it is a separate, checked
    /// step) or the organization sent `per_day_max` in the last day.
    /// Invitations of one organization are written one at a time.
    pub async fn create_invitation(
        &self,
        inv: &NewInvitation,
        notice: &NewNotice,
        per_day_max: i64,
        now: Timestamp,
    ) -> Result<(), InviteError> {
        let org = inv.organization.to_string();
        let mut tx = self.write().await?;
        sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
            .bind(&org)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let member: Option<(String,)> = sqlx::query_as(
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 AND u.email = $2",
        )
        .bind(&org)
        .bind(&inv.email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if member.is_some() {
            return Err(InviteError::AlreadyMember);
        }
        let open: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM invitations WHERE organization_id = $1 AND email = $2 AND status = 'open' AND expires_at > $3",
        )
        .bind(&org)
        .bind(&inv.email)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if open.is_some() {
            return Err(InviteError::AlreadyInvited);
        }
        let (sent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM invitations WHERE organization_id = $1 AND created_at > $2")
                .bind(&org)
                .bind(ms(now - chrono::Duration::days(1)))
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        if sent >= per_day_max {
            return Err(InviteError::TooMany);
        }
        sqlx::query(
            "INSERT INTO invitations (id, organization_id, email, role, token_hash, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&inv.id)
        .bind(inv.organization.to_string())
        .bind(&inv.email)
        .bind(inv.role.as_str())
        .bind(&inv.token_hash)
        .bind(inv.invited_by.to_string())
        .bind(ms(inv.created_at))
        .bind(ms(inv.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        crate::notifications::insert_notice(&mut tx, notice, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The organization's invitations that can still be accepted, newest first.
    pub async fn open_invitations(&self, org: OrganizationId, now: Timestamp) -> Result<Vec<InvitationRecord>> {
        let rows: Vec<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations i JOIN organizations o ON o.id = i.organization_id \
             JOIN users u ON u.id = i.invited_by \
             WHERE i.organization_id = $1 AND i.status = 'open' AND i.expires_at > $2 \
             ORDER BY i.created_at DESC, i.id"
        )))
        .bind(org.to_string())
        .bind(ms(now))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(invitation).collect()
    }

    /// The invitation a link's secret belongs to, in whatever state.
    pub async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<InvitationRecord>> {
        let row: Option<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations i JOIN organizations o ON o.id = i.organization_id \
             JOIN users u ON u.id = i.invited_by WHERE i.token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(invitation).transpose()
    }

    /// Withdraws an open invitation of `org`; says whether one was open.
    pub async fn revoke_invitation(&self, org: OrganizationId, invitation: &str, now: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        hold_back_invitation_mail(&mut tx, "id = $2", org, invitation).await?;
        let done = sqlx::query(
            "UPDATE invitations SET status = 'revoked', closed_at = $3 \
             WHERE organization_id = $1 AND id = $2 AND status = 'open'",
        )
        .bind(org.to_string())
        .bind(invitation)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes `user` a member in the invitation's role and closes it, in one
    /// transaction: of two people using one link at once, one joins. The
    /// person who used it, using it again, is told they joined.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        user: UserId,
        now: Timestamp,
    ) -> Result<(OrganizationId, Role), AcceptInvitationError> {
        let mut tx = self.write().await?;
        let taken: Option<(String, String, String, i64)> = sqlx::query_as(
            "UPDATE invitations SET status = 'accepted', accepted_by = $2, closed_at = $3 \
             WHERE token_hash = $1 AND status = 'open' AND expires_at > $3 \
             RETURNING organization_id, role, email, created_at",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let Some((org, role, invited, sent_at)) = taken else {
            let row: Option<(String, Option<String>, String, String)> = sqlx::query_as(
                "SELECT status, accepted_by, organization_id, role FROM invitations WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            return match row {
                None => Err(AcceptInvitationError::Unknown),
                // The same person again (a double click, a resent form):
                // they joined, and that is the answer.
                Some((s, by, org, role)) if s == "accepted" && by.as_deref() == Some(&user.to_string()) => {
                    let role = role.parse().map_err(|_| StoreError::Corrupt(format!("unknown role '{role}'")))?;
                    Ok((id(&org)?, role))
                }
                Some((s, ..)) if s == "accepted" => Err(AcceptInvitationError::Accepted),
                Some((s, ..)) if s == "revoked" => Err(AcceptInvitationError::Revoked),
                Some(_) => Err(AcceptInvitationError::Expired),
            };
        };
        let inserted = sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id) DO NOTHING",
        )
        .bind(&org)
        .bind(user.to_string())
        .bind(&role)
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() == 0 {
            // Dropping the transaction rolls it back: the link stays usable
            // for the account it was meant for.
            return Err(AcceptInvitationError::AlreadyMember);
        }
        // A link passed on, forwarded or leaked gives nobody else the role:
        // only the account with the address it was sent to joins by it.
        // (Both addresses are stored as parsed: trimmed, lower case.) An
        // account made after the invitation must have confirmed the address
        // first, as for a ticket passed on: otherwise whoever got hold of
        // the link could register the address and join.
        let account: Option<(String, Option<i64>, i64)> =
            sqlx::query_as("SELECT email, email_verified_at, created_at FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        match account {
            Some((email, verified, created)) if email == invited => {
                if verified.is_none() && created >= sent_at {
                    return Err(AcceptInvitationError::AddressUnconfirmed);
                }
            }
            _ => return Err(AcceptInvitationError::OtherAddress(invited)),
        }
        tx.commit().await.map_err(StoreError::from)?;
        let role = role.parse().map_err(|_| StoreError::Corrupt(format!("unknown role '{role}'")))?;
        Ok((id(&org)?, role))
    }

    /// Gives `user` the role `to` if their role is still `from` (the caller
    /// decided on that); says whether it changed. Someone who may no longer
    /// invite (moved to gate staff) leaves no working invitation behind.
    pub async fn change_member_role(
        &self,
        org: OrganizationId,
        user: UserId,
        from: Role,
        to: Role,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE memberships SET role = $4 WHERE organization_id = $1 AND user_id = $2 AND role = $3")
                .bind(org.to_string())
                .bind(user.to_string())
                .bind(from.as_str())
                .bind(to.as_str())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 1 && !to.can_manage_events() {
            revoke_invitations_by(&mut tx, org, user, now).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Withdraws the open invitations `user` sent for `org`: they leave the
/// team, or the role that could invite.
pub(crate) async fn revoke_invitations_by(
    tx: &mut crate::WriteTx,
    org: OrganizationId,
    user: UserId,
    now: Timestamp,
) -> Result<()> {
    hold_back_invitation_mail(tx, "invited_by = $2", org, &user.to_string()).await?;
    sqlx::query(
        "UPDATE invitations SET status = 'revoked', closed_at = $3 \
         WHERE organization_id = $1 AND invited_by = $2 AND status = 'open'",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
