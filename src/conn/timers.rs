//! One timer per connection for everything time-based: keepalive pings, the idle timeout, the
//! close timeout, the lingering close, read and write deadlines, and the write-stall timeout.
//!
//! A single [`Sleep`], armed for the earliest of those deadlines, is polled only when the
//! connection would otherwise wait. Reads record the time (one vDSO clock read per read
//! syscall); the timer is re-armed only when it fires, never per message.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep, sleep_until};

/// The time-based settings of a connection (copied from [`Config`](crate::Config)).
#[derive(Debug, Clone, Copy)]
pub(super) struct TimerConfig {
    pub(super) ping_interval: Option<Duration>,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) write_timeout: Option<Duration>,
    pub(super) close_timeout: Duration,
    pub(super) linger_quiet: Duration,
}

/// What came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// Nothing arrived for a ping interval: send a ping.
    Ping,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The read deadline passed.
    ReadDeadline,
    /// A write made no progress within the write timeout, or the write deadline passed.
    Write,
    /// We sent a Close frame and the peer did not answer within the close timeout.
    Close,
    /// Lingering after our Close, nothing arrived for the linger quiet time.
    Linger,
}

/// What the connection is waiting for when it polls its timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    /// A read (`recv`); `writing` if queued bytes are stuck as well.
    Read { writing: bool },
    /// A send or flush.
    Write,
    /// The closing phase (flush, shutdown, linger): like `Write`, and the linger quiet time.
    Closing,
}

/// A duration setting in milliseconds, 0 for none: 4 bytes instead of 16, since every idle
/// connection carries these.
#[derive(Debug, Clone, Copy)]
struct Millis(u32);

impl Millis {
    fn new(duration: Option<Duration>) -> Self {
        let ms = duration.map_or(0, |d| d.as_millis().clamp(1, u32::MAX.into()) as u32);
        Self(ms)
    }

    fn get(self) -> Option<Duration> {
        (self.0 != 0).then(|| Duration::from_millis(self.0.into()))
    }
}

#[derive(Debug)]
pub(super) struct Timers {
    ping_interval: Millis,
    idle_timeout: Millis,
    write_timeout: Millis,
    close_timeout: Millis,
    linger_quiet: Millis,
    /// Whether keepalive (pings or the idle timeout) is still running.
    keepalive: bool,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The task the armed timer will wake (it was polled with this waker).
    polled_with: Option<Waker>,
    /// What the armed timer was computed for; `None` when a deadline changed since (then
    /// it must be recomputed).
    armed_for: Option<Wait>,
    /// When bytes last arrived (or the connection started).
    last_seen: Instant,
    /// When we last sent a keepalive ping.
    last_ping: Instant,
    /// Deadlines most connections never use, allocated on first use.
    rare: Option<Box<Rare>>,
}

#[derive(Debug, Default)]
struct Rare {
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    /// Since when writes have been stuck (queued bytes, socket not writable).
    write_stalled_since: Option<Instant>,
    close_sent_at: Option<Instant>,
    /// While lingering: when the peer counts as quiet unless more arrives.
    linger_until: Option<Instant>,
}

impl Timers {
    pub(super) fn new(config: TimerConfig) -> Self {
        let now = Instant::now();
        Self {
            ping_interval: Millis::new(config.ping_interval),
            idle_timeout: Millis::new(config.idle_timeout),
            write_timeout: Millis::new(config.write_timeout),
            close_timeout: Millis::new(Some(config.close_timeout)),
            linger_quiet: Millis::new(Some(config.linger_quiet)),
            keepalive: config.ping_interval.is_some() || config.idle_timeout.is_some(),
            sleep: None,
            polled_with: None,
            armed_for: None,
            last_seen: now,
            last_ping: now,
            rare: None,
        }
    }

    /// For a deadline that may have moved earlier: the armed timer must be recomputed.
    fn rare(&mut self) -> &mut Rare {
        self.armed_for = None;
        self.rare.get_or_insert_default()
    }

    fn rare_get<T>(&self, field: impl Fn(&Rare) -> Option<T>) -> Option<T> {
        self.rare.as_deref().and_then(field)
    }

    /// When the keepalive next needs a look: the next ping or the idle deadline, as of the
    /// last activity (the timer re-checks then, so activity since only postpones it).
    fn next_check(&self) -> Option<Instant> {
        if !self.keepalive {
            return None;
        }
        let ping = (self.ping_interval.get())
            .map(|interval| self.last_seen.max(self.last_ping) + interval);
        let idle = self.idle_timeout.get().map(|idle| self.last_seen + idle);
        earliest(ping, idle)
    }

    /// Bytes arrived.
    #[inline]
    pub(super) fn activity(&mut self) {
        if self.keepalive {
            self.last_seen = Instant::now();
        }
    }

    pub(super) fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.rare().read_deadline = deadline;
    }

    pub(super) fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.rare().write_deadline = deadline;
    }

    pub(super) fn close_sent(&mut self) {
        let rare = self.rare();
        if rare.close_sent_at.is_none() {
            rare.close_sent_at = Some(Instant::now());
        }
    }

    /// Lingering: input arrived (or lingering starts), so the peer is not quiet yet.
    pub(super) fn linger_input(&mut self) {
        let quiet = self.linger_quiet.get().unwrap_or_default();
        self.rare().linger_until = Some(Instant::now() + quiet);
    }

    /// A write could not complete now.
    pub(super) fn write_stalled(&mut self) {
        if self.write_timeout.get().is_some() {
            let rare = self.rare();
            if rare.write_stalled_since.is_none() {
                rare.write_stalled_since = Some(Instant::now());
            }
        }
    }

    /// A write made progress.
    #[inline]
    pub(super) fn write_done(&mut self) {
        if let Some(rare) = &mut self.rare {
            rare.write_stalled_since = None;
        }
    }

    fn write_due(&self) -> Option<Instant> {
        let stall = self
            .rare_get(|r| r.write_stalled_since)
            .zip(self.write_timeout.get())
            .map(|(since, timeout)| since + timeout);
        earliest(stall, self.rare_get(|r| r.write_deadline))
    }

    /// The deadlines that count for `wait`. With `Wait::Write` (a send or flush is stuck) only
    /// the write timeout and deadline and the close timeout count; `Wait::Closing` adds the
    /// linger quiet time; with `Wait::Read` the rest do, and the write ones too if `writing`
    /// (queued bytes are stuck as well). The close timeout counts in every wait once our Close
    /// is queued.
    fn deadlines(&self, wait: Wait) -> Deadlines {
        let (reading, writing) = match wait {
            Wait::Read { writing } => (true, writing),
            Wait::Write | Wait::Closing => (false, true),
        };
        let close = self
            .rare_get(|r| r.close_sent_at)
            .zip(self.close_timeout.get())
            .map(|(at, timeout)| at + timeout);
        let linger = (wait == Wait::Closing)
            .then(|| self.rare_get(|r| r.linger_until))
            .flatten();
        let (tick, read) = if reading {
            (self.next_check(), self.rare_get(|r| r.read_deadline))
        } else {
            (None, None)
        };
        Deadlines {
            tick,
            read,
            write: if writing { self.write_due() } else { None },
            close,
            linger,
        }
    }

    /// Polls for the next due event while the connection waits; see
    /// [`deadlines`](Self::deadlines) for what counts.
    ///
    /// Unless the timer is already armed for this wait ([`is_armed`](Self::is_armed), the
    /// common case): compute the deadlines, arm the timer for the earliest
    /// ([`arm`](Self::arm)), and once it has fired, say what is due (an early wake-up, after
    /// activity moved the keepalive deadline later, goes round again).
    pub(super) fn poll_due(&mut self, cx: &mut Context<'_>, wait: Wait) -> Poll<Due> {
        if self.is_armed(cx, wait) {
            return Poll::Pending;
        }
        self.armed_for = None;
        loop {
            let deadlines = self.deadlines(wait);
            let Some(next) = deadlines.next() else {
                // Nothing to wait for (no keepalive, no deadline); an old timer may still be
                // armed, and may wake the task once for nothing.
                return Poll::Pending;
            };
            ready!(self.arm(cx, wait, next));
            if let Some(due) = self.due(&deadlines, Instant::now()) {
                return Poll::Ready(due);
            }
        }
    }

    /// The common case, once per wait of every message: armed for this kind of wait, for
    /// this task, no deadline moved earlier, not fired.
    #[inline]
    fn is_armed(&self, cx: &Context<'_>, wait: Wait) -> bool {
        self.armed_for == Some(wait)
            && self.sleep.as_ref().is_some_and(|sleep| !sleep.is_elapsed())
            && (self.polled_with.as_ref()).is_some_and(|waker| waker.will_wake(cx.waker()))
    }

    /// Arms the timer for `next` and polls it: `Ready` once it has fired.
    ///
    /// The timer is re-armed only when it must fire earlier, or has fired: activity moves the
    /// keepalive deadline later on every read, and an early wake-up (then re-armed) is far
    /// cheaper than a timer-wheel update per message.
    fn arm(&mut self, cx: &mut Context<'_>, wait: Wait, next: Instant) -> Poll<()> {
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() > next || sleep.is_elapsed() {
                    sleep.as_mut().reset(next);
                    self.polled_with = None;
                }
                sleep
            }
            none => {
                self.polled_with = None;
                none.insert(Box::pin(sleep_until(next)))
            }
        };
        // Armed and registered for this very task: nothing to do until it fires.
        if (self.polled_with.as_ref()).is_some_and(|waker| waker.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        if sleep.as_mut().poll(cx).is_pending() {
            self.polled_with = Some(cx.waker().clone());
            self.armed_for = Some(wait);
            return Poll::Pending;
        }
        self.polled_with = None;
        Poll::Ready(())
    }

    /// What is due by `now` among `deadlines`, most urgent first.
    fn due(&mut self, deadlines: &Deadlines, now: Instant) -> Option<Due> {
        let passed = |deadline: Option<Instant>| deadline.is_some_and(|due| due <= now);
        if passed(deadlines.close) {
            return Some(Due::Close);
        }
        if passed(deadlines.write) {
            return Some(Due::Write);
        }
        if passed(deadlines.linger) {
            return Some(Due::Linger);
        }
        if passed(deadlines.read) {
            self.rare().read_deadline = None;
            return Some(Due::ReadDeadline);
        }
        if passed(deadlines.tick) {
            return self.tick(now);
        }
        None
    }

    /// A keepalive check: idle too long, or time for a ping?
    fn tick(&mut self, now: Instant) -> Option<Due> {
        if (self.idle_timeout.get()).is_some_and(|idle| self.last_seen + idle <= now) {
            self.keepalive = false;
            return Some(Due::Idle);
        }
        let ping_due = (self.ping_interval.get())
            .is_some_and(|interval| self.last_seen.max(self.last_ping) + interval <= now);
        if ping_due {
            self.last_ping = now;
        }
        ping_due.then_some(Due::Ping)
    }
}

/// The deadlines one wait counts (see [`Timers::deadlines`]).
struct Deadlines {
    tick: Option<Instant>,
    read: Option<Instant>,
    write: Option<Instant>,
    close: Option<Instant>,
    linger: Option<Instant>,
}

impl Deadlines {
    fn next(&self) -> Option<Instant> {
        [self.tick, self.read, self.write, self.close, self.linger]
            .into_iter()
            .flatten()
            .min()
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
