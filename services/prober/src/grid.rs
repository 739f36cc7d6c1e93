//! One kernel timer for the prober's time grid.
//!
//! Polls and heartbeats wait for points of a time grid. tokio's timer wheel
//! wakes the thread twice for a timer more than 64 ms away (once to move the
//! entry down a level, once at the deadline), and on a virtual machine a
//! wake-up costs more CPU than a probe's answer. The grid's sleeps therefore
//! share one `timerfd`, armed for the earliest deadline: the thread wakes
//! once per grid point, and every sleep due then completes in that wake-up.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[derive(Default)]
struct Waiting {
    next_id: u64,
    wakers: BTreeMap<(Instant, u64), Waker>,
    armed: Option<Instant>,
}

/// The grid's timer. Cheap to clone; its driver stops when `stop` does.
#[derive(Clone)]
pub(crate) struct Grid {
    fd: Option<Arc<AsyncFd<Fd>>>,
    waiting: Arc<Mutex<Waiting>>,
}

impl Grid {
    /// A grid timer on the current runtime; when no timerfd can be made,
    /// sleeps fall back to tokio's timer.
    // `AsyncFd::new` is deprecated for wrappers whose `as_raw_fd` could
    // change or close the descriptor; `Fd` owns its descriptor for its whole
    // life and always returns it (the safe constructor is all this crate,
    // which forbids unsafe code, may call).
    #[allow(deprecated)]
    pub(crate) fn start(stop: tokio_util::sync::CancellationToken) -> Self {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .ok()
        .and_then(|t| AsyncFd::new(Fd(t)).ok())
        .map(Arc::new);
        let grid = Self {
            fd,
            waiting: Arc::new(Mutex::new(Waiting::default())),
        };
        if grid.fd.is_some() {
            let driver = grid.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = driver.drive() => {}
                }
            });
        }
        grid
    }

    /// Completes at `deadline`.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> GridSleep {
        GridSleep {
            grid: self.clone(),
            deadline,
            id: None,
            fallback: None,
        }
    }

    async fn drive(&self) {
        let Some(fd) = self.fd.clone() else {
            return;
        };
        loop {
            let Ok(mut ready) = fd.readable().await else {
                return;
            };
            // Consume the expiration (non-blocking: EAGAIN when none).
            let _ = ready.get_inner().0.wait();
            ready.clear_ready();
            let now = Instant::now();
            let Ok(mut w) = self.waiting.lock() else {
                return;
            };
            let later = w
                .wakers
                .split_off(&(now + std::time::Duration::from_nanos(1), 0));
            let due = std::mem::replace(&mut w.wakers, later);
            w.armed = None;
            if let Some(&(next, _)) = w.wakers.keys().next() {
                self.arm(&mut w, next);
            }
            drop(w);
            for (_, waker) in due {
                waker.wake();
            }
        }
    }

    fn arm(&self, w: &mut Waiting, at: Instant) {
        let Some(fd) = &self.fd else {
            return;
        };
        let after = at
            .saturating_duration_since(Instant::now())
            .max(std::time::Duration::from_micros(1));
        if fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(TimeSpec::from_duration(after)),
                TimerSetTimeFlags::empty(),
            )
            .is_ok()
        {
            w.armed = Some(at);
        }
    }
}

/// A sleep on the grid's timer.
pub(crate) struct GridSleep {
    grid: Grid,
    deadline: Instant,
    id: Option<u64>,
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for GridSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let this = &mut *self;
        if this.grid.fd.is_none() {
            let sleep = this
                .fallback
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(this.deadline)));
            return sleep.as_mut().poll(cx);
        }
        let Ok(mut w) = this.grid.waiting.lock() else {
            return Poll::Ready(());
        };
        let id = *this.id.get_or_insert_with(|| {
            w.next_id += 1;
            w.next_id
        });
        w.wakers.insert((this.deadline, id), cx.waker().clone());
        if w.armed.is_none_or(|at| this.deadline < at) {
            this.grid.arm(&mut w, this.deadline);
        }
        Poll::Pending
    }
}

impl Drop for GridSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id
            && let Ok(mut w) = self.grid.waiting.lock()
        {
            w.wakers.remove(&(self.deadline, id));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn sleeps_end_at_their_deadlines_in_order() {
        let stop = tokio_util::sync::CancellationToken::new();
        let grid = Grid::start(stop.clone());
        assert!(grid.fd.is_some(), "a timerfd on Linux");
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for ms in [30u64, 10, 20, 10] {
            let (grid, order) = (grid.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let deadline = start + Duration::from_millis(ms);
                grid.sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "not before its deadline");
                order.lock().unwrap().push(ms);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![10, 10, 20, 30]);
        assert!(grid.waiting.lock().unwrap().wakers.is_empty());
        stop.cancel();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_sleep_leaves_nothing_behind_and_a_later_one_still_ends() {
        let stop = tokio_util::sync::CancellationToken::new();
        let grid = Grid::start(stop.clone());
        let soon = grid.sleep_until(Instant::now() + Duration::from_millis(5));
        let later = Instant::now() + Duration::from_millis(15);
        // Registered, then abandoned (as a worker woken another way does).
        assert!(
            tokio::time::timeout(Duration::from_millis(1), soon)
                .await
                .is_err()
        );
        assert!(grid.waiting.lock().unwrap().wakers.is_empty());
        grid.sleep_until(later).await;
        assert!(Instant::now() >= later);
        // A deadline already passed is ready at once.
        grid.sleep_until(Instant::now()).await;
        stop.cancel();
    }
}
