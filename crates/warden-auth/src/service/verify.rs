//! Validation: a presented token through [`crate::tokens::validate`]'s fixed
//! steps, then the revocation set; `api/token/verify/` also checks that a
//! refresh token is outstanding.

use super::*;

impl AuthService {
    /// Steps 1–8 of validation (size … token type); revocation is separate.
    pub fn decode(
        &self,
        token: &str,
        expected: Option<TokenType>,
    ) -> Result<Validated, TokenError> {
        tokens::validate(token, &self.keys.read(), &self.policy, self.now(), expected)
    }

    /// Step 9: the revocation set. A revoked session's tokens are refused with
    /// the wire error its reason calls for.
    pub(super) fn check_revoked(&self, token: &Validated) -> Result<()> {
        // A node that cannot vouch for its set refuses rather than guesses.
        self.view.check()?;
        if let Some(reason) = self.revoked.session_revocation(token.sid) {
            return Err(reason_error(reason));
        }
        if self.revoked.is_jti_revoked(token.jti) {
            return Err(TokenError::Blacklisted(Some(RevocationReason::Revoked)).into());
        }
        Ok(())
    }

    /// True when [`Self::authenticate`] may read the store (so an async caller
    /// should run it on a blocking thread): only when `user_id` carries usernames.
    /// Otherwise it is pure computation over the keys and the revocation set.
    pub fn authenticate_reads_store(&self) -> bool {
        self.settings.USER_ID_FIELD == UserIdField::Username
    }

    /// A request's access (or sliding) token: valid, of an access type, not revoked.
    pub fn authenticate(&self, token: &str) -> Result<AuthContext> {
        let t = self.decode(token, None)?;
        if t.claims.token_type == TokenType::Refresh {
            return Err(TokenError::wrong_type(TokenType::Access, TokenType::Refresh).into());
        }
        self.check_revoked(&t)?;
        let user_id = self.user_id_of(&t.claims)?;
        Ok(AuthContext {
            user_id,
            session_id: t.sid,
            claims: t.claims,
        })
    }

    /// `api/token/verify/`: any token type; refresh and sliding tokens must also
    /// be outstanding and not rotated away.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let t = self.decode(token, None)?;
        self.check_revoked(&t)?;
        if t.claims.token_type != TokenType::Access
            && self.outstanding_from_memory(token, &t).is_none()
        {
            let row = self.check_outstanding(token, &t);
            self.remember_outstanding(token, &t, &row);
            row?;
        }
        Ok(t.claims)
    }

    /// [`Self::verify`] without the store: `None` when the answer needs it
    /// (a refresh or sliding token whose row's answer may have changed since
    /// this node last read it, or that it never read), so an async caller
    /// runs [`Self::verify`] on a blocking thread only then.
    pub fn verify_in_memory(&self, token: &str) -> Option<Result<Claims>> {
        let t = match self.decode(token, None) {
            Ok(t) => t,
            Err(e) => return Some(Err(e.into())),
        };
        if let Err(e) = self.check_revoked(&t) {
            return Some(Err(e));
        }
        if t.claims.token_type != TokenType::Access
            && let Err(e) = self.outstanding_from_memory(token, &t)?
        {
            return Some(Err(e));
        }
        Some(Ok(t.claims))
    }

    /// What the store would say of a refresh or sliding token's row, when
    /// it cannot have changed since this node read it (see `memo.rs`).
    fn outstanding_from_memory(&self, token: &str, t: &Validated) -> Option<Result<()>> {
        let r = self.outstanding_memo.get(t.jti)?;
        if r.session != t.sid {
            return None;
        }
        if let Some(digest) = &r.digest
            && !tokens::pin_matches(token, digest)
        {
            return None;
        }
        if r.rotated && self.settings.BLACKLIST_AFTER_ROTATION {
            return Some(Err(TokenError::Blacklisted(None).into()));
        }
        let final_answer =
            !self.settings.BLACKLIST_AFTER_ROTATION || t.claims.token_type == TokenType::Sliding;
        final_answer.then_some(Ok(()))
    }

    /// Keeps what [`Self::check_outstanding`] found, when it is an answer
    /// `outstanding_from_memory` may give again.
    fn remember_outstanding(&self, token: &str, t: &Validated, row: &Result<OutstandingToken>) {
        let remembered = match row {
            Ok(row) => memo::Remembered {
                session: row.session_id,
                digest: (row.token_type == TokenType::Refresh)
                    .then(|| row.signing_input_sha256.clone()),
                rotated: row.rotated_at.is_some(),
                until: t.claims.exp,
            },
            // Rotated away (the only cause of this error there, found after
            // the row's session and digest matched): final.
            Err(AuthError::Token(TokenError::Blacklisted(None))) => memo::Remembered {
                session: t.sid,
                digest: (t.claims.token_type == TokenType::Refresh)
                    .then(|| tokens::pin(token))
                    .flatten(),
                rotated: true,
                until: t.claims.exp,
            },
            Err(_) => return,
        };
        self.outstanding_memo.remember(t.jti, remembered);
    }

    pub(super) fn check_outstanding(
        &self,
        token: &str,
        validated: &Validated,
    ) -> Result<OutstandingToken> {
        let row = self
            .store
            .outstanding(validated.sid, validated.jti)?
            .ok_or(TokenError::NotOutstanding)?;
        // Sliding tokens keep their jti across refreshes, so only refresh tokens are pinned to their bytes.
        if row.token_type == TokenType::Refresh
            && !tokens::pin_matches(token, &row.signing_input_sha256)
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

    pub(super) fn user_id_of(&self, claims: &Claims) -> Result<UserId> {
        if self.settings.USER_ID_FIELD == UserIdField::Username {
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

    pub(super) fn active_user(&self, claims: &Claims) -> Result<User> {
        let id = self.user_id_of(claims)?;
        self.check_active(self.store.user(id)?)
    }

    pub(super) fn check_active(&self, user: Option<User>) -> Result<User> {
        let user = user.ok_or(AuthError::UserNotFound)?;
        if self.settings.CHECK_USER_IS_ACTIVE && !user.is_active {
            return Err(AuthError::UserInactive);
        }
        Ok(user)
    }
}
