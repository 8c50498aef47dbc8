//! Accounts: creating them (the first local account owns the server),
//! reading them, and changing one's own password.

use super::*;

impl AuthService {
    /// Creates an account; `actor` is the staff member doing it, if any.
    pub fn create_user(&self, account: &NewAccount, actor: Option<UserId>) -> Result<User> {
        let new = self.new_user(account)?;
        let now = self.now();
        let audit = [Self::created_event(&new, now, actor)];
        self.store
            .create_user(&new, now, &audit)
            .map_err(conflict_error)
    }

    /// Creates an account on a server that belongs to whoever set it up
    /// (the desktop app's embedded backend): the first account becomes its
    /// owner, with staff rights, decided in the same store transaction as
    /// the insert, so of two first sign-ups at once exactly one is the
    /// owner. Returns the user and whether it is the owner.
    pub fn create_local_account(&self, account: &NewAccount) -> Result<(User, bool)> {
        let mut new = self.new_user(account)?;
        let now = self.now();
        let audit = [Self::created_event(&new, now, None)];
        new.is_staff = true;
        let owner_audit = [
            Self::created_event(&new, now, None),
            AuditEvent::new(now, AuditKind::StaffGranted)
                .reason("the first account owns this server"),
        ];
        new.is_staff = account.is_staff;
        let user = self
            .store
            .create_owner_or_user(&new, now, &audit, &owner_audit)
            .map_err(conflict_error)?;
        let owner = user.is_staff && !account.is_staff;
        Ok((user, owner))
    }

    pub(super) fn new_user(&self, account: &NewAccount) -> Result<NewUser> {
        let username = account.username.trim();
        validate_username(username)?;
        let email = match account.email.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(e) => {
                validate_email(e)?;
                Some(e.to_string())
            }
        };
        let password_hash = self.hasher.hash(&account.password, username)?;
        Ok(NewUser {
            username: username.to_string(),
            email,
            email_verified: account.email_verified,
            password_hash,
            is_active: true,
            is_staff: account.is_staff,
        })
    }

    pub(super) fn created_event(new: &NewUser, now: UnixTime, actor: Option<UserId>) -> AuditEvent {
        AuditEvent::new(now, AuditKind::UserCreated)
            .actor(actor)
            .detail(serde_json::json!({ "username": new.username, "staff": new.is_staff }))
    }

    /// The user `id`; [`AuthError::NotFound`] when there is none.
    pub fn user(&self, id: UserId) -> Result<User> {
        self.store.user(id)?.ok_or(AuthError::NotFound("user"))
    }

    /// The user `id` as authentication sees it (active, staff, lock, the
    /// profile fields; no password hash), from memory when this node holds
    /// it: `None` when it does not (then [`Self::load_user`] reads the store).
    /// Never older than the last user write this node has been told of.
    pub fn cached_user(&self, id: UserId) -> Option<Arc<User>> {
        self.users.get(id)
    }

    /// Reads the user `id` from the store and keeps it (unless a user write
    /// was applied meanwhile); [`AuthError::NotFound`] when there is none.
    pub fn load_user(&self, id: UserId) -> Result<Arc<User>> {
        let ticket = self.users.ticket();
        let user = self.store.user(id)?.ok_or(AuthError::NotFound("user"))?;
        Ok(self.users.fill(ticket, user))
    }

    /// [`Self::cached_user`], or [`Self::load_user`] when it is not held.
    pub fn current_user(&self, id: UserId) -> Result<Arc<User>> {
        match self.users.get(id) {
            Some(u) => Ok(u),
            None => self.load_user(id),
        }
    }

    /// The user named `username`; [`AuthError::NotFound`] when there is none.
    pub fn user_by_username(&self, username: &str) -> Result<User> {
        self.store
            .user_by_username(username)?
            .ok_or(AuthError::NotFound("user"))
    }

    /// The caller changes their own password; every other session ends.
    pub fn change_password(
        &self,
        ctx: &AuthContext,
        old: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<RevocationSummary> {
        let user = self.user(ctx.user_id)?;
        // Guesses of the old password count like login guesses: a stolen
        // access token must not buy unlimited tries at the password.
        let attempt = self.admit(
            self.login_name(&user),
            client.address.as_deref(),
            Some(&user),
        )?;
        if !self.hasher.verify(old, &user.password_hash) {
            let event = AuditEvent::new(self.now(), AuditKind::LoginFailed)
                .subject(user.id)
                .session(ctx.session_id)
                .address(client.address.clone())
                .reason("wrong old password (password change)");
            self.settle(attempt, ThrottleStep::Failed, vec![event], Some(&user))?;
            return Err(AuthError::invalid(
                "old_password",
                "Your old password was entered incorrectly. Please enter it again.",
            ));
        }
        self.settle(attempt, ThrottleStep::Succeeded, Vec::new(), None)?;
        let hash = self.hasher.hash(new, &user.username)?;
        let now = self.now();
        self.update_and_revoke(
            user.id,
            UserUpdate {
                password_hash: Some(hash),
                password_changed_at: Some(now),
                ..UserUpdate::default()
            },
            Some((RevocationReason::PasswordChanged, Some(ctx.session_id))),
            Some(ctx.user_id),
            AuditEvent::new(now, AuditKind::PasswordChanged)
                .subject(user.id)
                .actor(Some(ctx.user_id))
                .session(ctx.session_id)
                .address(client.address.clone()),
        )
    }

    /// What this account types to sign in (`LOGIN_FIELD`): its attempts
    /// are counted under that identifier.
    pub(super) fn login_name<'u>(&self, user: &'u User) -> &'u str {
        match (self.settings.LOGIN_FIELD, user.email.as_deref()) {
            (LoginField::Email, Some(email)) => email,
            _ => &user.username,
        }
    }

    pub(super) fn update_and_revoke(
        &self,
        user_id: UserId,
        update: UserUpdate,
        revoke: Option<(RevocationReason, Option<SessionId>)>,
        actor: Option<UserId>,
        audit: AuditEvent,
    ) -> Result<RevocationSummary> {
        let now = audit.at;
        let request = revoke.map(|(reason, except)| RevokeRequest {
            target: RevokeTarget::User { user_id, except },
            reason,
            actor,
            now,
            audit: Vec::new(),
        });
        let updated = self
            .store
            .update_user(user_id, &update, request.as_ref(), &[audit]);
        // Forgotten whatever the answer: an error may hide a commit.
        self.users.forget(&[user_id]);
        let (_, ended) = updated?.ok_or(AuthError::NotFound("user"))?;
        self.remember_revoked(&ended);
        Ok(RevocationSummary {
            sessions: ended.iter().map(|s| s.id).collect(),
        })
    }
}
