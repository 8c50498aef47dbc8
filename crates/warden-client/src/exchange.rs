//! A record of every HTTP exchange, for the app's timeline: method, path,
//! status, latency and the error's code, never a token or a body.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

/// How many exchanges the timeline keeps.
pub const TIMELINE_CAPACITY: usize = 200;

/// One request and its answer (or the lack of one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// Unix time in milliseconds when the request was sent.
    pub at: i64,
    pub method: String,
    /// Relative to the base URL, query included; paths never carry tokens.
    pub path: String,
    /// `None` when no answer came (network error, timeout).
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// The server's `code` (`token_not_valid`, `locked_out`, ...) or, when the
    /// body has none, the client's (`connect`, `timeout`, `invalid_credentials`, ...).
    pub error_code: Option<String>,
    /// Warden's `reason`, or SimpleJWT's message when there is no reason.
    pub reason: Option<String>,
    /// Which credential went with the request, redacted (`access eyJhbG…`).
    pub credential: Option<String>,
    /// Warden's request id, to find the server's log line.
    pub request_id: Option<String>,
}

type Listener = Box<dyn Fn(&Exchange) + Send + Sync>;

/// The last [`TIMELINE_CAPACITY`] exchanges, and who wants to hear of new ones.
#[derive(Default)]
pub struct ExchangeLog {
    ring: Mutex<VecDeque<Exchange>>,
    listeners: Mutex<Vec<Listener>>,
}

impl fmt::Debug for ExchangeLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeLog")
            .field("len", &self.ring.lock().len())
            .field("listeners", &self.listeners.lock().len())
            .finish()
    }
}

impl ExchangeLog {
    pub fn new() -> Arc<Self> {
        Arc::new(ExchangeLog::default())
    }

    pub fn record(&self, exchange: Exchange) {
        {
            let mut ring = self.ring.lock();
            if ring.len() == TIMELINE_CAPACITY {
                ring.pop_front();
            }
            ring.push_back(exchange.clone());
        }
        for listener in self.listeners.lock().iter() {
            listener(&exchange);
        }
    }

    /// Oldest first.
    pub fn snapshot(&self) -> Vec<Exchange> {
        self.ring.lock().iter().cloned().collect()
    }

    /// Calls `f` for every exchange recorded from now on (on the recording task;
    /// keep it short and never block).
    pub fn subscribe(&self, f: impl Fn(&Exchange) + Send + Sync + 'static) {
        self.listeners.lock().push(Box::new(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ex(i: i64) -> Exchange {
        Exchange {
            at: i,
            method: "GET".into(),
            path: "api/me/".into(),
            status: Some(200),
            latency_ms: 1,
            error_code: None,
            reason: None,
            credential: None,
            request_id: None,
        }
    }

    #[test]
    fn keeps_the_last_200_oldest_first() {
        let log = ExchangeLog::new();
        for i in 0..250 {
            log.record(ex(i));
        }
        let snap = log.snapshot();
        assert_eq!(snap.len(), TIMELINE_CAPACITY);
        assert_eq!(snap.first().unwrap().at, 50);
        assert_eq!(snap.last().unwrap().at, 249);
    }

    #[test]
    fn listeners_hear_every_exchange() {
        let log = ExchangeLog::new();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        log.subscribe(move |_| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        for i in 0..5 {
            log.record(ex(i));
        }
        assert_eq!(n.load(Ordering::SeqCst), 5);
    }
}
