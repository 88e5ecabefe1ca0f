//! One timer per connection for everything time-based: keepalive pings, the idle timeout, the
//! close timeout, read and write deadlines, and the write-stall timeout.
//!
//! A single [`Sleep`], armed for the earliest of those deadlines, is polled only when the
//! connection would otherwise wait. Reads record the time (one vDSO clock read per read
//! syscall); the timer is re-armed only when it fires, never per message.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep, sleep_until};

/// The time-based settings of a connection (copied from [`Config`](crate::Config)).
#[derive(Debug, Clone, Copy)]
pub(super) struct TimerConfig {
    pub(super) ping_interval: Option<Duration>,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) write_timeout: Option<Duration>,
    pub(super) close_timeout: Duration,
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
}

/// What the connection is waiting for when it polls its timer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Wait {
    /// A read (`recv`); `writing` if queued bytes are stuck as well.
    Read { writing: bool },
    /// A send or flush.
    Write,
}

#[derive(Debug)]
pub(super) struct Timers {
    config: TimerConfig,
    sleep: Option<Pin<Box<Sleep>>>,
    /// When bytes last arrived (or the connection started).
    last_seen: Instant,
    /// When we last sent a keepalive ping.
    last_ping: Instant,
    /// The next keepalive check.
    next_tick: Option<Instant>,
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    /// Since when writes have been stuck (queued bytes, socket not writable).
    write_stalled_since: Option<Instant>,
    close_sent_at: Option<Instant>,
}

impl Timers {
    pub(super) fn new(config: TimerConfig) -> Self {
        let now = Instant::now();
        let mut timers = Self {
            config,
            sleep: None,
            last_seen: now,
            last_ping: now,
            next_tick: None,
            read_deadline: None,
            write_deadline: None,
            write_stalled_since: None,
            close_sent_at: None,
        };
        timers.next_tick = timers.next_check();
        timers
    }

    /// When the keepalive next needs a look: the next ping or the idle deadline, as of the
    /// last activity (the timer re-checks then, so activity since only postpones it).
    fn next_check(&self) -> Option<Instant> {
        let ping = self
            .config
            .ping_interval
            .map(|interval| self.last_seen.max(self.last_ping) + interval);
        let idle = self.config.idle_timeout.map(|idle| self.last_seen + idle);
        earliest(ping, idle)
    }

    /// Bytes arrived.
    #[inline]
    pub(super) fn activity(&mut self) {
        if self.next_tick.is_some() {
            self.last_seen = Instant::now();
        }
    }

    pub(super) fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.read_deadline = deadline;
    }

    pub(super) fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.write_deadline = deadline;
    }

    pub(super) fn close_sent(&mut self) {
        if self.close_sent_at.is_none() {
            self.close_sent_at = Some(Instant::now());
        }
    }

    /// A write could not complete now.
    pub(super) fn write_stalled(&mut self) {
        if self.write_stalled_since.is_none() && self.config.write_timeout.is_some() {
            self.write_stalled_since = Some(Instant::now());
        }
    }

    /// Everything queued was written.
    #[inline]
    pub(super) fn write_done(&mut self) {
        self.write_stalled_since = None;
    }

    fn write_due(&self) -> Option<Instant> {
        let stall = self
            .write_stalled_since
            .zip(self.config.write_timeout)
            .map(|(since, timeout)| since + timeout);
        earliest(stall, self.write_deadline)
    }

    /// Polls for the next due event while the connection waits. With `Wait::Write` (a send
    /// or flush is stuck) only the write timeout and deadline count; with `Wait::Read` the
    /// rest do, and the write ones too if `writing` (queued bytes are stuck as well).
    pub(super) fn poll_due(&mut self, cx: &mut Context<'_>, wait: Wait) -> Poll<Due> {
        loop {
            let (reading, writing) = match wait {
                Wait::Read { writing } => (true, writing),
                Wait::Write => (false, true),
            };
            let close_due = self
                .close_sent_at
                .filter(|_| reading)
                .map(|at| at + self.config.close_timeout);
            let write_due = if writing { self.write_due() } else { None };
            let (tick, read_deadline) = if reading {
                (self.next_tick, self.read_deadline)
            } else {
                (None, None)
            };
            let next = [tick, read_deadline, write_due, close_due]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else {
                return Poll::Pending;
            };
            let sleep = match &mut self.sleep {
                Some(sleep) => {
                    if sleep.deadline() != next {
                        sleep.as_mut().reset(next);
                    }
                    sleep
                }
                none => none.insert(Box::pin(sleep_until(next))),
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            if close_due.is_some_and(|due| due <= now) {
                return Poll::Ready(Due::Close);
            }
            if write_due.is_some_and(|due| due <= now) {
                return Poll::Ready(Due::Write);
            }
            if read_deadline.is_some_and(|due| due <= now) {
                self.read_deadline = None;
                return Poll::Ready(Due::ReadDeadline);
            }
            if tick.is_some_and(|due| due <= now) {
                if let Some(due) = self.tick(now) {
                    return Poll::Ready(due);
                }
            }
        }
    }

    /// A keepalive check: idle too long, or time for a ping?
    fn tick(&mut self, now: Instant) -> Option<Due> {
        if self
            .config
            .idle_timeout
            .is_some_and(|idle| self.last_seen + idle <= now)
        {
            self.next_tick = None;
            return Some(Due::Idle);
        }
        let ping_due = self
            .config
            .ping_interval
            .is_some_and(|interval| self.last_seen.max(self.last_ping) + interval <= now);
        if ping_due {
            self.last_ping = now;
        }
        self.next_tick = self.next_check();
        ping_due.then_some(Due::Ping)
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
