//! Organizations and their members.

use domain::auth::Role;
use domain::email::{Email, InvalidEmail};
use domain::ids::{OrganizationId, UserId};
use store::{AddMemberError, MemberRecord, StoreError};

use crate::{Denied, Ticketing, from_visible};

/// Longest organization name, in characters.
pub const ORGANIZATION_NAME_LEN_MAX: usize = 200;

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

    /// Creates an organization; the caller becomes its owner.
    pub async fn create_organization(
        &self,
        user: UserId,
        name: &str,
    ) -> Result<(OrganizationId, String), CreateOrganizationError> {
        let name = name.trim();
        let n = name.chars().count();
        if n == 0 || n > ORGANIZATION_NAME_LEN_MAX || !domain::text::is_one_line(name) {
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
