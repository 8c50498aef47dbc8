//! The query strings of the staff searches (`api/staff/users/`,
//! `api/staff/audit/`). The bodies the client sends and reads are
//! `warden_proto`'s types.

/// Filters for `GET api/staff/users/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSearch {
    pub q: Option<String>,
    pub active: Option<bool>,
    pub staff: Option<bool>,
    pub locked: Option<bool>,
    pub limit: Option<u32>,
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
    pub user: Option<i64>,
    /// Event kinds (`login_failed`, `reuse_detected`, ...).
    pub kinds: Vec<String>,
    pub session: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
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
