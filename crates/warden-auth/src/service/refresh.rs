//! Refresh with rotation: one store transaction decides ([`crate::rotation::decide`]),
//! so of concurrent refreshes exactly one rotates and a replay revokes the family.

use super::*;

impl AuthService {
    /// `api/token/refresh/`: rotates atomically; a replayed rotated-away token revokes the family.
    pub fn refresh(&self, token: &str, client: &ClientInfo) -> Result<Refreshed> {
        let presented = self.decode(token, Some(TokenType::Refresh))?;
        self.check_revoked(&presented)?;
        let (sid, claims) = (presented.sid, &presented.claims);
        if !self.settings.ROTATE_REFRESH_TOKENS {
            let user = self.active_user(claims)?;
            let uref = user_ref(&user, &self.settings);
            self.check_outstanding(token, &presented)?;
            let session = self.store.session(sid)?.ok_or(TokenError::NotOutstanding)?;
            let access = self.mint_access(&uref, sid, session.max_expires_at)?;
            return Ok(Refreshed {
                access,
                refresh: None,
                session,
                kind: RefreshKind::AccessOnly,
            });
        }

        // The user (still active?) and the session's cap: from memory when
        // this node holds both (the user cache is kept current through the
        // feed; the cap never changes, so reading it outside the rotation
        // transaction is safe), else in one read transaction. The rotation
        // itself re-checks the session inside its write transaction.
        let uid = self.user_id_of(claims)?;
        let (user, cap) = match (self.users.get(uid), self.caps.get(sid)) {
            (Some(user), Some(cap)) => (user, cap),
            _ => {
                let ticket = self.users.ticket();
                let (user, session) = self.store.user_and_session(uid, sid)?;
                let user = self
                    .users
                    .fill(ticket, user.ok_or(AuthError::UserNotFound)?);
                let cap = session.ok_or(TokenError::NotOutstanding)?.max_expires_at;
                self.caps.remember(sid, cap);
                (user, cap)
            }
        };
        if self.settings.CHECK_USER_IS_ACTIVE && !user.is_active {
            return Err(AuthError::UserInactive);
        }
        let uref = user_ref(&user, &self.settings);
        let now = self.now();
        let exp = now
            .saturating_add(self.settings.REFRESH_TOKEN_LIFETIME.get())
            .min(cap);
        let jti = Jti::time_ordered();
        let succ_claims = self.claims(TokenType::Refresh, &uref, sid, jti, now, exp, None);
        let minted = tokens::mint(&self.keys.read(), &succ_claims, &self.names)?;
        let presented_pin = tokens::pin(token).ok_or(TokenError::Malformed)?;
        let mut request = RotationRequest {
            presented_jti: presented.jti,
            presented_signing_input_sha256: presented_pin,
            successor: OutstandingToken {
                jti,
                session_id: sid,
                user_id: user.id,
                token_type: TokenType::Refresh,
                signing_input_sha256: minted.signing_input_sha256.clone(),
                kid: minted.kid.clone(),
                issued_at: now,
                expires_at: exp,
                parent_jti: Some(presented.jti),
                rotated_at: None,
                successor_jti: None,
                address: client.address.clone(),
            },
            now,
            policy: RotationPolicy {
                blacklist_after_rotation: self.settings.BLACKLIST_AFTER_ROTATION,
                grace_period: self.settings.REFRESH_GRACE_PERIOD.get(),
            },
            address: client.address.clone(),
        };
        let mut outcome = self.store.rotate(&request)?;
        if outcome == RotationOutcome::Refused(RotationRefusal::Mismatch) {
            // A row written before the pin became the signature's hash holds
            // the signing input's (`tokens::legacy_pin`): ask once more with
            // that. A mismatch wrote nothing, so the second ask decides alone.
            request.presented_signing_input_sha256 =
                tokens::legacy_pin(token).ok_or(TokenError::Malformed)?;
            outcome = self.store.rotate(&request)?;
        }
        match outcome {
            RotationOutcome::Rotated { session, .. } => Ok(Refreshed {
                access: self.mint_access(&uref, sid, session.max_expires_at)?,
                refresh: Some(IssuedToken {
                    token: minted.token,
                    claims: succ_claims,
                }),
                session,
                kind: RefreshKind::Rotated,
            }),
            RotationOutcome::GraceReplay { session, successor } => {
                // Re-mint the successor from its recorded claims: same jti, iat and exp,
                // so the same signing input, which is what the store pinned.
                let claims = self.claims(
                    TokenType::Refresh,
                    &uref,
                    sid,
                    successor.jti,
                    successor.issued_at,
                    successor.expires_at,
                    None,
                );
                // Sign with the key that signed the successor, even if it has since retired.
                let again = {
                    let ring = self.keys.read();
                    let key = ring
                        .get(&successor.kid)
                        .ok_or(TokenError::Blacklisted(None))?;
                    tokens::mint_with_key(key, &claims, &self.names)?
                };
                if !tokens::pin_matches(&again.token, &successor.signing_input_sha256) {
                    // Claims that can't be reproduced (settings changed in between): refuse
                    // the retry rather than fork the family.
                    return Err(TokenError::Blacklisted(None).into());
                }
                Ok(Refreshed {
                    access: self.mint_access(&uref, sid, session.max_expires_at)?,
                    refresh: Some(IssuedToken {
                        token: again.token,
                        claims,
                    }),
                    session,
                    kind: RefreshKind::GraceReplay,
                })
            }
            RotationOutcome::ReuseDetected { session } => {
                self.remember_revoked(&[RevokedSession {
                    id: session.id,
                    user_id: session.user_id,
                    max_expires_at: session.max_expires_at,
                    reason: RevocationReason::ReuseDetected,
                }]);
                tracing::warn!(session = %session.id, user = session.user_id, "refresh token reuse detected; session revoked");
                Err(TokenError::Blacklisted(Some(RevocationReason::ReuseDetected)).into())
            }
            RotationOutcome::Refused(r) => Err(match r {
                RotationRefusal::NotOutstanding | RotationRefusal::Mismatch => {
                    TokenError::NotOutstanding.into()
                }
                RotationRefusal::SessionRevoked(reason) => reason_error(reason),
                RotationRefusal::Expired => TokenError::Expired {
                    exp: cap.min(claims.exp),
                    now,
                }
                .into(),
            }),
        }
    }

    /// `api/token/sliding/refresh/`: same jti, new `exp`, never past `refresh_exp`.
    pub fn refresh_sliding(&self, token: &str) -> Result<IssuedToken> {
        let presented = self.decode(token, Some(TokenType::Sliding))?;
        self.check_revoked(&presented)?;
        let user = self.active_user(&presented.claims)?;
        self.check_outstanding(token, &presented)?;
        let (sid, jti, claims) = (presented.sid, presented.jti, &presented.claims);
        let now = self.now();
        let refresh_exp = claims
            .refresh_exp
            .ok_or(TokenError::MissingClaim("refresh_exp"))?;
        if refresh_exp + self.settings.LEEWAY.get() <= now {
            return Err(TokenError::Expired {
                exp: refresh_exp,
                now,
            }
            .into());
        }
        let exp = now
            .saturating_add(self.settings.SLIDING_TOKEN_LIFETIME.get())
            .min(refresh_exp);
        let new = self.claims(
            TokenType::Sliding,
            &user_ref(&user, &self.settings),
            sid,
            jti,
            now,
            exp,
            Some(refresh_exp),
        );
        let minted = tokens::mint(&self.keys.read(), &new, &self.names)?;
        self.store.extend_session(sid, refresh_exp, now)?;
        Ok(IssuedToken {
            token: minted.token,
            claims: new,
        })
    }
}
