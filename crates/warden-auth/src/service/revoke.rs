//! Revocation: one session ([`AuthService::revoke_session`], by its user or
//! by staff), log out everywhere ([`AuthService::end_sessions`]), blacklist
//! and logout with a refresh token, the sessions list, RFC 7009 revocation and
//! RFC 7662 introspection. Every revocation is durable in the store, then in
//! the in-memory set, before the method returns.

use super::staff::SYSTEM_REASON;
use super::*;

impl AuthService {
    /// Ends one session: a user's own (someone else's is "not found"), or
    /// anyone's for staff (with a reason) and the system.
    pub fn revoke_session(
        &self,
        actor: &Actor,
        sid: SessionId,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<bool> {
        let session = self
            .store
            .session(sid)?
            .ok_or(AuthError::NotFound("session"))?;
        let who = Self::authorise(actor, Some(session.user_id), reason, Some(SYSTEM_REASON))
            .map_err(|e| match e {
                AuthError::NotFound(_) => AuthError::NotFound("session"),
                other => other,
            })?;
        let now = self.now();
        self.revoke_one(
            sid,
            who.revocation,
            who.by,
            Self::audit_by(
                AuditEvent::new(now, AuditKind::SessionRevoked)
                    .subject(session.user_id)
                    .session(sid)
                    .address(client.address.clone()),
                &who,
            ),
        )
    }

    /// Log out everywhere: every session of `user`, the caller's included.
    pub fn end_sessions(
        &self,
        actor: &Actor,
        user: UserId,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<RevocationSummary> {
        let who = Self::authorise(actor, Some(user), reason, Some(SYSTEM_REASON))?;
        if !matches!(actor, Actor::User(_)) {
            self.user(user)?;
        }
        let revocation = match actor {
            Actor::User(_) => RevocationReason::LogoutAll,
            _ => who.revocation,
        };
        self.end_all_sessions(user, who.by, revocation, who.reason, client)
    }

    pub(super) fn revoke(&self, request: RevokeRequest) -> Result<Vec<RevokedSession>> {
        let ended = self.store.revoke_sessions(&request)?;
        self.remember_revoked(&ended);
        Ok(ended)
    }

    /// Ends one session (if still live) with one audit line, atomically; true
    /// when it was live.
    pub(super) fn revoke_one(
        &self,
        sid: SessionId,
        reason: RevocationReason,
        actor: Option<UserId>,
        event: AuditEvent,
    ) -> Result<bool> {
        let now = event.at;
        let ended = self.revoke(RevokeRequest {
            target: RevokeTarget::Session(sid),
            reason,
            actor,
            now,
            audit: vec![event],
        })?;
        Ok(!ended.is_empty())
    }

    /// [`Self::check_outstanding`] for the routes that end a session with a
    /// refresh token (logout, blacklist). A rotated-away token presented there
    /// is a replay like any other (RFC 9700 §4.14.2): the whole family ends, as
    /// `refresh` does, so a thief who rotated first cannot outlive the owner's
    /// logout (found racing refresh against logout over HTTP).
    pub(super) fn outstanding_or_end_replay(
        &self,
        token: &str,
        validated: &Validated,
        actor: Option<UserId>,
        client: &ClientInfo,
    ) -> Result<OutstandingToken> {
        match self.check_outstanding(token, validated) {
            Err(AuthError::Token(TokenError::Blacklisted(None))) => {
                let sid = validated.sid;
                let user = self.user_id_of(&validated.claims)?;
                let now = self.now();
                self.revoke_one(
                    sid,
                    RevocationReason::ReuseDetected,
                    actor,
                    AuditEvent::new(now, AuditKind::ReuseDetected)
                        .subject(user)
                        .actor(actor)
                        .session(sid)
                        .address(client.address.clone()),
                )?;
                tracing::warn!(session = %sid, user, "rotated-away refresh token presented to end its session; session revoked");
                Err(TokenError::Blacklisted(Some(RevocationReason::ReuseDetected)).into())
            }
            other => other,
        }
    }

    pub(super) fn remember_revoked(&self, ended: &[RevokedSession]) {
        let keep = self.settings.LEEWAY.get();
        for s in ended {
            self.revoked
                .revoke_session_for(s.id, s.max_expires_at.saturating_add(keep), s.reason);
        }
    }

    /// `api/token/blacklist/`: the refresh token's whole session ends, access tokens included.
    pub fn blacklist(&self, refresh_token: &str, client: &ClientInfo) -> Result<()> {
        let presented = self.decode(refresh_token, Some(TokenType::Refresh))?;
        self.check_revoked(&presented)?;
        let row = self.outstanding_or_end_replay(refresh_token, &presented, None, client)?;
        let now = self.now();
        self.revoke_one(
            row.session_id,
            RevocationReason::Blacklisted,
            Some(row.user_id),
            AuditEvent::new(now, AuditKind::Blacklisted)
                .subject(row.user_id)
                .actor(Some(row.user_id))
                .session(row.session_id)
                .jti(row.jti)
                .address(client.address.clone()),
        )?;
        Ok(())
    }

    /// `api/logout/`: ends the session of `refresh_token`, which must belong to the caller.
    pub fn logout(
        &self,
        ctx: &AuthContext,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let presented = self.decode(refresh_token, Some(TokenType::Refresh))?;
        if self.user_id_of(&presented.claims)? != ctx.user_id {
            return Err(AuthError::Forbidden(
                "that refresh token belongs to another user",
            ));
        }
        self.check_revoked(&presented)?;
        let row =
            self.outstanding_or_end_replay(refresh_token, &presented, Some(ctx.user_id), client)?;
        let now = self.now();
        self.revoke_one(
            row.session_id,
            RevocationReason::Logout,
            Some(ctx.user_id),
            AuditEvent::new(now, AuditKind::Logout)
                .subject(ctx.user_id)
                .actor(Some(ctx.user_id))
                .session(row.session_id)
                .address(client.address.clone()),
        )?;
        Ok(())
    }

    pub(super) fn end_all_sessions(
        &self,
        user_id: UserId,
        actor: Option<UserId>,
        reason: RevocationReason,
        note: Option<&str>,
        client: &ClientInfo,
    ) -> Result<RevocationSummary> {
        let now = self.now();
        let mut event = AuditEvent::new(
            now,
            if reason == RevocationReason::LogoutAll {
                AuditKind::LogoutAll
            } else {
                AuditKind::SessionRevoked
            },
        )
        .subject(user_id)
        .actor(actor)
        .address(client.address.clone())
        .detail(serde_json::json!({ "scope": "all", "cause": reason.as_str() }));
        if let Some(n) = note {
            event = event.reason(n);
        }
        let ended = self.revoke(RevokeRequest {
            target: RevokeTarget::User {
                user_id,
                except: None,
            },
            reason,
            actor,
            now,
            audit: vec![event],
        })?;
        Ok(RevocationSummary {
            sessions: ended.iter().map(|s| s.id).collect(),
        })
    }

    /// The caller's sessions, newest first; `include_revoked` adds ended ones.
    pub fn my_sessions(
        &self,
        ctx: &AuthContext,
        include_revoked: bool,
    ) -> Result<Vec<SessionInfo>> {
        Ok(self
            .store
            .sessions_of_user(ctx.user_id, include_revoked)?
            .iter()
            .map(|s| session_info(s, Some(ctx.session_id)))
            .collect())
    }

    /// RFC 7009: revokes a refresh token's session or an access token by jti.
    /// Invalid or expired tokens are not an error (the RFC answers 200); a
    /// token of another user is, unless the caller is staff.
    pub fn revoke_token(
        &self,
        ctx: &AuthContext,
        token: &str,
        client: &ClientInfo,
    ) -> Result<bool> {
        let Ok(Validated { claims, sid, jti }) = self.decode(token, None) else {
            return Ok(false);
        };
        let owner = self.user_id_of(&claims)?;
        if owner != ctx.user_id && !self.is_staff(ctx.user_id)? {
            return Err(AuthError::Forbidden("that token belongs to another user"));
        }
        let now = self.now();
        let event = AuditEvent::new(now, AuditKind::TokenRevoked)
            .subject(owner)
            .actor(Some(ctx.user_id))
            .session(sid)
            .jti(jti)
            .address(client.address.clone())
            .detail(serde_json::json!({ "token_type": claims.token_type.as_str() }));
        match claims.token_type {
            TokenType::Access => {
                let revoked = RevokedJti {
                    jti,
                    session_id: Some(sid),
                    user_id: Some(owner),
                    revoked_at: now,
                    expires_at: claims.exp,
                    reason: RevocationReason::Revoked,
                };
                self.store.revoke_jti(&revoked, &[event])?;
                self.revoked
                    .revoke_jti(jti, claims.exp.saturating_add(self.settings.LEEWAY.get()));
                Ok(true)
            }
            TokenType::Refresh | TokenType::Sliding => {
                self.revoke_one(sid, RevocationReason::Revoked, Some(ctx.user_id), event)
            }
        }
    }

    /// RFC 7662: whether a token is active, with its claims when the caller may see them.
    pub fn introspect(&self, ctx: &AuthContext, token: &str) -> Result<Introspection> {
        let inactive = Introspection {
            active: false,
            claims: None,
            username: None,
        };
        let Ok(claims) = self.verify(token) else {
            return Ok(inactive);
        };
        let owner = self.user_id_of(&claims).ok();
        if owner != Some(ctx.user_id) && !self.is_staff(ctx.user_id)? {
            return Ok(inactive);
        }
        let username = match owner {
            Some(id) => self.store.user(id)?.map(|u| u.username),
            None => None,
        };
        Ok(Introspection {
            active: true,
            claims: Some(claims),
            username,
        })
    }
}
