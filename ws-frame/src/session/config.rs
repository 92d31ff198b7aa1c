//! Session configuration.

use core::time::Duration;

use crate::Limits;

/// How a [`crate::Session`] behaves: limits, automatic pongs, and its timers.
///
/// Every timer is off or generous by default; all times are measured with the `Instant`s the
/// caller passes in.
///
/// ```
/// use std::time::Duration;
/// use ws_frame::session::Config;
/// let config = Config::default()
///     .with_keepalive(Some(Duration::from_secs(20)))
///     .with_idle_timeout(Some(Duration::from_secs(60)));
/// assert!(config.auto_pong());
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    limits: Limits,
    auto_pong: bool,
    keepalive: Option<Duration>,
    pong_timeout: Duration,
    idle_timeout: Option<Duration>,
    close_timeout: Duration,
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
        self.auto_pong
    }

    /// After this long without receiving anything, send a ping (default: off).
    pub const fn keepalive(&self) -> Option<Duration> {
        self.keepalive
    }

    /// How long a keepalive ping may go without any reply before the connection is
    /// declared dead (default 10 s).
    pub const fn pong_timeout(&self) -> Duration {
        self.pong_timeout
    }

    /// After this long without receiving anything, close with 1001 "idle timeout" (default:
    /// off). Keepalive pongs count as traffic, so keepalive shorter than this keeps a live
    /// but quiet peer open.
    pub const fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// After sending a close frame, how long to wait for the peer's (default 5 s).
    pub const fn close_timeout(&self) -> Duration {
        self.close_timeout
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
        self.auto_pong = on;
        self
    }

    /// Sets [`Config::keepalive`].
    #[must_use]
    pub const fn with_keepalive(mut self, interval: Option<Duration>) -> Self {
        self.keepalive = interval;
        self
    }

    /// Sets [`Config::pong_timeout`].
    #[must_use]
    pub const fn with_pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }

    /// Sets [`Config::idle_timeout`].
    #[must_use]
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`Config::close_timeout`].
    #[must_use]
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            auto_pong: true,
            keepalive: None,
            pong_timeout: Self::DEFAULT_PONG_TIMEOUT,
            idle_timeout: None,
            close_timeout: Self::DEFAULT_CLOSE_TIMEOUT,
        }
    }
}
