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
        if t.claims.token_type != TokenType::Access {
            self.check_outstanding(token, &t)?;
        }
        Ok(t.claims)
    }

    pub(super) fn check_outstanding(
        &self,
        token: &str,
        validated: &Validated,
    ) -> Result<OutstandingToken> {
        let row = self
            .store
            .outstanding(validated.jti)?
            .ok_or(TokenError::NotOutstanding)?;
        if row.session_id != validated.sid {
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
