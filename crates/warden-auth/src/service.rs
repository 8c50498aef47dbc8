//! `AuthService`: every operation of the engine, written once.
//!
//! The HTTP server, the CLI and the desktop app are thin adapters over this.
//! Methods are synchronous (the store is); an async caller runs them on a
//! blocking thread. Every revocation is durable in the store before the method
//! returns, and is in the in-memory revocation set before the caller can answer.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use warden_proto::{Claims, SessionInfo, TokenType};

use crate::clock::{Clock, UnixTime};
use crate::error::{AuthError, Result, TokenError};
use crate::ids::{Jti, SessionId, UserId};
use crate::keys::{KeyMaterial, KeyRing};
use crate::lockout::{self, IdentifierHasher, LockoutPolicy, identifier_key};
use crate::model::{
    AuditEntry, AuditEvent, AuditKind, AuditQuery, ClientInfo, FlushReport, NewSession, NewUser,
    OutstandingToken, RevocationReason, RevokeRequest, RevokeTarget, RevokedJti, RevokedSession,
    RotationOutcome, RotationRequest, Session, SessionKind, ThrottleKey, ThrottleRequest,
    ThrottleScope, ThrottleState, ThrottleStep, ThrottleVerdict, User, UserQuery, UserUpdate,
};
use crate::passwords::PasswordHasher;
use crate::revocation::RevocationSet;
use crate::rotation::{RotationPolicy, RotationRefusal};
use crate::settings::{LoginField, Settings};
use crate::store::{Store, StoreError};
use crate::tokens::{self, ClaimNames, ValidationPolicy};

/// A token as handed to a client, with the claims it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

/// The answer to a login (`api/token/`).
#[derive(Debug, Clone)]
pub struct IssuedPair {
    pub access: IssuedToken,
    pub refresh: IssuedToken,
    pub session: Session,
    pub user: User,
}

/// How a refresh was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshKind {
    /// A new refresh token replaced the presented one.
    Rotated,
    /// A retry within the grace window got the existing successor again.
    GraceReplay,
    /// `ROTATE_REFRESH_TOKENS` is off: only a new access token.
    AccessOnly,
}

/// The answer to `api/token/refresh/`.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub access: IssuedToken,
    pub refresh: Option<IssuedToken>,
    pub session: Session,
    pub kind: RefreshKind,
}

/// Who a request is from, established from its access (or sliding) token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub claims: Claims,
}

/// A login attempt.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// What the user typed in the `username` field: a username or an e-mail per `LOGIN_FIELD`.
    pub identifier: String,
    pub password: String,
    pub client: ClientInfo,
}

/// A new account.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub username: String,
    pub email: Option<String>,
    pub password: String,
    pub is_staff: bool,
    pub email_verified: bool,
}

/// RFC 7662 introspection result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    pub active: bool,
    pub claims: Option<Claims>,
    pub username: Option<String>,
}

/// What logout-all and similar revocations ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationSummary {
    pub sessions: Vec<SessionId>,
}

impl RevocationSummary {
    pub fn count(&self) -> usize {
        self.sessions.len()
    }
}

pub struct AuthService {
    settings: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: RwLock<KeyRing>,
    revoked: RevocationSet,
    /// Whether `revoked` may be trusted now (see [`crate::feed`]).
    view: crate::feed::RevocationView,
    hasher: PasswordHasher,
    policy: ValidationPolicy,
    names: ClaimNames,
    /// `None` when every failed-login counter is off.
    lockout: Option<LockoutPolicy>,
    /// Keys throttle rows and unknown identifiers in the audit log.
    identifiers: IdentifierHasher,
    /// Counts settled attempts; waiting admissions are woken by it.
    settled: (Mutex<u64>, Condvar),
}

/// An attempt admitted by [`AuthService::admit`]: the rows it is charged to.
#[derive(Debug)]
struct Attempt {
    keys: Vec<ThrottleKey>,
    policy: LockoutPolicy,
}

/// The longest an attempt waits for room among attempts in flight.
const MAX_ADMISSION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How often a waiting attempt looks again (attempts on other nodes do not wake it).
const ADMISSION_POLL: std::time::Duration = std::time::Duration::from_millis(25);

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("store", &self.store)
            .field("clock", &self.clock)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// Validates the settings and rebuilds the revocation set from the store.
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: KeyRing,
    ) -> Result<Self> {
        settings.validate()?;
        let hasher = PasswordHasher::from_settings(&settings)?;
        let now = clock.now();
        let keep_for = settings.LEEWAY.get();
        let live = store.live_revocations(now, keep_for)?;
        let revoked = RevocationSet::from_live(&live, keep_for);
        let identifiers = IdentifierHasher::new(keys.identifier_secret());
        let lockout = LockoutPolicy::from_settings(&settings);
        Ok(AuthService {
            policy: ValidationPolicy::from_settings(&settings),
            names: ClaimNames::from_settings(&settings),
            settings,
            store,
            clock,
            keys: RwLock::new(keys),
            revoked,
            view: crate::feed::RevocationView::new(),
            hasher,
            lockout,
            identifiers,
            settled: (Mutex::new(0), Condvar::new()),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub fn revocations(&self) -> &RevocationSet {
        &self.revoked
    }

    /// Whether this node's revocation set is current (a [`crate::feed::FeedFollower`] keeps it so).
    pub fn revocation_view(&self) -> &crate::feed::RevocationView {
        &self.view
    }

    /// Adds revocations another node (or process) wrote: a feed entry.
    pub fn apply_revocations(&self, live: &crate::model::LiveRevocations) -> usize {
        self.revoked.apply_live(live, self.settings.LEEWAY.get())
    }

    /// Re-reads every live revocation from the store into the set (what
    /// [`Self::new`] does on start), after a gap in the revocation feed.
    pub fn reload_revocations(&self) -> Result<usize> {
        let keep_for = self.settings.LEEWAY.get();
        let live = self.store.live_revocations(self.now(), keep_for)?;
        Ok(self.revoked.apply_live(&live, keep_for))
    }

    // ------------------------------------------------------------------
    // Accounts

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

    fn new_user(&self, account: &NewAccount) -> Result<NewUser> {
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

    fn created_event(new: &NewUser, now: UnixTime, actor: Option<UserId>) -> AuditEvent {
        AuditEvent::new(now, AuditKind::UserCreated)
            .actor(actor)
            .detail(serde_json::json!({ "username": new.username, "staff": new.is_staff }))
    }

    pub fn user(&self, id: UserId) -> Result<User> {
        self.store.user(id)?.ok_or(AuthError::NotFound("user"))
    }

    pub fn user_by_username(&self, username: &str) -> Result<User> {
        self.store
            .user_by_username(username)?
            .ok_or(AuthError::NotFound("user"))
    }

    // ------------------------------------------------------------------
    // Login

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

    fn check_credentials(&self, req: &LoginRequest) -> Result<User> {
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
    fn sign_in_refusal(&self, user: &User, now: UnixTime) -> Option<&'static str> {
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
    fn login_failed_event(
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
    fn admit(
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
    fn settle(
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

    fn find_login_user(&self, identifier: &str) -> Result<Option<User>> {
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

    fn open_session(
        &self,
        user: &User,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<(Session, IssuedToken)> {
        let now = self.now();
        let s = &self.settings;
        let sid = SessionId::random();
        let max = now.saturating_add(s.SESSION_MAX_LIFETIME.get());
        let jti = Jti::random();
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
        self.store.open_session(&NewSession {
            session: session.clone(),
            token,
            audit,
        })?;
        Ok((
            session,
            IssuedToken {
                token: minted.token,
                claims,
            },
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn claims(
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

    fn mint_access(&self, user: &str, sid: SessionId, cap: UnixTime) -> Result<IssuedToken> {
        let now = self.now();
        let exp = now
            .saturating_add(self.settings.ACCESS_TOKEN_LIFETIME.get())
            .min(cap);
        let claims = self.claims(TokenType::Access, user, sid, Jti::random(), now, exp, None);
        // Access tokens are never pinned in the store: no digest to compute.
        let token = tokens::mint_unpinned(&self.keys.read(), &claims, &self.names)?;
        Ok(IssuedToken { token, claims })
    }

    // ------------------------------------------------------------------
    // Validation

    /// Steps 1–8 of validation (size … token type); revocation is separate.
    pub fn decode(&self, token: &str, expected: Option<TokenType>) -> Result<Claims, TokenError> {
        tokens::validate(token, &self.keys.read(), &self.policy, self.now(), expected)
    }

    /// Step 9: the revocation set. A revoked session's tokens are refused with
    /// the wire error its reason calls for.
    fn check_revoked(&self, claims: &Claims) -> Result<()> {
        // A node that cannot vouch for its set refuses rather than guesses.
        self.view.check()?;
        let sid = SessionId::parse(&claims.sid).ok_or(TokenError::BadId)?;
        if let Some(reason) = self.revoked.session_revocation(sid) {
            return Err(reason_error(reason));
        }
        let jti = Jti::parse(&claims.jti).ok_or(TokenError::BadId)?;
        if self.revoked.is_jti_revoked(jti) {
            return Err(TokenError::Blacklisted(Some(RevocationReason::Revoked)).into());
        }
        Ok(())
    }

    /// True when [`Self::authenticate`] may read the store (so an async caller
    /// should run it on a blocking thread): only when `user_id` carries usernames.
    /// Otherwise it is pure computation over the keys and the revocation set.
    pub fn authenticate_reads_store(&self) -> bool {
        self.settings.USER_ID_FIELD == "username"
    }

    /// A request's access (or sliding) token: valid, of an access type, not revoked.
    pub fn authenticate(&self, token: &str) -> Result<AuthContext> {
        let claims = self.decode(token, None)?;
        if claims.token_type == TokenType::Refresh {
            return Err(TokenError::wrong_type(TokenType::Access, TokenType::Refresh).into());
        }
        self.check_revoked(&claims)?;
        let user_id = self.user_id_of(&claims)?;
        let session_id = SessionId::parse(&claims.sid).ok_or(TokenError::BadId)?;
        Ok(AuthContext {
            user_id,
            session_id,
            claims,
        })
    }

    /// `api/token/verify/`: any token type; refresh and sliding tokens must also
    /// be outstanding and not rotated away.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let claims = self.decode(token, None)?;
        self.check_revoked(&claims)?;
        if claims.token_type != TokenType::Access {
            self.check_outstanding(token, &claims)?;
        }
        Ok(claims)
    }

    fn check_outstanding(&self, token: &str, claims: &Claims) -> Result<OutstandingToken> {
        let jti = Jti::parse(&claims.jti).ok_or(TokenError::BadId)?;
        let row = self
            .store
            .outstanding(jti)?
            .ok_or(TokenError::NotOutstanding)?;
        if row.session_id.to_string() != claims.sid {
            return Err(TokenError::NotOutstanding.into());
        }
        // Sliding tokens keep their jti across refreshes, so only refresh tokens are pinned to their bytes.
        if row.token_type == TokenType::Refresh
            && tokens::signing_input_sha256(token).as_deref()
                != Some(row.signing_input_sha256.as_str())
        {
            return Err(TokenError::NotOutstanding.into());
        }
        if row.rotated_at.is_some() && self.settings.BLACKLIST_AFTER_ROTATION {
            return Err(TokenError::Blacklisted(None).into());
        }
        let session = self
            .store
            .session(row.session_id)?
            .ok_or(TokenError::NotOutstanding)?;
        if session.is_revoked() {
            return Err(reason_error(session.revoked_reason));
        }
        Ok(row)
    }

    fn user_id_of(&self, claims: &Claims) -> Result<UserId> {
        if self.settings.USER_ID_FIELD == "username" {
            return Ok(self
                .store
                .user_by_username(&claims.user_id)?
                .ok_or(AuthError::UserNotFound)?
                .id);
        }
        claims
            .user_id
            .parse::<UserId>()
            .map_err(|_| AuthError::UserNotFound)
    }

    fn active_user(&self, claims: &Claims) -> Result<User> {
        let id = self.user_id_of(claims)?;
        self.check_active(self.store.user(id)?)
    }

    fn check_active(&self, user: Option<User>) -> Result<User> {
        let user = user.ok_or(AuthError::UserNotFound)?;
        if self.settings.CHECK_USER_IS_ACTIVE && !user.is_active {
            return Err(AuthError::UserInactive);
        }
        Ok(user)
    }

    // ------------------------------------------------------------------
    // Refresh

    /// `api/token/refresh/`: rotates atomically; a replayed rotated-away token revokes the family.
    pub fn refresh(&self, token: &str, client: &ClientInfo) -> Result<Refreshed> {
        let claims = self.decode(token, Some(TokenType::Refresh))?;
        self.check_revoked(&claims)?;
        let sid = SessionId::parse(&claims.sid);
        let (user, session) = match sid {
            // The user (still active?) and the session's cap in one read
            // transaction instead of two (one hop to a read connection less).
            Some(sid) if self.settings.ROTATE_REFRESH_TOKENS => {
                let (user, session) = self
                    .store
                    .user_and_session(self.user_id_of(&claims)?, sid)?;
                (self.check_active(user)?, session)
            }
            _ => (self.active_user(&claims)?, None),
        };
        let sid = sid.ok_or(TokenError::BadId)?;
        let presented = Jti::parse(&claims.jti).ok_or(TokenError::BadId)?;
        let uref = user_ref(&user, &self.settings);

        if !self.settings.ROTATE_REFRESH_TOKENS {
            self.check_outstanding(token, &claims)?;
            let session = self.store.session(sid)?.ok_or(TokenError::NotOutstanding)?;
            let access = self.mint_access(&uref, sid, session.max_expires_at)?;
            return Ok(Refreshed {
                access,
                refresh: None,
                session,
                kind: RefreshKind::AccessOnly,
            });
        }

        // The cap never changes, so reading it outside the rotation transaction is safe.
        let session = session.ok_or(TokenError::NotOutstanding)?;
        let now = self.now();
        let exp = now
            .saturating_add(self.settings.REFRESH_TOKEN_LIFETIME.get())
            .min(session.max_expires_at);
        let jti = Jti::random();
        let succ_claims = self.claims(TokenType::Refresh, &uref, sid, jti, now, exp, None);
        let minted = tokens::mint(&self.keys.read(), &succ_claims, &self.names)?;
        let presented_hash = tokens::signing_input_sha256(token).ok_or(TokenError::Malformed)?;
        let request = RotationRequest {
            presented_jti: presented,
            presented_signing_input_sha256: presented_hash,
            successor: OutstandingToken {
                jti,
                session_id: sid,
                user_id: user.id,
                token_type: TokenType::Refresh,
                signing_input_sha256: minted.signing_input_sha256.clone(),
                kid: minted.kid.clone(),
                issued_at: now,
                expires_at: exp,
                parent_jti: Some(presented),
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
        match self.store.rotate(&request)? {
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
                if again.signing_input_sha256 != successor.signing_input_sha256 {
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
                    exp: session.max_expires_at.min(claims.exp),
                    now,
                }
                .into(),
            }),
        }
    }

    /// `api/token/sliding/refresh/`: same jti, new `exp`, never past `refresh_exp`.
    pub fn refresh_sliding(&self, token: &str) -> Result<IssuedToken> {
        let claims = self.decode(token, Some(TokenType::Sliding))?;
        self.check_revoked(&claims)?;
        let user = self.active_user(&claims)?;
        self.check_outstanding(token, &claims)?;
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
        let sid = SessionId::parse(&claims.sid).ok_or(TokenError::BadId)?;
        let jti = Jti::parse(&claims.jti).ok_or(TokenError::BadId)?;
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

    // ------------------------------------------------------------------
    // Revocation

    fn revoke(&self, request: RevokeRequest) -> Result<Vec<RevokedSession>> {
        let ended = self.store.revoke_sessions(&request)?;
        self.remember_revoked(&ended);
        Ok(ended)
    }

    /// Ends one session (if still live) with one audit line, atomically; true
    /// when it was live.
    fn revoke_one(
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
    fn outstanding_or_end_replay(
        &self,
        token: &str,
        claims: &Claims,
        actor: Option<UserId>,
        client: &ClientInfo,
    ) -> Result<OutstandingToken> {
        match self.check_outstanding(token, claims) {
            Err(AuthError::Token(TokenError::Blacklisted(None))) => {
                let sid = SessionId::parse(&claims.sid).ok_or(TokenError::BadId)?;
                let user = self.user_id_of(claims)?;
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

    fn remember_revoked(&self, ended: &[RevokedSession]) {
        let keep = self.settings.LEEWAY.get();
        for s in ended {
            self.revoked
                .revoke_session_for(s.id, s.max_expires_at.saturating_add(keep), s.reason);
        }
    }

    /// `api/token/blacklist/`: the refresh token's whole session ends, access tokens included.
    pub fn blacklist(&self, refresh_token: &str, client: &ClientInfo) -> Result<()> {
        let claims = self.decode(refresh_token, Some(TokenType::Refresh))?;
        self.check_revoked(&claims)?;
        let row = self.outstanding_or_end_replay(refresh_token, &claims, None, client)?;
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
        let claims = self.decode(refresh_token, Some(TokenType::Refresh))?;
        if self.user_id_of(&claims)? != ctx.user_id {
            return Err(AuthError::Forbidden(
                "that refresh token belongs to another user",
            ));
        }
        self.check_revoked(&claims)?;
        let row =
            self.outstanding_or_end_replay(refresh_token, &claims, Some(ctx.user_id), client)?;
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

    /// `api/logout-all/`: every session of the caller, this one included.
    pub fn logout_all(&self, ctx: &AuthContext, client: &ClientInfo) -> Result<RevocationSummary> {
        self.end_all_sessions(
            ctx.user_id,
            Some(ctx.user_id),
            RevocationReason::LogoutAll,
            None,
            client,
        )
    }

    fn end_all_sessions(
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

    /// Ends one of the caller's own sessions. Someone else's session is "not found".
    pub fn revoke_my_session(
        &self,
        ctx: &AuthContext,
        sid: SessionId,
        client: &ClientInfo,
    ) -> Result<bool> {
        let session = self
            .store
            .session(sid)?
            .filter(|s| s.user_id == ctx.user_id)
            .ok_or(AuthError::NotFound("session"))?;
        let now = self.now();
        let ended = self.revoke_one(
            session.id,
            RevocationReason::Logout,
            Some(ctx.user_id),
            AuditEvent::new(now, AuditKind::SessionRevoked)
                .subject(ctx.user_id)
                .actor(Some(ctx.user_id))
                .session(session.id)
                .address(client.address.clone()),
        )?;
        Ok(ended)
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
        let Ok(claims) = self.decode(token, None) else {
            return Ok(false);
        };
        let owner = self.user_id_of(&claims)?;
        if owner != ctx.user_id && !self.is_staff(ctx.user_id)? {
            return Err(AuthError::Forbidden("that token belongs to another user"));
        }
        let sid = SessionId::parse(&claims.sid).ok_or(TokenError::BadId)?;
        let jti = Jti::parse(&claims.jti).ok_or(TokenError::BadId)?;
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

    // ------------------------------------------------------------------
    // Passwords

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
    fn login_name<'u>(&self, user: &'u User) -> &'u str {
        match (self.settings.LOGIN_FIELD, user.email.as_deref()) {
            (LoginField::Email, Some(email)) => email,
            _ => &user.username,
        }
    }

    fn update_and_revoke(
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
        let (_, ended) = self
            .store
            .update_user(user_id, &update, request.as_ref(), &[audit])?
            .ok_or(AuthError::NotFound("user"))?;
        self.remember_revoked(&ended);
        Ok(RevocationSummary {
            sessions: ended.iter().map(|s| s.id).collect(),
        })
    }

    // ------------------------------------------------------------------
    // Staff

    fn is_staff(&self, id: UserId) -> Result<bool> {
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

    // ------------------------------------------------------------------
    // Administration (trusted callers: the `warden` command, the embedded app)

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

    // ------------------------------------------------------------------
    // Keys and housekeeping

    /// Generates a new signing key; the old one keeps verifying until every token it signed has expired.
    /// Returns every key to persist.
    pub fn rotate_signing_key(&self) -> Result<Vec<KeyMaterial>> {
        let now = self.now();
        let next = KeyMaterial::generate(self.settings.ALGORITHM, now)?;
        let new_kid = next.kid.clone();
        let mut ring = self.keys.write();
        let old_kid = ring.active().kid.clone();
        ring.rotate(next, now, self.settings.longest_token_lifetime())?;
        let materials = ring.materials();
        drop(ring);
        self.store
            .append_audit(&[AuditEvent::new(now, AuditKind::KeyRotated)
                .detail(serde_json::json!({ "old_kid": old_kid, "new_kid": new_kid }))])?;
        Ok(materials)
    }

    pub fn key_materials(&self) -> Vec<KeyMaterial> {
        self.keys.read().materials()
    }

    pub fn active_kid(&self) -> String {
        self.keys.read().active().kid.clone()
    }

    /// Inspects a token against this server's own keys and settings (the
    /// developer tools' inspector); revocation is not consulted.
    pub fn inspect_token(
        &self,
        token: &str,
    ) -> std::result::Result<crate::inspect::Inspection, crate::inspect::InspectError> {
        let keys = self.keys.read();
        let mut expect = crate::inspect::Expectations::from_settings(&self.settings);
        expect.known_kids = Some(keys.keys().map(|k| k.kid.clone()).collect());
        expect.known_kids_source = Some("this server's key ring".into());
        crate::inspect::inspect(
            token,
            &crate::inspect::VerifyWith::KeyRing(&keys),
            &expect,
            self.now(),
        )
    }

    /// The public keys (RFC 7517 JWK Set); empty for HMAC.
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.read().jwks(self.now())
    }

    /// SimpleJWT's `flushexpiredtokens`, plus pruning the revocation set and retired keys.
    pub fn flush_expired(&self) -> Result<FlushReport> {
        let now = self.now();
        // A session row must outlive every access token minted from it, and a grace
        // replay can mint one shortly after the head refresh token's own issue time.
        let keep_for = self
            .settings
            .ACCESS_TOKEN_LIFETIME
            .get()
            .saturating_add(self.settings.LEEWAY.get());
        let report = self.store.flush_expired(now, keep_for)?;
        self.revoked.prune(now);
        self.keys.write().prune(now);
        if report != FlushReport::default() {
            self.store
                .append_audit(&[AuditEvent::new(now, AuditKind::Flushed)
                    .detail(serde_json::to_value(report).unwrap_or_default())])?;
        }
        Ok(report)
    }
}

/// The error a revoked session's tokens get.
/// A username or e-mail that is taken, in DRF's words.
fn conflict_error(e: StoreError) -> AuthError {
    match e {
        StoreError::Conflict(what) => AuthError::Conflict(if what.contains("email") {
            "A user with that email already exists.".into()
        } else {
            "A user with that username already exists.".into()
        }),
        other => other.into(),
    }
}

fn reason_error(reason: Option<RevocationReason>) -> AuthError {
    match reason {
        Some(RevocationReason::Deactivated) => AuthError::UserInactive,
        Some(RevocationReason::UserDeleted) => AuthError::UserNotFound,
        r => TokenError::Blacklisted(r).into(),
    }
}

/// What goes in the `user_id` claim for `user`.
fn user_ref(user: &User, settings: &Settings) -> String {
    if settings.USER_ID_FIELD == "username" {
        user.username.clone()
    } else {
        user.id.to_string()
    }
}

fn required_reason(reason: &str) -> Result<&str> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(AuthError::invalid("reason", "This field may not be blank."));
    }
    if r.len() > 500 {
        return Err(AuthError::invalid(
            "reason",
            "Ensure this field has no more than 500 characters.",
        ));
    }
    Ok(r)
}

/// Django's username rule: 1–150 of letters, digits and `@.+-_`.
fn validate_username(username: &str) -> Result<()> {
    if username.is_empty() {
        return Err(AuthError::invalid(
            "username",
            "This field may not be blank.",
        ));
    }
    if username.chars().count() > 150 {
        return Err(AuthError::invalid(
            "username",
            "Ensure this field has no more than 150 characters.",
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err(AuthError::invalid(
            "username",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        ));
    }
    Ok(())
}

fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        });
    if ok {
        Ok(())
    } else {
        Err(AuthError::invalid("email", "Enter a valid email address."))
    }
}

/// A session as users and staff see it.
pub fn session_info(s: &Session, current: Option<SessionId>) -> SessionInfo {
    SessionInfo {
        id: s.id.to_string(),
        user_id: s.user_id.to_string(),
        device_label: s.client.device_label.clone(),
        user_agent: s.client.user_agent.clone(),
        address: s.client.address.clone(),
        created_at: s.created_at,
        last_rotated_at: s.last_rotated_at,
        rotation_count: s.rotation_count,
        expires_at: s.expires_at,
        max_expires_at: s.max_expires_at,
        revoked_at: s.revoked_at,
        revoked_reason: s.revoked_reason.map(|r| r.as_str().to_string()),
        current: current == Some(s.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_django_rules() {
        assert!(validate_username("alice.b+c-d_e@x").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("has space").is_err());
        assert!(validate_username(&"a".repeat(151)).is_err());
        assert!(validate_username("élodie").is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(validate_email("a@b.co").is_ok());
        for bad in ["a@b", "@b.co", "a b@c.de", "a@.co", "a@co.", "plain"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revoked_reasons_map_to_simplejwt_errors() {
        assert!(matches!(
            reason_error(Some(RevocationReason::Deactivated)),
            AuthError::UserInactive
        ));
        assert!(matches!(
            reason_error(Some(RevocationReason::UserDeleted)),
            AuthError::UserNotFound
        ));
        assert!(matches!(
            reason_error(Some(RevocationReason::ReuseDetected)),
            AuthError::Token(TokenError::Blacklisted(Some(
                RevocationReason::ReuseDetected
            )))
        ));
    }

    #[test]
    fn staff_reasons_are_required() {
        assert!(required_reason("  ").is_err());
        assert_eq!(required_reason(" fraud ").unwrap(), "fraud");
        assert!(required_reason(&"x".repeat(501)).is_err());
    }
}
