//! Staff and administration: operations on other people's accounts and
//! sessions, each audited with who did it and why.

use super::*;

impl AuthService {
    pub(super) fn is_staff(&self, id: UserId) -> Result<bool> {
        Ok(self
            .store
            .user(id)?
            .is_some_and(|u| u.is_staff && u.is_active))
    }

    /// The acting user, if they are active staff; `Forbidden` otherwise.
    pub fn require_staff(&self, actor: UserId) -> Result<User> {
        match self.store.user(actor)? {
            Some(u) if u.is_staff && u.is_active => Ok(u),
            _ => Err(AuthError::Forbidden("staff only")),
        }
    }

    pub fn staff_search_users(&self, actor: UserId, query: &UserQuery) -> Result<Vec<User>> {
        self.require_staff(actor)?;
        Ok(self.store.search_users(query)?)
    }

    pub fn staff_user(&self, actor: UserId, id: UserId) -> Result<(User, Vec<ThrottleState>)> {
        self.require_staff(actor)?;
        let user = self.user(id)?;
        let mut throttles = self.store.throttles_of_user(id)?;
        throttles.sort_by(|a, b| a.scope.cmp(&b.scope).then(a.address.cmp(&b.address)));
        Ok((user, throttles))
    }

    pub fn staff_sessions(&self, actor: UserId, user: UserId) -> Result<Vec<SessionInfo>> {
        self.require_staff(actor)?;
        Ok(self
            .store
            .sessions_of_user(user, true)?
            .iter()
            .map(|s| session_info(s, None))
            .collect())
    }

    /// A session's rotation chain, oldest first.
    pub fn staff_lineage(
        &self,
        actor: UserId,
        sid: SessionId,
    ) -> Result<(Session, Vec<OutstandingToken>)> {
        self.require_staff(actor)?;
        let session = self
            .store
            .session(sid)?
            .ok_or(AuthError::NotFound("session"))?;
        Ok((session, self.store.tokens_of_session(sid)?))
    }

    pub fn staff_revoke_session(
        &self,
        actor: UserId,
        sid: SessionId,
        reason: &str,
    ) -> Result<bool> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        let session = self
            .store
            .session(sid)?
            .ok_or(AuthError::NotFound("session"))?;
        let now = self.now();
        let ended = self.revoke_one(
            sid,
            RevocationReason::StaffRevoked,
            Some(actor),
            AuditEvent::new(now, AuditKind::SessionRevoked)
                .subject(session.user_id)
                .actor(Some(actor))
                .session(sid)
                .reason(reason),
        )?;
        Ok(ended)
    }

    pub fn staff_logout_all(
        &self,
        actor: UserId,
        user: UserId,
        reason: &str,
    ) -> Result<RevocationSummary> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        self.user(user)?;
        self.end_all_sessions(
            user,
            Some(actor),
            RevocationReason::StaffRevoked,
            Some(reason),
            &ClientInfo::default(),
        )
    }

    /// Locks an account until `until` (or until unlocked); its sessions end.
    pub fn staff_lock(
        &self,
        actor: UserId,
        user: UserId,
        until: Option<UnixTime>,
        reason: &str,
    ) -> Result<RevocationSummary> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                locked_until: Some(Some(until.unwrap_or(UnixTime::MAX))),
                ..UserUpdate::default()
            },
            Some((RevocationReason::LockedOut, None)),
            Some(actor),
            AuditEvent::new(now, AuditKind::UserLocked)
                .subject(user)
                .actor(Some(actor))
                .reason(reason)
                .detail(serde_json::json!({ "until": until })),
        )
    }

    /// Lifts a staff lock and any failed-login lock on the account's identifiers.
    pub fn staff_unlock(&self, actor: UserId, user: UserId, reason: &str) -> Result<()> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        let target = self.user(user)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                locked_until: Some(None),
                ..UserUpdate::default()
            },
            None,
            Some(actor),
            AuditEvent::new(now, AuditKind::UserUnlocked)
                .subject(user)
                .actor(Some(actor))
                .reason(reason),
        )?;
        self.store.clear_throttles_of_user(target.id)?;
        Ok(())
    }

    /// Deactivates (ending every session) or reactivates an account.
    pub fn staff_set_active(
        &self,
        actor: UserId,
        user: UserId,
        active: bool,
        reason: &str,
    ) -> Result<RevocationSummary> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        if actor == user && !active {
            return Err(AuthError::invalid(
                "user",
                "staff cannot deactivate their own account",
            ));
        }
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                is_active: Some(active),
                ..UserUpdate::default()
            },
            (!active).then_some((RevocationReason::Deactivated, None)),
            Some(actor),
            AuditEvent::new(
                now,
                if active {
                    AuditKind::UserReactivated
                } else {
                    AuditKind::UserDeactivated
                },
            )
            .subject(user)
            .actor(Some(actor))
            .reason(reason),
        )
    }

    /// Grants or withdraws staff rights.
    pub fn staff_set_staff(
        &self,
        actor: UserId,
        user: UserId,
        staff: bool,
        reason: &str,
    ) -> Result<()> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                is_staff: Some(staff),
                ..UserUpdate::default()
            },
            None,
            Some(actor),
            AuditEvent::new(
                now,
                if staff {
                    AuditKind::StaffGranted
                } else {
                    AuditKind::StaffRevoked
                },
            )
            .subject(user)
            .actor(Some(actor))
            .reason(reason),
        )?;
        Ok(())
    }

    /// Sets a (temporary) password for a user; every session of theirs ends.
    pub fn staff_set_password(
        &self,
        actor: UserId,
        user: UserId,
        password: &str,
        reason: &str,
    ) -> Result<RevocationSummary> {
        self.require_staff(actor)?;
        let reason = required_reason(reason)?;
        let target = self.user(user)?;
        let hash = self.hasher.hash(password, &target.username)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                password_hash: Some(hash),
                password_changed_at: Some(now),
                ..UserUpdate::default()
            },
            Some((RevocationReason::PasswordChanged, None)),
            Some(actor),
            AuditEvent::new(now, AuditKind::PasswordChanged)
                .subject(user)
                .actor(Some(actor))
                .reason(reason),
        )
    }

    pub fn staff_audit(&self, actor: UserId, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.require_staff(actor)?;
        Ok(self.store.audit(query)?)
    }

    /// Sets a user's password without the old one, ending every session (a reset).
    pub fn admin_set_password(&self, user: UserId, password: &str) -> Result<RevocationSummary> {
        let target = self.user(user)?;
        let hash = self.hasher.hash(password, &target.username)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                password_hash: Some(hash),
                password_changed_at: Some(now),
                ..UserUpdate::default()
            },
            Some((RevocationReason::PasswordChanged, None)),
            None,
            AuditEvent::new(now, AuditKind::PasswordChanged)
                .subject(user)
                .reason("password reset"),
        )
    }

    /// Applies an update as the system (no staff actor), revoking when it must.
    pub fn admin_update_user(
        &self,
        user: UserId,
        update: UserUpdate,
        kind: AuditKind,
        reason: Option<RevocationReason>,
    ) -> Result<RevocationSummary> {
        let now = self.now();
        self.update_and_revoke(
            user,
            update,
            reason.map(|r| (r, None)),
            None,
            AuditEvent::new(now, kind).subject(user),
        )
    }

    pub fn admin_logout_all(&self, user: UserId) -> Result<RevocationSummary> {
        self.user(user)?;
        self.end_all_sessions(
            user,
            None,
            RevocationReason::StaffRevoked,
            Some("administrator"),
            &ClientInfo::default(),
        )
    }

    pub fn admin_revoke_session(&self, sid: SessionId) -> Result<bool> {
        let session = self
            .store
            .session(sid)?
            .ok_or(AuthError::NotFound("session"))?;
        let now = self.now();
        self.revoke_one(
            sid,
            RevocationReason::StaffRevoked,
            None,
            AuditEvent::new(now, AuditKind::SessionRevoked)
                .subject(session.user_id)
                .session(sid)
                .reason("administrator"),
        )
    }

    pub fn admin_delete_user(&self, user: UserId) -> Result<bool> {
        let sessions = self.store.sessions_of_user(user, false)?;
        let now = self.now();
        let deleted = self.store.delete_user(
            user,
            now,
            &[AuditEvent::new(now, AuditKind::UserDeleted).subject(user)],
        )?;
        self.remember_revoked(
            &sessions
                .iter()
                .map(|s| RevokedSession {
                    id: s.id,
                    user_id: s.user_id,
                    max_expires_at: s.max_expires_at,
                    reason: RevocationReason::UserDeleted,
                })
                .collect::<Vec<_>>(),
        );
        Ok(deleted)
    }

    pub fn sessions_of(&self, user: UserId, include_revoked: bool) -> Result<Vec<SessionInfo>> {
        Ok(self
            .store
            .sessions_of_user(user, include_revoked)?
            .iter()
            .map(|s| session_info(s, None))
            .collect())
    }
}
