//! Who may do what: the [`Actor`] every operation on accounts and sessions
//! takes (the user on their own, staff on anyone's with a reason the audit
//! log keeps, the system — the `warden` command, the embedded app — as
//! trusted), checked once when the [`StaffProof`] is made; and the staff
//! operations on accounts: search, detail, lock, unlock, (de)activate, staff
//! rights, set a password, delete. Ending sessions is in `revoke.rs`.

use super::*;

/// Who asks for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user: on their own account and sessions only.
    User(UserId),
    /// Active staff (checked by [`AuthService::staff`]): on anyone, with a reason.
    Staff(StaffProof),
    /// The `warden` command or the embedded app, on this machine: trusted,
    /// audited with no actor; a reason is optional.
    System,
}

/// That a user was active staff when [`AuthService::staff`] looked. Only
/// the service makes one, so an operation taking it need not look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffProof {
    user: UserId,
}

impl StaffProof {
    /// The staff member.
    pub fn user(&self) -> UserId {
        self.user
    }
}

/// What an authorised actor's operation records about who did it and why.
#[derive(Debug, Clone, Copy)]
pub(super) struct Authorised<'a> {
    /// The audit line's actor; `None` for the system.
    pub(super) by: Option<UserId>,
    pub(super) reason: Option<&'a str>,
    /// The revocation reason for sessions this actor ends.
    pub(super) revocation: RevocationReason,
}

/// The reason the system records when it gives none.
pub(super) const SYSTEM_REASON: &str = "administrator";

impl AuthService {
    /// Checks that `user` is active staff, once per request; the proof is
    /// what [`Actor::Staff`] carries.
    pub fn staff(&self, user: UserId) -> Result<StaffProof> {
        if self.is_staff(user)? {
            Ok(StaffProof { user })
        } else {
            Err(AuthError::Forbidden("staff only"))
        }
    }

    /// [`Self::staff`] from memory: `None` when this node does not hold the
    /// user (then [`Self::staff`] reads the store).
    pub fn cached_staff(&self, user: UserId) -> Option<Result<StaffProof>> {
        let u = self.users.get(user)?;
        Some(if u.is_staff && u.is_active {
            Ok(StaffProof { user })
        } else {
            Err(AuthError::Forbidden("staff only"))
        })
    }

    pub(super) fn is_staff(&self, id: UserId) -> Result<bool> {
        match self.current_user(id) {
            Ok(u) => Ok(u.is_staff && u.is_active),
            Err(AuthError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// May `actor` act on `target`'s account (`None`: an operation for
    /// staff and the system only)? A user only on their own; staff must give
    /// a reason; the system may, its reason optional (`system_default` when
    /// it gives none).
    pub(super) fn authorise<'r>(
        actor: &Actor,
        target: Option<UserId>,
        reason: &'r str,
        system_default: Option<&'static str>,
    ) -> Result<Authorised<'r>> {
        match (actor, target) {
            (Actor::User(u), Some(t)) if *u == t => Ok(Authorised {
                by: Some(*u),
                reason: None,
                revocation: RevocationReason::Logout,
            }),
            (Actor::User(_), Some(_)) => Err(AuthError::NotFound("user")),
            (Actor::User(_), None) => Err(AuthError::Forbidden("staff only")),
            (Actor::Staff(p), _) => Ok(Authorised {
                by: Some(p.user),
                reason: Some(required_reason(reason)?),
                revocation: RevocationReason::StaffRevoked,
            }),
            (Actor::System, _) => Ok(Authorised {
                by: None,
                reason: match reason.trim() {
                    "" => system_default,
                    r => Some(required_reason(r)?),
                },
                revocation: RevocationReason::StaffRevoked,
            }),
        }
    }

    /// Reading is not audited, so it needs no reason.
    fn authorise_read(actor: &Actor, target: Option<UserId>) -> Result<()> {
        match actor {
            Actor::Staff(_) | Actor::System => Ok(()),
            Actor::User(u) if target == Some(*u) => Ok(()),
            Actor::User(_) if target.is_some() => Err(AuthError::NotFound("user")),
            Actor::User(_) => Err(AuthError::Forbidden("staff only")),
        }
    }

    pub(super) fn audit_by(event: AuditEvent, who: &Authorised<'_>) -> AuditEvent {
        let event = event.actor(who.by);
        match who.reason {
            Some(r) => event.reason(r),
            None => event,
        }
    }

    // ------------------------------------------------------------------
    // Reading

    /// Users matching `query`; staff and the system only.
    pub fn search_users(&self, actor: &Actor, query: &UserQuery) -> Result<Vec<User>> {
        Self::authorise_read(actor, None)?;
        Ok(self.store.search_users(query)?)
    }

    /// A user with their failed-login counters (every address).
    pub fn user_detail(&self, actor: &Actor, id: UserId) -> Result<(User, Vec<ThrottleState>)> {
        Self::authorise_read(actor, Some(id))?;
        let user = self.user(id)?;
        let mut throttles = self.store.throttles_of_user(id)?;
        throttles.sort_by(|a, b| a.scope.cmp(&b.scope).then(a.address.cmp(&b.address)));
        Ok((user, throttles))
    }

    /// A user's sessions, newest first (ended ones too when asked).
    pub fn sessions_of(
        &self,
        actor: &Actor,
        user: UserId,
        include_revoked: bool,
    ) -> Result<Vec<SessionInfo>> {
        Self::authorise_read(actor, Some(user))?;
        Ok(self
            .store
            .sessions_of_user(user, include_revoked)?
            .iter()
            .map(|s| session_info(s, None))
            .collect())
    }

    /// A session's rotation chain, oldest first.
    pub fn lineage(
        &self,
        actor: &Actor,
        sid: SessionId,
    ) -> Result<(Session, Vec<OutstandingToken>)> {
        let session = self
            .store
            .session(sid)?
            .ok_or(AuthError::NotFound("session"))?;
        Self::authorise_read(actor, Some(session.user_id))
            .map_err(|_| AuthError::NotFound("session"))?;
        Ok((session, self.store.tokens_of_session(sid)?))
    }

    /// Audit lines matching `query`; staff and the system only.
    pub fn audit(&self, actor: &Actor, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Self::authorise_read(actor, None)?;
        Ok(self.store.audit(query)?)
    }

    // ------------------------------------------------------------------
    // Changing accounts (staff and the system)

    /// Locks an account until `until` (or until unlocked); its sessions end.
    pub fn lock(
        &self,
        actor: &Actor,
        user: UserId,
        until: Option<UnixTime>,
        reason: &str,
    ) -> Result<RevocationSummary> {
        let who = Self::authorise(actor, None, reason, None)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                locked_until: Some(Some(until.unwrap_or(UnixTime::MAX))),
                ..UserUpdate::default()
            },
            Some((RevocationReason::LockedOut, None)),
            who.by,
            Self::audit_by(
                AuditEvent::new(now, AuditKind::UserLocked)
                    .subject(user)
                    .detail(serde_json::json!({ "until": until })),
                &who,
            ),
        )
    }

    /// Lifts a staff lock and every failed-login lock and delay on the
    /// account's identifiers.
    pub fn unlock(&self, actor: &Actor, user: UserId, reason: &str) -> Result<()> {
        let who = Self::authorise(actor, None, reason, None)?;
        let now = self.now();
        self.update_and_revoke(
            user,
            UserUpdate {
                locked_until: Some(None),
                ..UserUpdate::default()
            },
            None,
            who.by,
            Self::audit_by(
                AuditEvent::new(now, AuditKind::UserUnlocked).subject(user),
                &who,
            ),
        )?;
        self.store.clear_throttles_of_user(user)?;
        Ok(())
    }

    /// Deactivates (ending every session) or reactivates an account.
    pub fn set_active(
        &self,
        actor: &Actor,
        user: UserId,
        active: bool,
        reason: &str,
    ) -> Result<RevocationSummary> {
        let who = Self::authorise(actor, None, reason, None)?;
        if who.by == Some(user) && !active {
            return Err(AuthError::invalid(
                "user",
                "staff cannot deactivate their own account",
            ));
        }
        let now = self.now();
        let kind = if active {
            AuditKind::UserReactivated
        } else {
            AuditKind::UserDeactivated
        };
        self.update_and_revoke(
            user,
            UserUpdate {
                is_active: Some(active),
                ..UserUpdate::default()
            },
            (!active).then_some((RevocationReason::Deactivated, None)),
            who.by,
            Self::audit_by(AuditEvent::new(now, kind).subject(user), &who),
        )
    }

    /// Grants or withdraws staff rights.
    pub fn set_staff(&self, actor: &Actor, user: UserId, staff: bool, reason: &str) -> Result<()> {
        let who = Self::authorise(actor, None, reason, None)?;
        let now = self.now();
        let kind = if staff {
            AuditKind::StaffGranted
        } else {
            AuditKind::StaffRevoked
        };
        self.update_and_revoke(
            user,
            UserUpdate {
                is_staff: Some(staff),
                ..UserUpdate::default()
            },
            None,
            who.by,
            Self::audit_by(AuditEvent::new(now, kind).subject(user), &who),
        )?;
        Ok(())
    }

    /// Sets a password without the old one (a reset, or a temporary password
    /// from staff); every session of the user ends.
    pub fn set_password(
        &self,
        actor: &Actor,
        user: UserId,
        password: &str,
        reason: &str,
    ) -> Result<RevocationSummary> {
        let who = Self::authorise(actor, None, reason, Some("password reset"))?;
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
            who.by,
            Self::audit_by(
                AuditEvent::new(now, AuditKind::PasswordChanged).subject(user),
                &who,
            ),
        )
    }

    /// Deletes an account; its sessions end. False when there was none.
    pub fn delete_user(&self, actor: &Actor, user: UserId, reason: &str) -> Result<bool> {
        let who = Self::authorise(actor, None, reason, None)?;
        let sessions = self.store.sessions_of_user(user, false)?;
        let now = self.now();
        let deleted = self.store.delete_user(
            user,
            now,
            &[Self::audit_by(
                AuditEvent::new(now, AuditKind::UserDeleted).subject(user),
                &who,
            )],
        );
        self.users.forget(&[user]);
        let deleted = deleted?;
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
}
