//! Limits at the door, per client address: connections open at once, and upgrades in any
//! one second ([`crate::ServerConfig::max_connections_per_ip`],
//! [`crate::ServerConfig::max_upgrades_per_sec`]). Over either, the upgrade gets 429.
//!
//! An address is the TCP peer's IP (all of it, for IPv6 too). Loopback peers are exempt
//! unless [`crate::ServerConfig::limit_loopback`] is set: behind a proxy on the same host,
//! every client is 127.0.0.1. The upgrade rate is a sliding window: at most M upgrades whose
//! start lies within the last second (refused attempts do not count), so it recovers a
//! second after a burst. The map keeps only addresses with an open connection or an upgrade
//! in the last second, swept as it grows.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::lock;

/// The window the upgrade rate is counted over.
const WINDOW: Duration = Duration::from_secs(1);

/// Why the door refused an upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address has its most connections open.
    Connections,
    /// The address made its most upgrades in the last second.
    Rate,
}

/// The per-address limits and what they count.
#[derive(Debug)]
pub(crate) struct Door {
    per_ip: Option<usize>,
    rate: Option<usize>,
    loopback: bool,
    map: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    by_ip: HashMap<IpAddr, Entry>,
    /// The map's size after the last sweep, and its time: the next sweep comes when the
    /// map has doubled or a window has passed (and it holds 1,024 addresses or more).
    swept_at: usize,
    swept: Option<Instant>,
}

#[derive(Debug, Default)]
struct Entry {
    /// Connections open (counted only with a per-address connection limit).
    live: usize,
    /// Start times of the upgrades in the window (only with a rate limit), oldest first.
    recent: VecDeque<Instant>,
}

impl Entry {
    fn forget_before(&mut self, cutoff: Option<Instant>) {
        while self
            .recent
            .front()
            .is_some_and(|t| cutoff.is_some_and(|c| *t <= c))
        {
            self.recent.pop_front();
        }
    }

    fn is_idle(&self) -> bool {
        self.live == 0 && self.recent.is_empty()
    }
}

/// A connection let in: it counts against its address until [`Pass::keep`] hands the count
/// to the connection (released by [`Door::leave`] when it ends), or until it is dropped.
#[must_use]
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    door: &'a Door,
    ip: Option<IpAddr>,
}

impl Pass<'_> {
    /// The connection was handed on: [`Door::leave`] releases it when it ends.
    pub(crate) fn keep(mut self) {
        self.ip = None;
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            self.door.leave(ip);
        }
    }
}

impl Door {
    /// At most `per_ip` connections and `rate` upgrades a second per address (`None`: no
    /// limit; loopback exempt unless `loopback`).
    pub(crate) fn new(per_ip: Option<usize>, rate: Option<u32>, loopback: bool) -> Self {
        Self {
            per_ip: per_ip.filter(|n| *n > 0),
            rate: rate.filter(|n| *n > 0).map(|n| n as usize),
            loopback,
            map: Mutex::default(),
        }
    }

    fn applies(&self, ip: IpAddr) -> bool {
        (self.per_ip.is_some() || self.rate.is_some())
            && (self.loopback || !ip.to_canonical().is_loopback())
    }

    /// Lets an upgrade from `ip` in, or says which limit it is over.
    pub(crate) fn enter(&self, ip: IpAddr, now: Instant) -> Result<Pass<'_>, Refusal> {
        let ip = ip.to_canonical();
        if !self.applies(ip) {
            return Ok(Pass {
                door: self,
                ip: None,
            });
        }
        let cutoff = now.checked_sub(WINDOW);
        let mut counts = lock(&self.map);
        let due = counts.by_ip.len() >= counts.swept_at * 2
            || counts
                .swept
                .is_none_or(|t| now.saturating_duration_since(t) >= WINDOW);
        if counts.by_ip.len() >= 1024 && due {
            counts.by_ip.retain(|_, e| {
                e.forget_before(cutoff);
                !e.is_idle()
            });
            counts.swept_at = counts.by_ip.len();
            counts.swept = Some(now);
        }
        let entry = counts.by_ip.entry(ip).or_default();
        entry.forget_before(cutoff);
        let refused = if self.rate.is_some_and(|m| entry.recent.len() >= m) {
            Some(Refusal::Rate)
        } else if self.per_ip.is_some_and(|n| entry.live >= n) {
            Some(Refusal::Connections)
        } else {
            None
        };
        if let Some(r) = refused {
            if entry.is_idle() {
                counts.by_ip.remove(&ip);
            }
            return Err(r);
        }
        if self.rate.is_some() {
            entry.recent.push_back(now);
        }
        if self.per_ip.is_some() {
            entry.live += 1;
        }
        Ok(Pass {
            door: self,
            ip: self.per_ip.map(|_| ip),
        })
    }

    /// A connection from `ip` that the door let in has ended.
    pub(crate) fn leave(&self, ip: IpAddr) {
        let ip = ip.to_canonical();
        if self.per_ip.is_none() || !self.applies(ip) {
            return;
        }
        let mut counts = lock(&self.map);
        if let Some(e) = counts.by_ip.get_mut(&ip) {
            e.live = e.live.saturating_sub(1);
            if e.live == 0 {
                e.forget_before(Instant::now().checked_sub(WINDOW));
                if e.is_idle() {
                    counts.by_ip.remove(&ip);
                }
            }
        }
    }

    /// How many addresses are tracked (for tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        lock(&self.map).by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn connections_per_address_and_their_release() {
        let door = Door::new(Some(2), None, false);
        let now = Instant::now();
        door.enter(A, now).unwrap().keep();
        door.enter(A, now).unwrap().keep();
        assert_eq!(door.enter(A, now).unwrap_err(), Refusal::Connections);
        door.enter(B, now).unwrap().keep();
        door.leave(A);
        door.enter(A, now).unwrap().keep();
        // A pass dropped before it was kept gives its place back.
        door.leave(A);
        drop(door.enter(A, now).unwrap());
        door.enter(A, now).unwrap().keep();
        door.leave(A);
        door.leave(A);
        door.leave(B);
        assert_eq!(door.tracked(), 0);
    }

    #[test]
    fn upgrades_per_second_is_a_sliding_window() {
        let door = Door::new(None, Some(3), false);
        let t0 = Instant::now();
        for i in 0..3 {
            let _ = door.enter(A, t0 + Duration::from_millis(i * 100)).unwrap();
        }
        assert_eq!(
            door.enter(A, t0 + Duration::from_millis(900)).unwrap_err(),
            Refusal::Rate
        );
        assert!(door.enter(B, t0).is_ok());
        // One second after the first, one place is free again; refused tries did not count.
        let _ = door.enter(A, t0 + Duration::from_millis(1001)).unwrap();
        assert!(door.enter(A, t0 + Duration::from_millis(1002)).is_err());
        let _ = door.enter(A, t0 + Duration::from_millis(1201)).unwrap();
    }

    #[test]
    fn loopback_is_exempt_unless_asked() {
        let lo = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let door = Door::new(Some(1), Some(1), false);
        let now = Instant::now();
        for _ in 0..5 {
            door.enter(lo, now).unwrap().keep();
            door.enter(mapped, now).unwrap().keep();
        }
        door.leave(lo);
        assert_eq!(door.tracked(), 0);
        let strict = Door::new(Some(1), None, true);
        strict.enter(mapped, now).unwrap().keep();
        assert_eq!(strict.enter(lo, now).unwrap_err(), Refusal::Connections);
        strict.leave(lo);
        assert!(strict.enter(lo, now).is_ok());
    }

    #[test]
    fn off_by_default_and_swept() {
        let off = Door::new(None, Some(0), true);
        for _ in 0..10 {
            off.enter(A, Instant::now()).unwrap().keep();
        }
        assert_eq!(off.tracked(), 0);
        let door = Door::new(None, Some(5), false);
        let t0 = Instant::now();
        for i in 0..3000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = door.enter(ip, t0).unwrap();
        }
        let _ = door.enter(A, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(door.tracked(), 1, "the stale addresses are swept");
    }
}
