//! Sign-up, sign-in and bearer tokens.

use argon2::password_hash::PasswordVerifier;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::auth::{PasswordPolicyError, Role, check_password_policy};
use domain::email::{Email, InvalidEmail};
use domain::ids::{OrganizationId, UserId};
use sha2::{Digest, Sha256};
use store::{CreateUserError, StoreError, UserRecord};

use crate::Ticketing;

/// Longest display name, in characters.
pub const NAME_LEN_MAX: usize = 200;
/// Bytes of randomness in a bearer token (256 bits), and in the secret of
/// a link that confirms an address.
const TOKEN_BYTES: usize = 32;
/// How long a link that confirms an address works.
pub const EMAIL_VERIFICATION_DAYS: i64 = 7;
/// Links that confirm an address one account may have mailed in a day: its
/// sign-up's and those asked for again. Each is a message to an address
/// nobody has confirmed yet, so this bounds what one account can send there.
pub const EMAIL_VERIFICATIONS_PER_DAY_MAX: i64 = 5;
/// Longest confirmation secret looked at; anything longer is none of ours.
const VERIFICATION_TOKEN_LEN_MAX: usize = 128;
/// How long a link that sets a new password works. Short: whoever reads
/// the mail it sits in can take the account with it.
pub const PASSWORD_RESET_MINUTES: i64 = 60;
/// Password links one account may be mailed in a day. Asking needs no
/// sign-in, so this bounds what anyone can send to someone else's address.
pub const PASSWORD_RESETS_PER_DAY_MAX: i64 = 5;

/// Argon2id cost. The default follows the OWASP recommendation
/// (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordHashing {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self { memory_kib: Params::DEFAULT_M_COST, iterations: Params::DEFAULT_T_COST }
    }
}

impl PasswordHashing {
    /// A cheap setting for test suites that create hundreds of accounts.
    /// Never for production: it makes stolen hashes cheap to crack.
    pub fn insecure_fast() -> Self {
        Self { memory_kib: 1024, iterations: 1 }
    }

    /// Whether argon2 accepts these costs.
    pub fn is_valid(&self) -> bool {
        Params::new(self.memory_kib, self.iterations, 1, None).is_ok()
    }

    fn argon2(&self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None).expect("checked by is_valid at start-up");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error(transparent)]
    WeakPassword(#[from] PasswordPolicyError),
    #[error("name must be 1 to {NAME_LEN_MAX} characters on one line, without control characters")]
    BadName,
    #[error("an account with this e-mail address exists already")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    #[error("this confirmation link is unknown or has expired: sign in and ask for a new one")]
    UnknownLink,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub use store::SendVerificationError;

#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    #[error("this password link is unknown, used already or has expired: ask for a new one")]
    UnknownLink,
    #[error(transparent)]
    WeakPassword(#[from] PasswordPolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("{}", too_many_failures(*.0))]
    TooManyFailures(chrono::Duration),
    #[error(transparent)]
    WeakPassword(#[from] PasswordPolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum RequestPasswordResetError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Deliberately the same for unknown e-mail and wrong password.
    #[error("e-mail address or password is wrong")]
    BadCredentials,
    /// Too many wrong passwords for this address lately, from anywhere;
    /// the same whether or not an account has it.
    #[error("{}", too_many_failures(*.0))]
    TooManyFailures(chrono::Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub expires_in_secs: i64,
}

#[derive(Clone, Debug)]
pub struct Me {
    pub user: UserRecord,
    pub memberships: Vec<(OrganizationId, Role)>,
}

/// A fresh secret of [`TOKEN_BYTES`] random bytes, URL-safe: a bearer
/// token, or the secret of a mailed link.
fn new_secret() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What a refused sign-in tells: when to try again, and the way in now.
fn too_many_failures(wait: chrono::Duration) -> String {
    let minutes = (wait.num_seconds() + 59) / 60;
    format!(
        "too many wrong passwords for this address; try again in {minutes} minute{}, or set a new password \
         with a link by e-mail to sign in now",
        if minutes == 1 { "" } else { "s" }
    )
}

/// The key failed sign-ins are counted under: the address, hashed.
fn address_key(email: &Email) -> [u8; 32] {
    Sha256::digest(email.as_str().as_bytes()).into()
}

impl Ticketing {
    pub async fn register(&self, email: &str, password: &str, name: &str) -> Result<UserRecord, RegisterError> {
        let email = Email::parse(email)?;
        check_password_policy(password)?;
        let name = name.trim();
        if !domain::text::is_name(name, NAME_LEN_MAX) {
            return Err(RegisterError::BadName);
        }
        let hash = self.hash_password(password).await;
        let id = UserId::new();
        let now = self.now();
        let (secret, verification) = self.verification_notice(&email, name);
        let token_hash = crate::sha256_hex(&secret);
        let expires_at = now + chrono::Duration::days(EMAIL_VERIFICATION_DAYS);
        let check = store::NewEmailVerification { token_hash: &token_hash, expires_at, notice: &verification };
        match self.store.create_user(id, &email, name, &hash, now, &check).await {
            Ok(()) => {}
            Err(CreateUserError::EmailTaken) => return Err(RegisterError::EmailTaken),
            Err(CreateUserError::Store(e)) => return Err(e.into()),
        }
        Ok(UserRecord {
            id,
            email: email.as_str().to_owned(),
            name: name.to_owned(),
            password_hash: hash,
            created_at: now,
            email_verified_at: None,
        })
    }

    /// A fresh secret and the message that mails its link to `email`.
    fn verification_notice(&self, email: &Email, account_name: &str) -> (String, store::NewNotice) {
        let secret = new_secret();
        let notice = self.notice(crate::notifications::Notice {
            kind: crate::notifications::MessageKind::VerifyEmail,
            // The mailbox alone: a link shown in the app would prove nothing.
            to: crate::notifications::To::Address {
                email: email.as_str().to_owned(),
                locale: crate::mail::LOCALE_DEFAULT.to_owned(),
            },
            dedupe_key: format!("verify-email:{}", crate::sha256_hex(&secret)),
            link: format!("/verify-email?token={secret}"),
            data: serde_json::json!({"days": EMAIL_VERIFICATION_DAYS, "account_name": account_name}),
        });
        (secret, notice)
    }

    /// Mails the signed-in user another link to confirm their address.
    pub async fn send_email_verification(&self, user: UserId) -> Result<String, SendVerificationError> {
        let me =
            self.store.user_by_id(user).await?.ok_or_else(|| StoreError::Corrupt(format!("user {user} vanished")))?;
        let email = Email::parse(&me.email).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = self.now();
        let (secret, notice) = self.verification_notice(&email, &me.name);
        let token_hash = crate::sha256_hex(&secret);
        let expires_at = now + chrono::Duration::days(EMAIL_VERIFICATION_DAYS);
        let check = store::NewEmailVerification { token_hash: &token_hash, expires_at, notice: &notice };
        self.store.add_email_verification(user, &check, EMAIL_VERIFICATIONS_PER_DAY_MAX, now).await?;
        Ok(me.email)
    }

    /// The account a mailed confirmation link is for, while it works: its
    /// page names the account, so whoever owns the address can tell whether
    /// they made it.
    pub async fn email_verification(&self, token: &str) -> Result<UserRecord, VerifyEmailError> {
        if token.is_empty() || token.len() > VERIFICATION_TOKEN_LEN_MAX {
            return Err(VerifyEmailError::UnknownLink);
        }
        self.store.email_verification(&crate::sha256_hex(token), self.now()).await?.ok_or(VerifyEmailError::UnknownLink)
    }

    /// Confirms the address a mailed link was sent to. Opening it again
    /// while it works says the same.
    pub async fn verify_email(&self, token: &str) -> Result<UserId, VerifyEmailError> {
        if token.is_empty() || token.len() > VERIFICATION_TOKEN_LEN_MAX {
            return Err(VerifyEmailError::UnknownLink);
        }
        match self.store.verify_email(&crate::sha256_hex(token), self.now()).await? {
            Some(user) => Ok(user),
            None => Err(VerifyEmailError::UnknownLink),
        }
    }

    async fn hash_password(&self, password: &str) -> String {
        let hashing = self.settings.password_hashing;
        let password = password.to_owned();
        // argon2 is deliberately slow: keep it off the async worker threads.
        tokio::task::spawn_blocking(move || hashing.argon2().hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await
            .expect("password hashing does not panic")
            .expect("hashing with a random salt cannot fail")
    }

    /// Whether `password` is the one `stored` is the hash of.
    async fn password_matches(&self, password: &str, stored: Option<String>) -> bool {
        let hashing = self.settings.password_hashing;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match stored {
            // The parameters are read from the stored hash.
            Some(hash) => hashing.argon2().verify_password(password.as_bytes(), hash.as_str()).is_ok(),
            // As long as a check: the answer's time does not tell whether
            // the address has an account.
            None => {
                let _ = hashing.argon2().hash_password(password.as_bytes());
                false
            }
        })
        .await
        .expect("password verification does not panic")
    }

    /// Mails a link to set a new password to the account with this
    /// address, if there is one (at most [`PASSWORD_RESETS_PER_DAY_MAX`] a
    /// day). The answer is the same either way, so asking does not tell
    /// whether the address has an account.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), RequestPasswordResetError> {
        let email = Email::parse(email)?;
        let Some(user) = self.store.user_by_email(&email).await? else {
            return Ok(());
        };
        let secret = new_secret();
        let token_hash = crate::sha256_hex(&secret);
        let notice = self.notice(crate::notifications::Notice {
            kind: crate::notifications::MessageKind::PasswordReset,
            // The mailbox alone: the one asking cannot sign in.
            to: crate::notifications::To::Address {
                email: user.email.clone(),
                locale: crate::mail::LOCALE_DEFAULT.to_owned(),
            },
            dedupe_key: format!("password-reset:{token_hash}"),
            link: format!("/reset-password?token={secret}"),
            data: serde_json::json!({"minutes": PASSWORD_RESET_MINUTES, "account_name": user.name}),
        });
        let expires_at = self.now() + chrono::Duration::minutes(PASSWORD_RESET_MINUTES);
        let reset = store::NewPasswordReset { token_hash: &token_hash, expires_at, notice: &notice };
        let sent = self
            .store
            .add_password_reset(user.id, &user.email, &reset, PASSWORD_RESETS_PER_DAY_MAX, self.now())
            .await?;
        if !sent {
            tracing::info!(user = %user.id, "password link not sent: the day's limit was reached");
        }
        Ok(())
    }

    /// The account a mailed password link is for, while it works: its page
    /// names the account.
    pub async fn password_reset(&self, token: &str) -> Result<UserRecord, ResetPasswordError> {
        if token.is_empty() || token.len() > VERIFICATION_TOKEN_LEN_MAX {
            return Err(ResetPasswordError::UnknownLink);
        }
        self.store.password_reset(&crate::sha256_hex(token), self.now()).await?.ok_or(ResetPasswordError::UnknownLink)
    }

    /// Sets a new password with a mailed link: the link works once, every
    /// session of the account ends, and the account is told.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<UserId, ResetPasswordError> {
        let account = self.password_reset(token).await?;
        check_password_policy(password)?;
        let hash = self.hash_password(password).await;
        let notice = self.password_changed_notice(account.id).await?;
        let new = store::NewPassword { password_hash: &hash, notice: &notice };
        let user = self
            .store
            .reset_password(&crate::sha256_hex(token), &new, self.now())
            .await?
            .ok_or(ResetPasswordError::UnknownLink)?;
        // The mailbox's owner is in: wrong guesses by others count no more.
        if let Ok(email) = Email::parse(&account.email) {
            self.store.clear_sign_in_failures(&address_key(&email)).await?;
        }
        Ok(user)
    }

    /// Changes the signed-in user's password, given the current one. The
    /// session `keep` (the one asking) stays signed in; every other ends.
    pub async fn change_password(
        &self,
        user: UserId,
        keep: &str,
        current: &str,
        new_password: &str,
    ) -> Result<(), ChangePasswordError> {
        let me =
            self.store.user_by_id(user).await?.ok_or_else(|| StoreError::Corrupt(format!("user {user} vanished")))?;
        // A session's holder guessing its password counts as a sign-in would.
        let key = Email::parse(&me.email).map(|e| address_key(&e)).ok();
        if let Some(key) = &key
            && let Some(wait) = self.count_sign_in_attempt(key).await?
        {
            return Err(ChangePasswordError::TooManyFailures(wait));
        }
        if !self.password_matches(current, Some(me.password_hash)).await {
            return Err(ChangePasswordError::WrongPassword);
        }
        if let Some(key) = &key {
            self.store.clear_sign_in_failures(key).await?;
        }
        check_password_policy(new_password)?;
        let hash = self.hash_password(new_password).await;
        let notice = self.password_changed_notice(user).await?;
        let new = store::NewPassword { password_hash: &hash, notice: &notice };
        self.store.change_password(user, &new, &token_hash(keep), self.now()).await?;
        Ok(())
    }

    /// Tells an account its password changed: if it was not its holder,
    /// they learn it at once and can take the account back by mail.
    async fn password_changed_notice(&self, user: UserId) -> Result<store::NewNotice, StoreError> {
        let recipient = self.recipient(user).await?;
        let at = self.now();
        Ok(self.notice(crate::notifications::Notice {
            kind: crate::notifications::MessageKind::PasswordChanged,
            to: crate::notifications::To::Account(recipient),
            dedupe_key: format!("password-changed:{user}:{}", domain::ids::NotificationId::new()),
            link: "/forgot-password".to_owned(),
            data: serde_json::json!({"at_text": at.format("%Y-%m-%d %H:%M UTC").to_string()}),
        }))
    }

    /// Counts a password check for the address `key`; how long it is
    /// refused, when it may not be made.
    async fn count_sign_in_attempt(&self, key: &[u8]) -> Result<Option<chrono::Duration>, StoreError> {
        let now = self.now();
        let counted = self.store.count_sign_in_attempt(key, now, now - domain::auth::SignInFailures::window()).await?;
        Ok(counted.refused_for(now))
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Session, LoginError> {
        let Ok(email) = Email::parse(email) else {
            return Err(LoginError::BadCredentials);
        };
        let key = address_key(&email);
        // Counted before the password is looked at, and refused then: a
        // guess past the limit gets no answer, however many are sent at once.
        if let Some(wait) = self.count_sign_in_attempt(&key).await? {
            return Err(LoginError::TooManyFailures(wait));
        }
        let user = self.store.user_by_email(&email).await?;
        let checked = user.as_ref().map(|u| u.password_hash.clone());
        let ok = self.password_matches(password, checked.clone()).await;
        let Some(user) = user.filter(|_| ok) else {
            return Err(LoginError::BadCredentials);
        };
        self.store.clear_sign_in_failures(&key).await?;
        let token = new_secret();
        let now = self.now();
        let expires_at = now + self.settings.session_ttl;
        let checked = checked.expect("a user was found");
        if !self.store.create_session(&token_hash(&token), user.id, &checked, now, expires_at).await? {
            // The password changed while this one was checked.
            return Err(LoginError::BadCredentials);
        }
        Ok(Session { access_token: token, expires_in_secs: self.settings.session_ttl.num_seconds() })
    }

    /// The user a bearer token belongs to, if it is valid now.
    pub async fn authenticate(&self, token: &str) -> Result<Option<UserId>, StoreError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        self.store.session_user(&token_hash(token), self.now()).await
    }

    pub async fn logout(&self, token: &str) -> Result<(), StoreError> {
        self.store.delete_session(&token_hash(token)).await
    }

    pub async fn me(&self, user: UserId) -> Result<Option<Me>, StoreError> {
        let Some(record) = self.store.user_by_id(user).await? else {
            return Ok(None);
        };
        let memberships = self.store.memberships(user).await?;
        Ok(Some(Me { user: record, memberships }))
    }
}
