//! The per-mailbox concurrency limit: at most `mailbox_concurrency` calls in flight for one
//! mailbox of a tenant, in this instance and, with a shared store, across all of them. Graph
//! allows four concurrent requests per app and mailbox and answers more with 429
//! `ApplicationThrottled` (MailboxConcurrency), which costs a retry and delays every console
//! polling that mailbox (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).
//!
//! A call takes one place for each mailbox it asks about, in one order (sorted addresses), so two
//! calls over overlapping mailboxes cannot each hold what the other waits for; and places go in
//! the order calls asked for them (each mailbox's places are a FIFO tokio `Semaphore`). The price:
//! a call waiting for a later mailbox holds its places on the earlier ones meanwhile (as lock
//! ordering does), where taking all or none would have left them to calls that need only those. Waking
//! every waiter on each release and letting the fastest win, as this once did, left some calls
//! waiting tens of milliseconds behind luckier ones (uncached p99 48 ms against a 5 ms upstream
//! at 16 clients, `scripts/bench --only http`). Places in the shared store carry when they
//! were taken and stop counting after the lease time, so an instance killed mid-call does not
//! hold them for ever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::shared::{holder_id, Shared};

/// How often a call waiting for a place elsewhere asks the shared store again.
const SHARED_POLL: Duration = Duration::from_millis(15);

/// Each mailbox in use in this instance and its places (an entry lives while a call holds or
/// waits for one of them).
type Mailboxes = Arc<Mutex<HashMap<String, Arc<Semaphore>>>>;

/// One tenant's limiter.
pub struct MailboxLimiter {
    tenant: String,
    limit: u32,
    local: Mailboxes,
    shared: Option<Arc<Shared>>,
}

/// Places held by one call (or, while it waits, the part it has), given back when dropped.
pub struct Places {
    mailboxes: Vec<String>,
    permits: Vec<OwnedSemaphorePermit>,
    local: Mailboxes,
    shared: Option<(Arc<Shared>, Vec<String>, String)>,
}

impl Drop for Places {
    fn drop(&mut self) {
        self.permits.clear();
        {
            // A mailbox nobody holds or waits for any more is forgotten; every holder and waiter
            // keeps a clone of its semaphore, and clones are only made under this lock.
            let mut mailboxes = self.local.lock().expect("limiter");
            for m in &self.mailboxes {
                if mailboxes.get(m).is_some_and(|places| Arc::strong_count(places) == 1) {
                    mailboxes.remove(m);
                }
            }
        }
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
        MailboxLimiter { tenant: tenant.to_string(), limit: limit.max(1), local: Arc::default(), shared }
    }

    /// Places for every mailbox of a call, waiting until each has one free, at most until
    /// `deadline`; `None` when the deadline passed first.
    pub async fn acquire(&self, mailboxes: &[String], deadline: Instant) -> Option<Places> {
        let mut mailboxes: Vec<String> = mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect();
        mailboxes.sort();
        mailboxes.dedup();
        let mut places = Places { mailboxes, permits: Vec::new(), local: self.local.clone(), shared: None };
        let local = async {
            for m in places.mailboxes.clone() {
                let semaphore = self.places_of(&m);
                places.permits.push(semaphore.acquire_owned().await.expect("a limiter's semaphore is never closed"));
            }
        };
        // Past the deadline the places taken so far go back as `places` drops.
        tokio::time::timeout_at(deadline.into(), local).await.ok()?;
        let Some(shared) = &self.shared else { return Some(places) };
        let keys: Vec<String> =
            places.mailboxes.iter().map(|m| shared.key(&format!("limit:{}:{m}", self.tenant))).collect();
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

    /// The places of one mailbox, made on first use.
    fn places_of(&self, mailbox: &str) -> Arc<Semaphore> {
        let mut mailboxes = self.local.lock().expect("limiter");
        mailboxes.entry(mailbox.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.limit as usize))).clone()
    }

    /// Calls holding a place for `mailbox` in this instance.
    #[cfg(test)]
    fn in_flight(&self, mailbox: &str) -> usize {
        let mailboxes = self.local.lock().unwrap();
        mailboxes.get(mailbox).map_or(0, |places| self.limit as usize - places.available_permits())
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
        // Full for a@x.com, the first in order: nothing is taken while it waits, b@x.com neither.
        assert!(limiter.acquire(&["b@x.com".into(), "a@x.com".into()], soon()).await.is_none());
        assert_eq!(limiter.in_flight("b@x.com"), 1);
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

    #[tokio::test]
    async fn waiting_calls_get_their_places_in_the_order_they_asked() {
        let limiter = Arc::new(MailboxLimiter::new("t", 1, None));
        let later = || Instant::now() + Duration::from_secs(5);
        let held = limiter.acquire(&["a@x.com".into()], later()).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for n in 0..6 {
            let (limiter, order) = (limiter.clone(), order.clone());
            // Some ask about a second mailbox too, sorting before or after the shared one; the
            // shared one still decides the order.
            let mailboxes: Vec<String> = match n % 3 {
                0 => vec!["a@x.com".into()],
                1 => vec![format!("z{n}@x.com"), "A@x.com".into()],
                _ => vec!["a@x.com".into(), format!("0{n}@x.com")],
            };
            waiters.push(tokio::spawn(async move {
                let places = limiter.acquire(&mailboxes, later()).await.expect("a place within 5 s");
                order.lock().unwrap().push(n);
                tokio::task::yield_now().await;
                drop(places);
            }));
            // Let this one queue before the next asks.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        // A call arriving just as the place is freed does not jump the queue.
        let late = limiter.acquire(&["a@x.com".into()], later()).await.expect("a place within 5 s");
        order.lock().unwrap().push(6);
        drop(late);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5, 6]);
        assert!(limiter.local.lock().unwrap().is_empty(), "every mailbox forgotten once nobody holds it");
    }
}
