//! Signing keys and housekeeping: key rotation, the inspector, JWKS, flush.

use super::*;

impl AuthService {
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

    /// Every key of the ring, to store (the active one first).
    pub fn key_materials(&self) -> Vec<KeyMaterial> {
        self.keys.read().materials()
    }

    /// The `kid` new tokens are signed with.
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
        self.outstanding_memo.prune(now);
        self.caps.prune(now);
        self.keys.write().prune(now);
        if report != FlushReport::default() {
            self.store
                .append_audit(&[AuditEvent::new(now, AuditKind::Flushed)
                    .detail(serde_json::to_value(report).unwrap_or_default())])?;
        }
        Ok(report)
    }
}
