//! Session configuration.

use core::time::Duration;

use crate::Limits;

/// How a [`crate::Session`] behaves: limits, automatic pongs, and its timers.
///
/// Every timer is off or generous by default; all times are measured with the `Instant`s the
/// caller passes in. Times are kept in whole milliseconds (rounded up) and at most about 49
/// days, so that the configuration every session carries stays small.
///
/// ```
/// use std::time::Duration;
/// use oyez_frame::session::Config;
/// let config = Config::default()
///     .with_keepalive(Some(Duration::from_secs(20)))
///     .with_idle_timeout(Some(Duration::from_secs(60)));
/// assert!(config.auto_pong());
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    limits: Limits,
    timers: Timers,
}

/// Everything in a [`Config`] but the limits: what a [`crate::Session`] keeps beside its
/// decoder (which holds the limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timers {
    auto_pong: bool,
    /// Milliseconds; [`OFF`] for none.
    keepalive: u32,
    pong_timeout: u32,
    /// Milliseconds; [`OFF`] for none.
    idle_timeout: u32,
    close_timeout: u32,
}

/// The stored value of a timer that is off.
const OFF: u32 = u32::MAX;

/// A duration as stored: whole milliseconds, rounded up, at most `OFF - 1`.
#[allow(clippy::cast_possible_truncation)] // guarded: `ms < OFF` on the cast's branch
const fn millis(d: Duration) -> u32 {
    let ms = d.as_millis()
        + if d.subsec_nanos().is_multiple_of(1_000_000) {
            0
        } else {
            1
        };
    if ms >= OFF as u128 {
        OFF - 1
    } else {
        ms as u32
    }
}

const fn optional_millis(d: Option<Duration>) -> u32 {
    match d {
        Some(d) => millis(d),
        None => OFF,
    }
}

const fn duration(ms: u32) -> Duration {
    Duration::from_millis(ms as u64)
}

const fn optional_duration(ms: u32) -> Option<Duration> {
    if ms == OFF { None } else { Some(duration(ms)) }
}

impl Timers {
    /// Whether an open session has a timer of its own (keepalive or the idle timeout); if
    /// not, only an outstanding deadline (none, without keepalive) can wake it.
    pub(crate) const fn any_while_open(&self) -> bool {
        self.keepalive != OFF || self.idle_timeout != OFF
    }
}

impl Config {
    /// Default [`Config::pong_timeout`]: 10 s.
    pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`Config::close_timeout`]: 5 s.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

    /// The decoding limits (see [`Limits`] for the defaults).
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a ping is answered with a pong automatically (default: yes). The
    /// [`crate::Event::Ping`] is reported either way.
    pub const fn auto_pong(&self) -> bool {
        self.timers.auto_pong
    }

    /// After this long without receiving anything, send a ping (default: off).
    pub const fn keepalive(&self) -> Option<Duration> {
        optional_duration(self.timers.keepalive)
    }

    /// How long a keepalive ping may go without any reply before the connection is
    /// declared dead (default 10 s).
    pub const fn pong_timeout(&self) -> Duration {
        duration(self.timers.pong_timeout)
    }

    /// After this long without receiving anything, close with 1001 "idle timeout" (default:
    /// off). Keepalive pongs count as traffic, so keepalive shorter than this keeps a live
    /// but quiet peer open.
    pub const fn idle_timeout(&self) -> Option<Duration> {
        optional_duration(self.timers.idle_timeout)
    }

    /// After sending a close frame, how long to wait for the peer's (default 5 s).
    pub const fn close_timeout(&self) -> Duration {
        duration(self.timers.close_timeout)
    }

    /// The configuration made of `limits` and `timers` (how a session gives its own back).
    pub(crate) const fn from_parts(limits: Limits, timers: Timers) -> Self {
        Self { limits, timers }
    }

    pub(crate) const fn timers(&self) -> Timers {
        self.timers
    }

    /// Sets [`Config::limits`].
    #[must_use]
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`Config::auto_pong`].
    #[must_use]
    pub const fn with_auto_pong(mut self, on: bool) -> Self {
        self.timers.auto_pong = on;
        self
    }

    /// Sets [`Config::keepalive`].
    #[must_use]
    pub const fn with_keepalive(mut self, interval: Option<Duration>) -> Self {
        self.timers.keepalive = optional_millis(interval);
        self
    }

    /// Sets [`Config::pong_timeout`].
    #[must_use]
    pub const fn with_pong_timeout(mut self, timeout: Duration) -> Self {
        self.timers.pong_timeout = millis(timeout);
        self
    }

    /// Sets [`Config::idle_timeout`].
    #[must_use]
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timers.idle_timeout = optional_millis(timeout);
        self
    }

    /// Sets [`Config::close_timeout`].
    #[must_use]
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.timers.close_timeout = millis(timeout);
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            timers: Timers {
                auto_pong: true,
                keepalive: OFF,
                pong_timeout: millis(Self::DEFAULT_PONG_TIMEOUT),
                idle_timeout: OFF,
                close_timeout: millis(Self::DEFAULT_CLOSE_TIMEOUT),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_up_to_milliseconds_and_saturate() {
        let c = Config::default()
            .with_keepalive(Some(Duration::from_micros(1500)))
            .with_idle_timeout(Some(Duration::from_secs(u64::MAX)))
            .with_pong_timeout(Duration::ZERO);
        assert_eq!(c.keepalive(), Some(Duration::from_millis(2)));
        assert_eq!(
            c.idle_timeout(),
            Some(Duration::from_millis(u64::from(OFF - 1)))
        );
        assert_eq!(c.pong_timeout(), Duration::ZERO);
        assert_eq!(c.close_timeout(), Config::DEFAULT_CLOSE_TIMEOUT);
        assert_eq!(Config::default().keepalive(), None);
        assert_eq!(
            c.with_keepalive(None).keepalive(),
            None,
            "a timer can be turned off again"
        );
    }
}
