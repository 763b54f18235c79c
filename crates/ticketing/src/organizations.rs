//! Organizations and their members.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::Timestamp;
use domain::auth::Role;
use domain::email::{Email, InvalidEmail};
use domain::ids::{OrganizationId, UserId};
use store::{
    AcceptInvitationError, AddMemberError, InvitationRecord, InviteError, MemberRecord, NewInvitation, StoreError,
};

use crate::notifications::{MessageKind, Notice, To};
use crate::{Denied, Ticketing, from_visible};

/// Longest organization name, in characters.
pub const ORGANIZATION_NAME_LEN_MAX: usize = 200;
/// How long an invitation's link works: long enough for someone back from
/// a week away, short enough that an old message found later is useless.
pub const INVITATION_TTL_DAYS: i64 = 7;
/// Random bytes in an invitation's secret: as many as a session token's.
const INVITATION_SECRET_BYTES: usize = 32;
/// Longest secret looked up; anything longer is no link of ours.
const INVITATION_SECRET_LEN_MAX: usize = 64;
/// Invitations one organization sends in a day: a team grows by a few at a
/// time, and the e-mails carry names its members chose, so the platform's
/// mail must not become a way to send anything to anyone in bulk.
pub const INVITATIONS_PER_DAY_MAX: i64 = 50;

/// A new invitation and the link that accepts it. The link is shown to
/// whoever invited, once, for when mail does not reach the person.
#[derive(Clone, Debug)]
pub struct SentInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The path of the page that accepts it, secret included.
    pub path: String,
    /// The full address of that page, as the e-mail has it.
    pub link: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteFailure {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error("invite someone as 'admin' or 'gate'; an organization has one owner")]
    OwnerRole,
    #[error("this person is a member already")]
    AlreadyMember,
    #[error("an invitation to this address is open; withdraw it first to send a new one")]
    AlreadyInvited,
    #[error("this organization sent {INVITATIONS_PER_DAY_MAX} invitations in the last day; try again tomorrow")]
    TooMany,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(InviteFailure);

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("no invitation has this link; ask for a new one")]
    Unknown,
    #[error("this invitation was used already")]
    Accepted,
    #[error("this invitation was withdrawn; ask for a new one")]
    Revoked,
    #[error("this invitation has expired; ask for a new one")]
    Expired,
    #[error("this account is a member of the organization already")]
    AlreadyMember,
    /// The address is the one the invitation's page shows whoever holds
    /// the link.
    #[error(
        "this invitation was sent to {0}; sign in with that address to accept it, or ask for an invitation to yours"
    )]
    OtherAddress(String),
    #[error(
        "confirm this account's address first, with the link mailed to it (your account page sends a new one); then accept the invitation"
    )]
    AddressUnconfirmed,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(InvitationError);

#[derive(Debug, thiserror::Error)]
pub enum ChangeRoleError {
    #[error("this person is not a member of the organization")]
    NotMember,
    #[error("the owner's role cannot be changed")]
    Owner,
    #[error("a member is 'admin' or 'gate'; an organization has one owner")]
    OwnerRole,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(ChangeRoleError);

/// The hex SHA-256 an invitation is stored under.
fn secret_hash(secret: &str) -> String {
    crate::sha256_hex(secret)
}

/// Whether `secret` could be one of ours: base64url, not too long. Anything
/// else is unknown without a query, and never echoed into a header.
pub fn plausible_secret(secret: &str) -> bool {
    !secret.is_empty()
        && secret.len() <= INVITATION_SECRET_LEN_MAX
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The hash to look a link's secret up by.
fn lookup_hash(secret: &str) -> Result<String, InvitationError> {
    if !plausible_secret(secret) {
        return Err(InvitationError::Unknown);
    }
    Ok(secret_hash(secret))
}

#[derive(Debug, thiserror::Error)]
pub enum CreateOrganizationError {
    #[error(
        "organization name must be 1 to {ORGANIZATION_NAME_LEN_MAX} characters on one line, without control characters"
    )]
    BadName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AddMemberFailure {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error("no account has this e-mail address; ask them to sign up first")]
    UnknownUser,
    #[error("this person is a member already")]
    AlreadyMember,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(AddMemberFailure);

#[derive(Debug, thiserror::Error)]
pub enum ViewTeamError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(ViewTeamError);

#[derive(Debug, thiserror::Error)]
pub enum RemoveMemberError {
    #[error("this person is not a member of the organization")]
    NotMember,
    #[error("the owner cannot be removed")]
    Owner,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(RemoveMemberError);

impl Ticketing {
    /// The organization's members, for its owners and admins.
    pub async fn members(&self, actor: UserId, org: OrganizationId) -> Result<Vec<MemberRecord>, ViewTeamError> {
        self.require_role(actor, org, |r| r.can_manage_events(), "only owners and admins see the team").await?;
        Ok(self.store.members(org).await?)
    }

    /// Ends `member`'s membership: owners remove admins and gate staff,
    /// admins remove gate staff, as they may add them. Gate staff leaving
    /// at the end of a season lose the scanner at once.
    pub async fn remove_member(
        &self,
        actor: UserId,
        org: OrganizationId,
        member: UserId,
    ) -> Result<(), RemoveMemberError> {
        let actor_role =
            self.require_role(actor, org, |r| r.can_manage_events(), "only owners and admins remove members").await?;
        let role = self.store.role_in(member, org).await?.ok_or(RemoveMemberError::NotMember)?;
        if role == Role::Owner {
            return Err(RemoveMemberError::Owner);
        }
        if !actor_role.can_grant(role) {
            return Err(Denied::Forbidden("your role cannot remove that role").into());
        }
        if !self.store.remove_member(org, member, role, self.now()).await? {
            // Removed, or given another role, since it was read.
            return Err(RemoveMemberError::NotMember);
        }
        Ok(())
    }

    /// Invites `email` to the team as `role`. The person gets an e-mail with
    /// a link (and, with an account, a notification in the app); the link
    /// works once, for [`INVITATION_TTL_DAYS`], whoever signs in with it.
    /// Whether the address has an account is not revealed.
    pub async fn invite_member(
        &self,
        actor: UserId,
        org: OrganizationId,
        email: &str,
        role: Role,
    ) -> Result<SentInvitation, InviteFailure> {
        let actor_role =
            self.require_role(actor, org, |r| r.can_manage_events(), "only owners and admins invite members").await?;
        let email = Email::parse(email)?;
        if role == Role::Owner {
            return Err(InviteFailure::OwnerRole);
        }
        if !actor_role.can_grant(role) {
            return Err(Denied::Forbidden("your role cannot grant that role").into());
        }
        let organization = self.store.organization_name(org).await?.ok_or(Denied::NotFound("organization"))?;
        let inviter = self.store.user_by_id(actor).await?.ok_or(Denied::NotFound("user"))?;
        let mut secret = [0u8; INVITATION_SECRET_BYTES];
        rand::fill(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let now = self.now();
        let invitation = NewInvitation {
            id: uuid::Uuid::now_v7().to_string(),
            organization: org,
            email: email.as_str().to_owned(),
            role,
            token_hash: secret_hash(&secret),
            invited_by: actor,
            created_at: now,
            expires_at: now + chrono::Duration::days(INVITATION_TTL_DAYS),
        };
        let path = format!("/invitations/{secret}");
        let to = match self.store.user_by_email(&email).await? {
            Some(u) => To::Account(self.recipient(u.id).await?),
            None => To::Address { email: email.as_str().to_owned(), locale: crate::mail::LOCALE_DEFAULT.to_owned() },
        };
        let notice = self.notice(Notice {
            kind: MessageKind::TeamInvitation,
            to,
            dedupe_key: store::invitation_notice_key(&invitation.id),
            link: path.clone(),
            data: serde_json::json!({
                "organization": organization,
                "from_name": inviter.name,
                "role": role.as_str(),
                "days": INVITATION_TTL_DAYS,
            }),
        });
        match self.store.create_invitation(&invitation, &notice, INVITATIONS_PER_DAY_MAX, now).await {
            Ok(()) => {}
            Err(InviteError::AlreadyMember) => return Err(InviteFailure::AlreadyMember),
            Err(InviteError::AlreadyInvited) => return Err(InviteFailure::AlreadyInvited),
            Err(InviteError::TooMany) => return Err(InviteFailure::TooMany),
            Err(InviteError::Store(e)) => return Err(e.into()),
        }
        Ok(SentInvitation {
            id: invitation.id,
            email: invitation.email,
            role,
            created_at: now,
            expires_at: invitation.expires_at,
            link: self.mailer.link(&path),
            path,
        })
    }

    /// Invitations of the organization that can still be accepted.
    pub async fn invitations(
        &self,
        actor: UserId,
        org: OrganizationId,
    ) -> Result<Vec<InvitationRecord>, ViewTeamError> {
        self.require_role(actor, org, |r| r.can_manage_events(), "only owners and admins see the team").await?;
        Ok(self.store.open_invitations(org, self.now()).await?)
    }

    /// Withdraws an open invitation: its link stops working at once. Admins
    /// withdraw what they could have sent (gate staff invitations).
    pub async fn revoke_invitation(
        &self,
        actor: UserId,
        org: OrganizationId,
        invitation: &str,
    ) -> Result<(), InvitationError> {
        let actor_role = self
            .require_role(actor, org, |r| r.can_manage_events(), "only owners and admins withdraw invitations")
            .await?;
        let open = self.store.open_invitations(org, self.now()).await?;
        let found = open.iter().find(|i| i.id == invitation).ok_or(Denied::NotFound("invitation"))?;
        if !actor_role.can_grant(found.role) {
            return Err(Denied::Forbidden("your role cannot withdraw that invitation").into());
        }
        if self.store.revoke_invitation(org, invitation, self.now()).await? {
            Ok(())
        } else {
            Err(Denied::NotFound("invitation").into())
        }
    }

    /// The invitation a link's secret opens, if it is still open.
    pub async fn invitation(&self, secret: &str) -> Result<InvitationRecord, InvitationError> {
        let found = self.store.invitation_by_token(&lookup_hash(secret)?).await?.ok_or(InvitationError::Unknown)?;
        match found.status.as_str() {
            "accepted" => Err(InvitationError::Accepted),
            "revoked" => Err(InvitationError::Revoked),
            _ if found.expires_at <= self.now() => Err(InvitationError::Expired),
            _ => Ok(found),
        }
    }

    /// Joins the signed-in account to the team the link invites to.
    pub async fn accept_invitation(
        &self,
        user: UserId,
        secret: &str,
    ) -> Result<(OrganizationId, Role), InvitationError> {
        match self.store.accept_invitation(&lookup_hash(secret)?, user, self.now()).await {
            Ok(joined) => Ok(joined),
            Err(AcceptInvitationError::Unknown) => Err(InvitationError::Unknown),
            Err(AcceptInvitationError::Accepted) => Err(InvitationError::Accepted),
            Err(AcceptInvitationError::Revoked) => Err(InvitationError::Revoked),
            Err(AcceptInvitationError::Expired) => Err(InvitationError::Expired),
            Err(AcceptInvitationError::AlreadyMember) => Err(InvitationError::AlreadyMember),
            Err(AcceptInvitationError::OtherAddress(email)) => Err(InvitationError::OtherAddress(email)),
            Err(AcceptInvitationError::AddressUnconfirmed) => Err(InvitationError::AddressUnconfirmed),
            Err(AcceptInvitationError::Store(e)) => Err(e.into()),
        }
    }

    /// Moves a member between admin and gate staff. Only the owner may: it
    /// takes granting both the role they have and the one they get.
    pub async fn change_member_role(
        &self,
        actor: UserId,
        org: OrganizationId,
        member: UserId,
        to: Role,
    ) -> Result<MemberRecord, ChangeRoleError> {
        self.require_role(actor, org, |r| *r == Role::Owner, "only the owner changes roles").await?;
        if to == Role::Owner {
            return Err(ChangeRoleError::OwnerRole);
        }
        let from = self.store.role_in(member, org).await?.ok_or(ChangeRoleError::NotMember)?;
        if from == Role::Owner {
            return Err(ChangeRoleError::Owner);
        }
        if from != to && !self.store.change_member_role(org, member, from, to, self.now()).await? {
            // Removed, or given another role, since it was read.
            return Err(ChangeRoleError::NotMember);
        }
        let members = self.store.members(org).await?;
        members.into_iter().find(|m| m.user == member).ok_or(ChangeRoleError::NotMember)
    }

    /// Creates an organization; the caller becomes its owner.
    pub async fn create_organization(
        &self,
        user: UserId,
        name: &str,
    ) -> Result<(OrganizationId, String), CreateOrganizationError> {
        let name = name.trim();
        if !domain::text::is_name(name, ORGANIZATION_NAME_LEN_MAX) {
            return Err(CreateOrganizationError::BadName);
        }
        let org = OrganizationId::new();
        self.store.create_organization(org, name, user, self.now()).await?;
        Ok((org, name.to_owned()))
    }

    /// Adds an existing account to the organization with `role`.
    pub async fn add_member(
        &self,
        actor: UserId,
        org: OrganizationId,
        email: &str,
        role: Role,
    ) -> Result<UserId, AddMemberFailure> {
        let email = Email::parse(email)?;
        let actor_role =
            self.require_role(actor, org, |r| r.can_manage_events(), "only owners and admins add members").await?;
        if !actor_role.can_grant(role) {
            return Err(Denied::Forbidden("your role cannot grant that role").into());
        }
        match self.store.add_member(org, &email, role, self.now()).await {
            Ok(id) => Ok(id),
            Err(AddMemberError::UnknownUser) => Err(AddMemberFailure::UnknownUser),
            Err(AddMemberError::AlreadyMember) => Err(AddMemberFailure::AlreadyMember),
            Err(AddMemberError::Store(e)) => Err(e.into()),
        }
    }
}
