//! The presence roster's state, as a pure structure with time passed in (so its TTL rules are
//! unit-tested without waiting).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use oyez_envelope::mega::Member;

/// Local members and the cluster-wide view, keyed by session id (globally unique; the last
/// writer wins), each in insertion order.
#[derive(Debug, Default)]
pub(crate) struct RosterState {
    /// Our own members: session id → (insertion number, member).
    local: HashMap<String, (u64, Member)>,
    /// Everyone's: session id → entry.
    view: HashMap<String, ViewEntry>,
    seq: u64,
}

#[derive(Debug)]
struct ViewEntry {
    seq: u64,
    member: Member,
    instance: String,
    expires_at: Instant,
}

impl RosterState {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A local join: into `local` and the view (as ours).
    pub(crate) fn join(&mut self, own: &str, member: Member, now: Instant, ttl: Duration) {
        let seq = self.next_seq();
        self.local
            .insert(member.session_id.clone(), (seq, member.clone()));
        self.upsert(member, own, now, ttl);
    }

    /// A local leave. Returns whether the session was ours (only then is a `remove` sent).
    pub(crate) fn leave(&mut self, session_id: &str) -> bool {
        self.view.remove(session_id);
        self.local.remove(session_id).is_some()
    }

    /// A remote `add` or heartbeat entry: `instance` owns it until `now + ttl` (the
    /// receiver's ttl, as the reference does).
    pub(crate) fn upsert(&mut self, member: Member, instance: &str, now: Instant, ttl: Duration) {
        let seq = match self.view.get(&member.session_id) {
            Some(e) => e.seq,
            None => self.next_seq(),
        };
        self.view.insert(
            member.session_id.clone(),
            ViewEntry {
                seq,
                member,
                instance: instance.to_owned(),
                expires_at: now + ttl,
            },
        );
    }

    /// A remote `remove`: no ownership check (the reference's M6).
    pub(crate) fn remove(&mut self, session_id: &str) {
        self.view.remove(session_id);
    }

    /// Drops remote entries whose owner has not refreshed them in time; ours never expire.
    /// Returns how many went.
    pub(crate) fn sweep(&mut self, own: &str, now: Instant) -> usize {
        let before = self.view.len();
        self.view
            .retain(|_, e| e.instance == own || e.expires_at >= now);
        before - self.view.len()
    }

    /// Our members, in join order (for heartbeats and the graceful-stop removes).
    pub(crate) fn local_members(&self) -> Vec<Member> {
        let mut v: Vec<&(u64, Member)> = self.local.values().collect();
        v.sort_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, m)| m.clone()).collect()
    }

    /// Refreshes our own view entries (sending a heartbeat does this in the reference).
    pub(crate) fn refresh_own(&mut self, own: &str, now: Instant, ttl: Duration) {
        for e in self.view.values_mut().filter(|e| e.instance == own) {
            e.expires_at = now + ttl;
        }
    }

    /// How many members: ours, and in the view (ours included).
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.local.len(), self.view.len())
    }

    /// The members of `ns`, in insertion order: from the cluster-wide view, or only ours.
    pub(crate) fn members(&self, ns: &str, cluster_wide: bool) -> Vec<Member> {
        let mut out: Vec<(u64, &Member)> = if cluster_wide {
            self.view
                .values()
                .filter(|e| e.member.ns == ns)
                .map(|e| (e.seq, &e.member))
                .collect()
        } else {
            self.local
                .values()
                .filter(|(_, m)| m.ns == ns)
                .map(|(s, m)| (*s, m))
                .collect()
        };
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, m)| m.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(session: &str) -> Member {
        Member::new("/ns", session, "u", None)
    }

    #[test]
    fn ttl_rules() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(30);
        let mut r = RosterState::default();
        r.join("me", m("a"), t0, ttl);
        r.upsert(m("b"), "other", t0, ttl);
        assert_eq!(r.members("/ns", true).len(), 2);
        assert_eq!(r.members("/ns", false).len(), 1);
        assert_eq!(
            r.sweep("me", t0 + ttl),
            0,
            "expiry is strict: at the deadline it stays"
        );
        assert_eq!(r.sweep("me", t0 + ttl + Duration::from_millis(1)), 1);
        assert_eq!(
            r.members("/ns", true)
                .iter()
                .map(|m| m.session_id.as_str())
                .collect::<Vec<_>>(),
            ["a"],
            "ours never expire"
        );
        r.upsert(m("c"), "other", t0, ttl);
        r.remove("c");
        assert!(!r.leave("c"), "not ours");
        assert!(r.leave("a"));
        assert!(r.members("/ns", true).is_empty());
    }

    #[test]
    fn insertion_order_and_last_writer() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(1);
        let mut r = RosterState::default();
        for s in ["z", "y", "x"] {
            r.upsert(m(s), "i1", t0, ttl);
        }
        r.upsert(m("z"), "i2", t0, ttl);
        let order: Vec<String> = r
            .members("/ns", true)
            .into_iter()
            .map(|m| m.session_id)
            .collect();
        assert_eq!(order, ["z", "y", "x"]);
        assert_eq!(
            r.sweep("i2", t0 + Duration::from_secs(2)),
            2,
            "z now belongs to i2"
        );
    }
}
