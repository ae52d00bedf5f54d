//! Single flight: identical concurrent fetches share one. The first caller's fetch runs as its
//! own task, so a caller that gives up (a client hanging up) abandons neither the others waiting
//! for it nor what the fetch does when it finishes (storing its answer in the cache).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};

/// Fetches under way, by key; each result is handed to every caller that asked for that key while
/// it ran.
pub struct SingleFlight<V: Clone> {
    in_flight: Arc<Mutex<HashMap<String, Shared<BoxFuture<'static, V>>>>>,
}

impl<V: Clone> Default for SingleFlight<V> {
    fn default() -> Self {
        SingleFlight { in_flight: Arc::default() }
    }
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    /// The result of the fetch for `key`: the one under way, or `fetch` started now. When the
    /// task is lost (it panicked), `lost` gives the answer instead.
    pub async fn run<F>(&self, key: String, fetch: F, lost: impl FnOnce(String) -> V + Send + 'static) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut in_flight = self.in_flight.lock().expect("in-flight lock");
            in_flight
                .entry(key.clone())
                .or_insert_with(|| {
                    let registry = self.in_flight.clone();
                    // The task removes its entry when done; it cannot before this lock is released.
                    let task = tokio::spawn(async move {
                        let value = fetch.await;
                        registry.lock().expect("in-flight lock").remove(&key);
                        value
                    });
                    async move { task.await.unwrap_or_else(|e| lost(e.to_string())) }.boxed().shared()
                })
                .clone()
        };
        flight.await
    }

    /// Fetches under way (for tests and metrics).
    pub fn len(&self) -> usize {
        self.in_flight.lock().expect("in-flight lock").len()
    }

    /// Whether none is under way.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn identical_concurrent_fetches_run_once() {
        let flights = Arc::new(SingleFlight::<usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = |key: &str| {
            let (flights, runs, key) = (flights.clone(), runs.clone(), key.to_string());
            async move {
                let fetch = async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    runs.fetch_add(1, Ordering::SeqCst) + 1
                };
                flights.run(key, fetch, |_| 0).await
            }
        };
        let answers = futures::future::join_all((0..20).map(|_| ask("same"))).await;
        assert!(answers.iter().all(|&a| a == 1), "{answers:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Another key, and the same key once the first is done, each run anew.
        assert_eq!(ask("other").await, 2);
        assert_eq!(ask("same").await, 3);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_does_not_cancel_the_fetch() {
        let flights = Arc::new(SingleFlight::<usize>::default());
        let finished = Arc::new(AtomicUsize::new(0));
        let done = finished.clone();
        let fetch = async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            done.fetch_add(1, Ordering::SeqCst);
            7
        };
        let impatient = tokio::time::timeout(Duration::from_millis(5), flights.run("k".into(), fetch, |_| 0)).await;
        assert!(impatient.is_err(), "the caller gave up");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the fetch ran to its end");
        assert!(flights.is_empty());
    }

    fn flights_are_fragile() -> bool {
        true
    }

    #[tokio::test]
    async fn a_lost_fetch_is_answered_by_the_fallback() {
        let flights = SingleFlight::<String>::default();
        let dies = async {
            if flights_are_fragile() {
                panic!("provider task died");
            }
            String::new()
        };
        let answer = flights.run("k".into(), dies, |why| format!("lost: {why}")).await;
        assert!(answer.starts_with("lost:"), "{answer}");
    }
}
