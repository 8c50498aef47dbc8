//! Login: credentials checked behind the failed-login counters
//! ([`crate::lockout`]), then a new session (token family) and its first pair.

use super::*;

/// An attempt admitted by [`AuthService::admit`]: the rows it is charged to.
#[derive(Debug)]
pub(super) struct Attempt {
    keys: Vec<ThrottleKey>,
    policy: LockoutPolicy,
}

/// The longest an attempt waits for room among attempts in flight.
const MAX_ADMISSION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How often a waiting attempt looks again (attempts on other nodes do not wake it).
const ADMISSION_POLL: std::time::Duration = std::time::Duration::from_millis(25);

impl AuthService {
    /// `api/token/`: checks credentials (with lockout) and opens a session.
    pub fn obtain_pair(&self, req: &LoginRequest) -> Result<IssuedPair> {
        let user = self.check_credentials(req)?;
        let (session, refresh) = self.open_session(&user, SessionKind::Pair, &req.client)?;
        let access = self.mint_access(
            &user_ref(&user, &self.settings),
            session.id,
            session.max_expires_at,
        )?;
        Ok(IssuedPair {
            access,
            refresh,
            session,
            user,
        })
    }

    /// `api/token/sliding/`: checks credentials and opens a sliding-token session.
    pub fn obtain_sliding(&self, req: &LoginRequest) -> Result<(IssuedToken, Session)> {
        let user = self.check_credentials(req)?;
        let (session, token) = self.open_session(&user, SessionKind::Sliding, &req.client)?;
        Ok((token, session))
    }

    pub(super) fn check_credentials(&self, req: &LoginRequest) -> Result<User> {
        let user = self.find_login_user(&req.identifier)?;
        let address = req.client.address.as_deref();
        // Admitted (or refused, unchecked) before any password is hashed.
        let attempt = self.admit(&req.identifier, address, user.as_ref())?;
        let matches = match &user {
            Some(u) => self.hasher.verify(&req.password, &u.password_hash),
            None => {
                self.hasher.verify_dummy(&req.password);
                false
            }
        };
        let now = self.now();
        // A right password for an account that cannot sign in gets the same
        // answer as a wrong one, and counts alike: nothing tells them apart.
        let refusal = match &user {
            Some(u) if matches => self.sign_in_refusal(u, now),
            _ => Some("bad credentials"),
        };
        let Some(reason) = refusal else {
            self.settle(attempt, ThrottleStep::Succeeded, Vec::new(), None)?;
            return user.ok_or(AuthError::InvalidCredentials);
        };
        let event =
            self.login_failed_event(&req.identifier, user.as_ref(), &req.client, now, reason);
        self.settle(attempt, ThrottleStep::Failed, vec![event], user.as_ref())?;
        Err(AuthError::InvalidCredentials)
    }

    /// Why an account whose password was right may not sign in now, if it may not.
    pub(super) fn sign_in_refusal(&self, user: &User, now: UnixTime) -> Option<&'static str> {
        if !user.is_active {
            Some("account inactive")
        } else if user.locked_until.is_some_and(|u| u > now) {
            Some("account locked by staff")
        } else if self.settings.REQUIRE_VERIFIED_EMAIL && !user.email_verified {
            Some("e-mail not verified")
        } else {
            None
        }
    }

    /// The audit line of a refused sign-in. What was typed is kept only when
    /// it names an account; otherwise as a keyed hash ("unknown user").
    pub(super) fn login_failed_event(
        &self,
        identifier: &str,
        user: Option<&User>,
        client: &ClientInfo,
        now: UnixTime,
        reason: &str,
    ) -> AuditEvent {
        let event = AuditEvent::new(now, AuditKind::LoginFailed)
            .address(client.address.clone())
            .reason(reason);
        match user {
            Some(u) => event.subject(u.id),
            None => event.detail(serde_json::json!({
                "identifier_hash": self.identifiers.identifier(&identifier_key(identifier)),
            })),
        }
    }

    /// Admits one password check for `identifier` from `address` (see
    /// [`crate::lockout`]): waits while other attempts in flight may use up
    /// what is left, refuses with [`AuthError::LockedOut`] while a counter
    /// refuses. `None` when every counter is off.
    pub(super) fn admit(
        &self,
        identifier: &str,
        address: Option<&str>,
        user: Option<&User>,
    ) -> Result<Option<Attempt>> {
        let Some(policy) = self.lockout else {
            return Ok(None);
        };
        let keys = self.identifiers.keys(
            &identifier_key(identifier),
            address,
            user.map(|u| u.id),
            &policy,
        );
        let names: Vec<String> = keys.iter().map(|k| k.key.clone()).collect();
        let deadline = std::time::Instant::now() + MAX_ADMISSION_WAIT;
        loop {
            let seen = *self.settled.0.lock();
            let now = self.now();
            // A read first: a locked identifier is refused without a write,
            // so a flood of refused guesses costs no fsyncs.
            let found = self.store.throttles(&names)?;
            let verdict = match lockout::precheck(&found, now, &policy) {
                ThrottleVerdict::Admitted { .. } => {
                    self.store.apply_throttle(&ThrottleRequest {
                        keys: keys.clone(),
                        step: ThrottleStep::Reserve,
                        now,
                        policy,
                        audit: Vec::new(),
                    })?
                }
                other => other,
            };
            match verdict {
                ThrottleVerdict::Admitted { charged } => {
                    return Ok(Some(Attempt {
                        keys: keys
                            .into_iter()
                            .filter(|k| charged.contains(&k.scope))
                            .collect(),
                        policy,
                    }));
                }
                ThrottleVerdict::Refused { retry_after } => {
                    return Err(AuthError::LockedOut { retry_after });
                }
                ThrottleVerdict::Wait | ThrottleVerdict::Settled { .. } => {}
            }
            if std::time::Instant::now() >= deadline {
                // Still no room after the longest wait: as busy as locked.
                return Err(AuthError::LockedOut { retry_after: 1 });
            }
            // Woken when an attempt of this node settles; polling covers
            // attempts on other nodes.
            let mut settled = self.settled.0.lock();
            if *settled == seen {
                self.settled.1.wait_for(&mut settled, ADMISSION_POLL);
            }
        }
    }

    /// Settles an admitted attempt, with its audit lines, in one transaction.
    /// A failure that locks the pair also ends the account's sessions when
    /// `LOCKOUT_REVOKES_SESSIONS` is on.
    pub(super) fn settle(
        &self,
        attempt: Option<Attempt>,
        step: ThrottleStep,
        audit: Vec<AuditEvent>,
        user: Option<&User>,
    ) -> Result<()> {
        let Some(attempt) = attempt else {
            if !audit.is_empty() {
                self.store.append_audit(&audit)?;
            }
            return Ok(());
        };
        let now = self.now();
        let verdict = self.store.apply_throttle(&ThrottleRequest {
            keys: attempt.keys,
            step,
            now,
            policy: attempt.policy,
            audit,
        });
        {
            let mut settled = self.settled.0.lock();
            *settled = settled.wrapping_add(1);
            self.settled.1.notify_all();
        }
        let verdict = verdict?;
        if let (ThrottleVerdict::Settled { locked }, Some(u)) = (&verdict, user)
            && locked.contains(&ThrottleScope::Pair)
            && self.settings.LOCKOUT_REVOKES_SESSIONS
        {
            self.revoke(RevokeRequest {
                target: RevokeTarget::User {
                    user_id: u.id,
                    except: None,
                },
                reason: RevocationReason::LockedOut,
                actor: None,
                now,
                audit: Vec::new(),
            })?;
        }
        Ok(())
    }

    pub(super) fn find_login_user(&self, identifier: &str) -> Result<Option<User>> {
        let id = identifier.trim();
        if id.is_empty() || id.len() > 254 {
            return Ok(None);
        }
        Ok(match self.settings.LOGIN_FIELD {
            LoginField::Username => self.store.user_by_username(id)?,
            LoginField::Email => self.store.user_by_email(id)?,
            LoginField::UsernameOrEmail if id.contains('@') => self.store.user_by_email(id)?,
            LoginField::UsernameOrEmail => self.store.user_by_username(id)?,
        })
    }

    pub(super) fn open_session(
        &self,
        user: &User,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<(Session, IssuedToken)> {
        let now = self.now();
        let s = &self.settings;
        let sid = SessionId::random();
        let max = now.saturating_add(s.SESSION_MAX_LIFETIME.get());
        let jti = Jti::time_ordered();
        let (token_type, exp, refresh_exp, session_exp) = match kind {
            SessionKind::Pair => {
                let exp = now.saturating_add(s.REFRESH_TOKEN_LIFETIME.get()).min(max);
                (TokenType::Refresh, exp, None, exp)
            }
            SessionKind::Sliding => {
                let refresh_exp = now
                    .saturating_add(s.SLIDING_TOKEN_REFRESH_LIFETIME.get())
                    .min(max);
                let exp = now
                    .saturating_add(s.SLIDING_TOKEN_LIFETIME.get())
                    .min(refresh_exp);
                (TokenType::Sliding, exp, Some(refresh_exp), refresh_exp)
            }
        };
        let claims = self.claims(
            token_type,
            &user_ref(user, s),
            sid,
            jti,
            now,
            exp,
            refresh_exp,
        );
        let minted = tokens::mint(&self.keys.read(), &claims, &self.names)?;
        let session = Session {
            id: sid,
            user_id: user.id,
            kind,
            client: client.clone(),
            created_at: now,
            last_rotated_at: None,
            rotation_count: 0,
            head_jti: jti,
            expires_at: session_exp,
            max_expires_at: max,
            revoked_at: None,
            revoked_reason: None,
            revoked_by: None,
        };
        let token = OutstandingToken {
            jti,
            session_id: sid,
            user_id: user.id,
            token_type,
            signing_input_sha256: minted.signing_input_sha256.clone(),
            kid: minted.kid.clone(),
            issued_at: now,
            expires_at: exp,
            parent_jti: None,
            rotated_at: None,
            successor_jti: None,
            address: client.address.clone(),
        };
        let audit = vec![
            AuditEvent::new(now, AuditKind::LoginSucceeded)
                .subject(user.id)
                .session(sid)
                .jti(jti)
                .address(client.address.clone())
                .detail(
                    serde_json::json!({ "kind": kind.as_str(), "device": client.device_label }),
                ),
        ];
        let opened = self.store.open_session(&NewSession {
            session: session.clone(),
            token,
            audit,
        });
        // Its last_login moved (or may have, if the commit's answer was lost).
        self.users.forget(&[user.id]);
        opened?;
        self.caps.remember(sid, max);
        Ok((
            session,
            IssuedToken {
                token: minted.token,
                claims,
            },
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn claims(
        &self,
        token_type: TokenType,
        user: &str,
        sid: SessionId,
        jti: Jti,
        iat: UnixTime,
        exp: UnixTime,
        refresh_exp: Option<UnixTime>,
    ) -> Claims {
        Claims {
            token_type,
            exp,
            iat,
            jti: jti.to_string(),
            user_id: user.to_string(),
            sid: sid.to_string(),
            nbf: None,
            iss: self.settings.ISSUER.clone(),
            aud: self.settings.AUDIENCE.clone(),
            refresh_exp,
        }
    }

    pub(super) fn mint_access(
        &self,
        user: &str,
        sid: SessionId,
        cap: UnixTime,
    ) -> Result<IssuedToken> {
        let now = self.now();
        let exp = now
            .saturating_add(self.settings.ACCESS_TOKEN_LIFETIME.get())
            .min(cap);
        let claims = self.claims(TokenType::Access, user, sid, Jti::random(), now, exp, None);
        // Access tokens are never pinned in the store: no digest to compute.
        let token = tokens::mint_unpinned(&self.keys.read(), &claims, &self.names)?;
        Ok(IssuedToken { token, claims })
    }
}
