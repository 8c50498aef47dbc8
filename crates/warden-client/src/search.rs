//! The query strings of the staff searches (`api/staff/users/`,
//! `api/staff/audit/`). The bodies the client sends and reads are
//! `warden_proto`'s types.

/// Filters for `GET api/staff/users/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSearch {
    /// A substring of the username or e-mail.
    pub q: Option<String>,
    /// Only active (`true`) or deactivated (`false`) users.
    pub active: Option<bool>,
    /// Only staff (`true`) or non-staff (`false`).
    pub staff: Option<bool>,
    /// Only users a staff member has locked now (`true`), or not (`false`).
    pub locked: Option<bool>,
    /// At most this many (the server's default is 50, its ceiling 500).
    pub limit: Option<u32>,
    /// Skip this many, for paging.
    pub offset: Option<u32>,
}

impl UserSearch {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(v) = &self.q {
            q.push(("q", v.clone()));
        }
        if let Some(v) = self.active {
            q.push(("active", v.to_string()));
        }
        if let Some(v) = self.staff {
            q.push(("staff", v.to_string()));
        }
        if let Some(v) = self.locked {
            q.push(("locked", v.to_string()));
        }
        if let Some(v) = self.limit {
            q.push(("limit", v.to_string()));
        }
        if let Some(v) = self.offset {
            q.push(("offset", v.to_string()));
        }
        q
    }
}

/// Filters for `GET api/staff/audit/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// Events about or by this user.
    pub user: Option<i64>,
    /// Event kinds (`login_failed`, `reuse_detected`, ...).
    pub kinds: Vec<String>,
    /// Events of this session.
    pub session: Option<String>,
    /// At or after this Unix time.
    pub since: Option<i64>,
    /// At or before this Unix time.
    pub until: Option<i64>,
    /// Entries with an id below this: the next page after the last one seen.
    pub before: Option<i64>,
    /// At most this many (the server's default is 100, its ceiling 1000).
    pub limit: Option<u32>,
}

impl AuditSearch {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(v) = self.user {
            q.push(("user", v.to_string()));
        }
        if !self.kinds.is_empty() {
            q.push(("kind", self.kinds.join(",")));
        }
        if let Some(v) = &self.session {
            q.push(("session", v.clone()));
        }
        if let Some(v) = self.since {
            q.push(("since", v.to_string()));
        }
        if let Some(v) = self.until {
            q.push(("until", v.to_string()));
        }
        if let Some(v) = self.before {
            q.push(("before", v.to_string()));
        }
        if let Some(v) = self.limit {
            q.push(("limit", v.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_become_query_pairs() {
        let s = AuditSearch {
            kinds: vec!["rotated".into(), "reuse_detected".into()],
            limit: Some(5),
            ..AuditSearch::default()
        };
        assert_eq!(
            s.query(),
            vec![
                ("kind", "rotated,reuse_detected".to_string()),
                ("limit", "5".to_string())
            ]
        );
        assert!(UserSearch::default().query().is_empty());
    }
}
