//! Which data request gets which injected fault: a pure, deterministic
//! counter (no I/O), so tests can predict every fault from the request order.

use std::collections::HashMap;

use crate::options::Faults;

/// One kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// 429 with `Retry-After`.
    RateLimit,
    /// A 5xx status.
    ServerError,
    /// 200 whose JSON body is cut in half.
    TruncatedBody,
    /// 200 with an HTML page instead of JSON.
    HtmlBody,
    /// Half the declared body, then the connection is aborted.
    ConnectionReset,
}

impl FaultKind {
    /// Name used in [`crate::Stats::faults_injected`].
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "rate_limit",
            FaultKind::ServerError => "server_error",
            FaultKind::TruncatedBody => "truncated_body",
            FaultKind::HtmlBody => "html_body",
            FaultKind::ConnectionReset => "connection_reset",
        }
    }

    /// Returns true if and only if the fault replaces the status line (the
    /// handler does not run); the others corrupt a successful answer.
    pub fn is_status(self) -> bool {
        matches!(self, FaultKind::RateLimit | FaultKind::ServerError)
    }
}

/// The fault counter of one server.
#[derive(Debug)]
pub struct FaultPlan {
    faults: Faults,
    data_requests: u64,
    faulted: HashMap<String, u32>,
}

impl FaultPlan {
    /// A plan with no request counted yet.
    pub fn new(faults: Faults) -> Self {
        Self {
            faults,
            data_requests: 0,
            faulted: HashMap::new(),
        }
    }

    /// Data requests counted so far.
    pub fn data_requests(&self) -> u64 {
        self.data_requests
    }

    /// Counts one data request, identified by `key` (method, path, query and
    /// body), and says which fault it gets, if any.
    pub fn next(&mut self, key: &str) -> Option<FaultKind> {
        self.data_requests += 1;
        let n = self.data_requests;
        let f = &self.faults;
        let kind = [
            (f.rate_limit_every, FaultKind::RateLimit),
            (f.server_error_every, FaultKind::ServerError),
            (f.truncated_body_every, FaultKind::TruncatedBody),
            (f.html_body_every, FaultKind::HtmlBody),
            (f.connection_reset_every, FaultKind::ConnectionReset),
        ]
        .into_iter()
        .find(|(every, _)| every.is_some_and(|e| e > 0 && n.is_multiple_of(u64::from(e))))
        .map(|(_, kind)| kind)?;
        let times = self.faulted.entry(key.to_owned()).or_insert(0);
        if *times >= self.faults.max_faults_per_request {
            return None;
        }
        *times += 1;
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(f: Faults) -> FaultPlan {
        FaultPlan::new(f)
    }

    #[test]
    fn every_nth_request_is_faulted() {
        let mut p = plan(Faults {
            rate_limit_every: Some(3),
            ..Faults::default()
        });
        let got: Vec<_> = (0..9).map(|i| p.next(&format!("page{i}"))).collect();
        let faulted: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_some())
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(faulted, vec![3, 6, 9]);
        assert_eq!(p.data_requests(), 9);
    }

    #[test]
    fn retry_of_a_faulted_request_succeeds_by_default() {
        let mut p = plan(Faults {
            rate_limit_every: Some(1),
            ..Faults::default()
        });
        assert_eq!(p.next("a"), Some(FaultKind::RateLimit));
        assert_eq!(p.next("a"), None);
        assert_eq!(p.next("b"), Some(FaultKind::RateLimit));
        assert_eq!(p.next("b"), None);
    }

    #[test]
    fn max_faults_per_request_allows_repeated_faults() {
        let mut p = plan(Faults {
            server_error_every: Some(1),
            max_faults_per_request: 3,
            ..Faults::default()
        });
        let got: Vec<_> = (0..4).map(|_| p.next("same")).collect();
        assert_eq!(
            got,
            vec![
                Some(FaultKind::ServerError),
                Some(FaultKind::ServerError),
                Some(FaultKind::ServerError),
                None
            ]
        );
    }

    #[test]
    fn first_listed_fault_wins_when_counters_coincide() {
        let mut p = plan(Faults {
            rate_limit_every: Some(2),
            server_error_every: Some(3),
            ..Faults::default()
        });
        let got: Vec<_> = (0..6).map(|i| p.next(&i.to_string())).collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(FaultKind::RateLimit),
                Some(FaultKind::ServerError),
                Some(FaultKind::RateLimit),
                None,
                Some(FaultKind::RateLimit),
            ]
        );
    }

    #[test]
    fn zero_means_never() {
        let mut p = plan(Faults {
            rate_limit_every: Some(0),
            ..Faults::default()
        });
        assert!((0..5).all(|i| p.next(&i.to_string()).is_none()));
    }
}
