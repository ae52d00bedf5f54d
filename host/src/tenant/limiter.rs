//! The per-mailbox concurrency limit: at most `mailbox_concurrency` calls in flight for one
//! mailbox of a tenant, in this instance and, with a shared store, across all of them. Graph
//! allows four concurrent requests per app and mailbox and answers more with 429
//! `ApplicationThrottled` (MailboxConcurrency), which costs a retry and delays every console
//! polling that mailbox (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).
//!
//! A call takes one place for each mailbox it asks about, all or none (so two calls over
//! overlapping mailboxes cannot each hold half and wait for the other), and gives them back when
//! it ends. Places in the shared store carry when they were taken and stop counting after the
//! lease time, so an instance killed mid-call does not hold them for ever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::shared::{holder_id, Shared};

/// How often a call waiting for a place elsewhere asks the shared store again.
const SHARED_POLL: Duration = Duration::from_millis(15);

/// One tenant's limiter.
pub struct MailboxLimiter {
    tenant: String,
    limit: u32,
    local: Arc<Mutex<HashMap<String, u32>>>,
    freed: Arc<Notify>,
    shared: Option<Arc<Shared>>,
}

/// Places held by one call, given back when dropped.
pub struct Places {
    mailboxes: Vec<String>,
    local: Arc<Mutex<HashMap<String, u32>>>,
    freed: Arc<Notify>,
    shared: Option<(Arc<Shared>, Vec<String>, String)>,
}

impl Drop for Places {
    fn drop(&mut self) {
        {
            let mut counts = self.local.lock().expect("limiter");
            for m in &self.mailboxes {
                if let Some(n) = counts.get_mut(m) {
                    *n -= 1;
                    if *n == 0 {
                        counts.remove(m);
                    }
                }
            }
        }
        self.freed.notify_waiters();
        if let Some((shared, keys, holder)) = self.shared.take() {
            // Dropping cannot wait; the release runs on its own (and expires by itself if lost).
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move { shared.release_places(&keys, &holder).await });
            }
        }
    }
}

impl MailboxLimiter {
    /// A limiter for `tenant` allowing `limit` calls per mailbox.
    pub fn new(tenant: &str, limit: u32, shared: Option<Arc<Shared>>) -> Self {
        MailboxLimiter {
            tenant: tenant.to_string(),
            limit: limit.max(1),
            local: Arc::default(),
            freed: Arc::default(),
            shared,
        }
    }

    /// Places for every mailbox of a call, waiting until each has one free, at most until
    /// `deadline`; `None` when the deadline passed first.
    pub async fn acquire(&self, mailboxes: &[String], deadline: Instant) -> Option<Places> {
        let mut mailboxes: Vec<String> = mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect();
        mailboxes.sort();
        mailboxes.dedup();
        let mut places = loop {
            let freed = self.freed.notified();
            if let Some(places) = self.take_local(&mailboxes) {
                break places;
            }
            if tokio::time::timeout_at(deadline.into(), freed).await.is_err() {
                return None;
            }
        };
        let Some(shared) = &self.shared else { return Some(places) };
        let keys: Vec<String> = mailboxes.iter().map(|m| shared.key(&format!("limit:{}:{m}", self.tenant))).collect();
        let holder = holder_id();
        loop {
            match shared.try_places(&keys, &holder, self.limit, shared.lease).await {
                Some(true) => {
                    places.shared = Some((shared.clone(), keys, holder));
                    return Some(places);
                }
                // The shared store is down: this instance's own limit is all there is.
                None => return Some(places),
                Some(false) if Instant::now() >= deadline => return None,
                Some(false) => tokio::time::sleep(SHARED_POLL).await,
            }
        }
    }

    fn take_local(&self, mailboxes: &[String]) -> Option<Places> {
        let mut counts = self.local.lock().expect("limiter");
        if mailboxes.iter().any(|m| counts.get(m).copied().unwrap_or(0) >= self.limit) {
            return None;
        }
        for m in mailboxes {
            *counts.entry(m.clone()).or_insert(0) += 1;
        }
        Some(Places {
            mailboxes: mailboxes.to_vec(),
            local: self.local.clone(),
            freed: self.freed.clone(),
            shared: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mailbox_gets_at_most_the_limit_and_a_place_comes_back_on_drop() {
        let limiter = MailboxLimiter::new("t", 2, None);
        let soon = || Instant::now() + Duration::from_millis(50);
        let a = limiter.acquire(&["A@x.com".into(), "b@x.com".into()], soon()).await.expect("free");
        let b = limiter.acquire(&["a@x.com".into()], soon()).await.expect("one left");
        // Full for a@x.com: all or none, so b@x.com is not taken either.
        assert!(limiter.acquire(&["b@x.com".into(), "a@x.com".into()], soon()).await.is_none());
        assert_eq!(limiter.local.lock().unwrap().get("b@x.com"), Some(&1));
        drop(b);
        assert!(limiter.acquire(&["a@x.com".into(), "b@x.com".into()], soon()).await.is_some());
        drop(a);
        assert!(limiter.local.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_waiting_call_goes_as_soon_as_a_place_is_freed() {
        let limiter = Arc::new(MailboxLimiter::new("t", 1, None));
        let held = limiter.acquire(&["a@x.com".into()], Instant::now() + Duration::from_secs(1)).await.unwrap();
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let places = limiter.acquire(&["a@x.com".into()], Instant::now() + Duration::from_secs(5)).await;
                (places.is_some(), started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(held);
        let (got, waited) = waiter.await.unwrap();
        assert!(got && waited < Duration::from_secs(1), "waited {waited:?}");
    }
}
