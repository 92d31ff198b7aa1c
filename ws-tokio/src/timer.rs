//! The session's one timer, on tokio's clock, re-armed lazily.
//!
//! A session's next deadline moves later with every read (keepalive and idle count from the
//! last byte received); resetting a tokio timer per read would cost more than the read's
//! other work. So the timer stays armed at the earlier deadline and, when it fires early,
//! the session finds nothing due and the timer is armed again at the deadline of the time.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::time::Sleep;

/// A lazily armed sleep. Made only once a deadline exists, so that a WebSocket with no
/// timer configured never touches tokio's time driver until it closes.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    /// The instant the sleep is armed for; `None` once it fired (or before it is made).
    armed: Option<Instant>,
}

impl Timer {
    /// Ready once `deadline` (the session's [`oyez_frame::Session::poll_timeout`]) may have
    /// passed; the caller then runs the session's timers and polls again.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline else {
            return Poll::Pending;
        };
        let at = tokio::time::Instant::from_std(deadline);
        match (&mut self.sleep, self.armed) {
            // Armed early or on time: keep it.
            (Some(_), Some(armed)) if armed <= deadline => {}
            (Some(sleep), _) => {
                sleep.as_mut().reset(at);
                self.armed = Some(deadline);
            }
            (None, _) => {
                self.sleep = Some(Box::pin(tokio::time::sleep_until(at)));
                self.armed = Some(deadline);
            }
        }
        let sleep = self.sleep.as_mut().expect("made just above");
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Now, on tokio's clock (so that tests may pause and advance it), as the std `Instant` the
/// session takes.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
