//! The threads login password hashes run on, a few at a time and at a
//! lower CPU priority than the request workers.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Where logins hash: `threads` dedicated threads running at a lower CPU
/// priority (nice 10) than the request workers, so a login flood yields the
/// CPU to verify, refresh and Bearer calls instead of adding to their
/// latency, and at most `threads` hashes run at once. A hash waits up to
/// `wait` for a thread, then is refused ([`HashingBusy`]).
pub struct HashingPool {
    jobs: std::sync::mpsc::SyncSender<HashJob>,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
    /// Hashes waiting for a slot, and running, now (for the metrics).
    waiting: std::sync::Arc<AtomicUsize>,
    running: std::sync::Arc<AtomicUsize>,
}

/// Counts one while alive.
struct Counted(std::sync::Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &std::sync::Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Every hashing thread stayed busy for the whole wait.
#[derive(Debug, PartialEq, Eq)]
pub struct HashingBusy;

/// Niceness 10 in thread-priority's 0..=99 scale (99 is nice -20, 0 is nice 19).
const HASHING_PRIORITY: u8 = 22;

impl HashingPool {
    pub fn start(threads: usize, wait: std::time::Duration) -> std::io::Result<Self> {
        let threads = threads.max(1);
        // Each queued or running job holds a slot, so the queue never holds
        // more than `threads` jobs.
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<HashJob>(threads);
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        // The pool is gone when every sender is.
                        let Ok(job) = job else { return };
                        job();
                    }
                })?;
        }
        Ok(Self {
            jobs,
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(threads)),
            wait,
            waiting: Default::default(),
            running: Default::default(),
        })
    }

    /// Hashes waiting for a slot and hashes running, now.
    pub fn load(&self) -> (usize, usize) {
        (
            self.waiting.load(Ordering::Relaxed),
            self.running.load(Ordering::Relaxed),
        )
    }

    /// Runs `work` on a hashing thread once one is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingBusy> {
        let waiting = Counted::new(&self.waiting);
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashingBusy)?
            .map_err(|_| HashingBusy)?;
        drop(waiting);
        let (done, result) = tokio::sync::oneshot::channel();
        let running = self.running.clone();
        let job: HashJob = Box::new(move || {
            let counted = Counted::new(&running);
            let value = work();
            drop(counted);
            // Free before answering: the caller's next login must find the
            // slot free, even when this low-priority thread is not scheduled
            // again for a while after the answer wakes it.
            drop(slot);
            let _ = done.send(value);
        });
        self.jobs.try_send(job).map_err(|_| HashingBusy)?;
        result.await.map_err(|_| HashingBusy)
    }
}

fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let outcome = ThreadPriorityValue::try_from(HASHING_PRIORITY)
        .map_err(|e| format!("{e:?}"))
        .and_then(|value| {
            thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|e| format!("{e:?}"))
        });
    if let Err(error) = outcome {
        tracing::warn!(%error, "hashing threads run at normal priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The niceness of the calling thread, from procfs.
    #[cfg(target_os = "linux")]
    fn own_niceness() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("procfs");
        // Fields after the parenthesised command name; nice is field 19.
        let after_name = stat.rsplit_once(')').expect("stat format").1;
        after_name
            .split_whitespace()
            .nth(16)
            .expect("nice")
            .parse()
            .expect("number")
    }

    #[tokio::test]
    async fn the_hashing_pool_runs_work_at_lower_priority_and_refuses_when_full() {
        let pool = HashingPool::start(1, std::time::Duration::from_millis(20)).expect("pool");
        #[cfg(target_os = "linux")]
        {
            let niceness = pool.run(own_niceness).await.expect("ran");
            assert!(niceness >= 10, "hashing runs at nice {niceness}");
        }
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let pool = std::sync::Arc::new(pool);
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || blocked.recv().ok()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            pool.run(|| 1).await,
            Err(HashingBusy),
            "the only thread is busy"
        );
        release.send(()).expect("released");
        assert_eq!(busy.await.expect("task"), Ok(Some(())));
        assert_eq!(pool.run(|| 2).await, Ok(2), "free again");
    }
}
