//! The mega ws-cluster: broadcasts, direct messages and the presence roster on
//! `<prefix>.<app>.bcast|direct|roster`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use oyez_envelope::mega::{Broadcast, Direct, Member, Roster, RosterOp, Subjects};
use tokio::sync::{mpsc, watch};
use tracing::debug;

use super::PUBLISH_QUEUE;
use super::roster::RosterState;
use crate::stats::Dropped;
use crate::transport::{RECEIVE_QUEUE, Transport};
use crate::{Error, Stats};

/// Where the presence roster lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterDriver {
    /// Shared over the backplane (`nats` in the reference; it works the same over Redis).
    Nats,
    /// Local only: no roster traffic, `roster()` lists this instance's members.
    None,
}

/// The mega cluster's settings.
#[derive(Clone, Debug)]
pub struct MegaConfig {
    /// The app name (a subject token, used verbatim).
    pub app: String,
    /// The subject prefix (`None`: `mega.ws`).
    pub prefix: Option<String>,
    /// The roster driver (default [`RosterDriver::None`], as the reference).
    pub roster: RosterDriver,
    /// Remote members expire this long after their last refresh (default 30 s). Heartbeats go
    /// out every `ttl / 2`, at least every second.
    pub ttl: Duration,
}

impl MegaConfig {
    /// The reference's defaults for `app`: prefix `mega.ws`, roster `none`, ttl 30 s.
    pub fn new(app: &str) -> Self {
        Self {
            app: app.to_owned(),
            prefix: None,
            roster: RosterDriver::None,
            ttl: Duration::from_secs(30),
        }
    }

    /// The heartbeat interval: `max(1 s, ttl / 2)`.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.ttl / 2).max(Duration::from_secs(1))
    }
}

/// What other instances send us, for local delivery.
#[derive(Debug)]
pub enum MegaIncoming {
    /// Deliver to the local sockets in `ns` (minus the listed sessions).
    Broadcast(Broadcast),
    /// Deliver to the local sessions of `user_id`.
    Direct(Direct),
}

/// What [`MegaCluster::publish_bridged`] appends to the instance id `o` of a bridged copy:
/// the mark that tells another bridge it has the Tina4 copy of the same message (see
/// [`MegaCluster::is_bridged_copy`]). The reference treats `o` as opaque (WIRE-SPEC M1), so
/// a mega node delivers a bridged copy like any other broadcast.
pub const BRIDGED_SUFFIX: &str = "~tina4";

/// How many members the roster holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RosterSize {
    /// This instance's own members.
    pub local: usize,
    /// Every member this instance knows of, its own included (the cluster-wide view with
    /// [`RosterDriver::Nats`]; with [`RosterDriver::None`] only its own).
    pub total: usize,
}

/// The mega cluster manager. Echo suppression by instance id `o`; never re-publishes what it
/// receives; best-effort publishing (never waits, drops and counts on failure).
#[derive(Clone, Debug)]
pub struct MegaCluster {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    o: String,
    /// `o` with [`BRIDGED_SUFFIX`]: the `o` of our bridged copies.
    bridged_o: String,
    config: MegaConfig,
    subjects: Subjects,
    transport: Arc<dyn Transport>,
    publish_tx: mpsc::Sender<(String, Bytes)>,
    roster: Mutex<RosterState>,
    stopped: watch::Sender<bool>,
}

impl MegaCluster {
    /// Subscribes (bcast and direct, plus roster with [`RosterDriver::Nats`]), starts the
    /// heartbeat and sweep timers, and asks the peers for their rosters (`sync_request`, then
    /// our own, possibly empty, heartbeat).
    ///
    /// # Errors
    /// The transport refused the subscription.
    pub async fn start(
        transport: Arc<dyn Transport>,
        config: MegaConfig,
    ) -> Result<(Self, mpsc::Receiver<MegaIncoming>), Error> {
        let subjects = Subjects::new(config.prefix.as_deref(), &config.app);
        let mut channels = vec![subjects.bcast.clone(), subjects.direct.clone()];
        if config.roster == RosterDriver::Nats {
            channels.push(subjects.roster.clone());
        }
        let mut incoming = transport.subscribe(&channels).await?;
        let (publish_tx, mut publish_rx) = mpsc::channel::<(String, Bytes)>(PUBLISH_QUEUE);
        let (stopped, _) = watch::channel(false);
        let o = oyez_envelope::new_instance_id();
        let inner = Arc::new(Inner {
            bridged_o: format!("{o}{BRIDGED_SUFFIX}"),
            o,
            config,
            subjects,
            transport: transport.clone(),
            publish_tx,
            roster: Mutex::new(RosterState::default()),
            stopped,
        });
        let publisher = transport.clone();
        tokio::spawn(async move {
            while let Some((subject, bytes)) = publish_rx.recv().await {
                if let Err(e) = publisher.publish(&subject, bytes).await {
                    debug!(kind = publisher.kind(), error = %e, "mega publish dropped");
                }
            }
        });
        let (deliver_tx, deliver_rx) = mpsc::channel(RECEIVE_QUEUE);
        let receiver = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(msg) = incoming.recv().await {
                let Some(inner) = receiver.upgrade() else {
                    return;
                };
                if *inner.stopped.borrow() {
                    return;
                }
                if let Some(item) = inner.receive(&msg.channel, &msg.payload)
                    && deliver_tx.try_send(item).is_err()
                {
                    Stats::inc(&inner.transport.stats().receive_dropped);
                }
            }
        });
        let cluster = Self { inner };
        if cluster.inner.config.roster == RosterDriver::Nats {
            cluster.inner.send_roster(RosterOp::SyncRequest);
            cluster.inner.heartbeat();
            cluster.spawn_timers();
        }
        Ok((cluster, deliver_rx))
    }

    fn spawn_timers(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut stopped = self.inner.stopped.subscribe();
        let heartbeat = self.inner.config.heartbeat_interval();
        let sweep = self.inner.config.ttl;
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut beat = tokio::time::interval_at(start + heartbeat, heartbeat);
            let mut clean = tokio::time::interval_at(start + sweep, sweep);
            loop {
                tokio::select! {
                    _ = beat.tick() => {}
                    _ = clean.tick() => {
                        let Some(inner) = weak.upgrade() else { return };
                        let gone = inner.lock_roster().sweep(&inner.o, Instant::now());
                        if gone > 0 {
                            debug!(gone, "roster: expired remote members");
                        }
                        continue;
                    }
                    _ = stopped.wait_for(|s| *s) => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                inner.heartbeat();
            }
        });
    }

    /// This instance's id (`o`).
    pub fn instance_id(&self) -> &str {
        &self.inner.o
    }

    /// The subjects in use.
    pub fn subjects(&self) -> &Subjects {
        &self.inner.subjects
    }

    /// Publishes a namespace broadcast, as this instance (its `o` is set to
    /// [`MegaCluster::instance_id`]).
    pub fn publish_broadcast(&self, mut broadcast: Broadcast) {
        broadcast.o = Some(self.inner.o.clone());
        self.inner
            .send(&self.inner.subjects.bcast, broadcast.encode());
    }

    /// Publishes a bridged copy of a message that this instance also published on the Tina4
    /// cluster (a bridge's relay of one of its clients' messages): as
    /// [`MegaCluster::publish_broadcast`], with `o` set to the instance id followed by
    /// [`BRIDGED_SUFFIX`], so that a bridge on both clusters delivers the Tina4 copy only
    /// ([`MegaCluster::is_bridged_copy`]) while mega nodes deliver this one. Our own copies
    /// coming back are dropped as echoes, as any other.
    pub fn publish_bridged(&self, mut broadcast: Broadcast) {
        broadcast.o = Some(self.inner.bridged_o.clone());
        self.inner
            .send(&self.inner.subjects.bcast, broadcast.encode());
    }

    /// Whether `broadcast` is a bridged copy ([`MegaCluster::publish_bridged`]): a message
    /// its publisher also sent on the Tina4 cluster. A server on both clusters delivers the
    /// Tina4 envelope and skips this copy, so that its clients see the message once.
    pub fn is_bridged_copy(broadcast: &Broadcast) -> bool {
        broadcast
            .o
            .as_deref()
            .is_some_and(|o| o.ends_with(BRIDGED_SUFFIX))
    }

    /// Publishes a direct message for a user's sessions on the other instances, as this
    /// instance (its `o` is set to [`MegaCluster::instance_id`]).
    pub fn publish_direct(&self, mut direct: Direct) {
        direct.o = Some(self.inner.o.clone());
        self.inner
            .send(&self.inner.subjects.direct, direct.encode());
    }

    /// A local session joined: recorded, and announced (`add`) with the roster on.
    ///
    /// Every roster message is queued while the roster's lock is held, so that the peers get
    /// them in the order of the changes: a heartbeat taken before a leave can never follow
    /// the leave's `remove` (which would bring the member back on the peers until its ttl).
    pub fn join(&self, member: Member) {
        let now = Instant::now();
        let mut roster = self.inner.lock_roster();
        roster.join(&self.inner.o, member.clone(), now, self.inner.config.ttl);
        if self.inner.config.roster == RosterDriver::Nats {
            self.inner.send_roster(RosterOp::Add(member));
        }
    }

    /// A session left: forgotten, and if it was ours, announced (`remove`), in order with
    /// the other roster messages (see [`MegaCluster::join`]).
    pub fn leave(&self, session_id: &str) {
        let mut roster = self.inner.lock_roster();
        let was_local = roster.leave(session_id);
        if was_local && self.inner.config.roster == RosterDriver::Nats {
            self.inner.send_roster(RosterOp::Remove {
                session_id: session_id.to_owned(),
            });
        }
    }

    /// The members of `ns`: cluster-wide with the roster on, else this instance's. Metadata
    /// appears only if it is truthy (`{}` stays; `null`, `false`, `0`, `""` go), as the
    /// reference returns it.
    pub fn roster(&self, ns: &str) -> Vec<Member> {
        let wide = self.inner.config.roster == RosterDriver::Nats;
        let mut members = self.inner.lock_roster().members(ns, wide);
        for m in &mut members {
            if m.metadata
                .as_deref()
                .is_some_and(|v| matches!(v.get(), "null" | "false" | "0" | "\"\"" | "-0" | "0.0"))
            {
                m.metadata = None;
            }
        }
        members
    }

    /// How many members the roster holds, ours and in all.
    pub fn roster_size(&self) -> RosterSize {
        let wide = self.inner.config.roster == RosterDriver::Nats;
        let (local, view) = self.inner.lock_roster().sizes();
        RosterSize {
            local,
            total: if wide { view } else { local },
        }
    }

    /// Graceful stop: one `remove` per local member, then no more traffic. (A crash sends
    /// nothing; peers drop our members after their TTL.)
    pub async fn stop(&self) {
        // Let what is already queued (e.g. removes for sessions that just closed) go out.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while self.inner.publish_tx.capacity() < PUBLISH_QUEUE
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.inner.config.roster == RosterDriver::Nats {
            let members = self.inner.lock_roster().local_members();
            for m in members {
                let r = Roster {
                    o: Some(self.inner.o.clone()),
                    op: RosterOp::Remove {
                        session_id: m.session_id,
                    },
                };
                // Directly, not through the queue: the removes must go out before we return.
                let _ = self
                    .inner
                    .transport
                    .publish(&self.inner.subjects.roster, Bytes::from(r.encode()))
                    .await;
            }
        }
        self.inner.stopped.send_replace(true);
    }

    /// The transport's counters.
    pub fn stats(&self) -> &Stats {
        self.inner.transport.stats()
    }
}

impl Inner {
    fn lock_roster(&self) -> std::sync::MutexGuard<'_, RosterState> {
        crate::lock(&self.roster)
    }

    fn send(&self, subject: &str, bytes: Vec<u8>) {
        let stats = self.transport.stats();
        if *self.stopped.borrow() {
            stats.drop_publish(Dropped::Refused);
        } else if self
            .publish_tx
            .try_send((subject.to_owned(), Bytes::from(bytes)))
            .is_err()
        {
            stats.drop_publish(Dropped::QueueFull);
        }
    }

    fn send_roster(&self, op: RosterOp) {
        let r = Roster {
            o: Some(self.o.clone()),
            op,
        };
        self.send(&self.subjects.roster, r.encode());
    }

    /// Our members, announced; queued under the roster's lock, so in order with the joins
    /// and leaves (see [`MegaCluster::join`]).
    fn heartbeat(&self) {
        let mut roster = self.lock_roster();
        roster.refresh_own(&self.o, Instant::now(), self.config.ttl);
        let members = roster.local_members();
        self.send_roster(RosterOp::Heartbeat(members));
    }

    /// The receive path for every subject. Returns what local delivery needs, if anything.
    fn receive(&self, subject: &str, payload: &[u8]) -> Option<MegaIncoming> {
        let stats = self.transport.stats();
        let malformed = |e: oyez_envelope::Error| {
            Stats::inc(&stats.malformed);
            debug!(subject, error = %e, "malformed mega envelope dropped");
        };
        let own = |o: &Option<String>| {
            let mine = o
                .as_deref()
                .is_some_and(|o| o == self.o || o == self.bridged_o);
            if mine {
                Stats::inc(&stats.echoes);
            }
            mine
        };
        if subject == self.subjects.bcast {
            match Broadcast::decode(payload) {
                Ok(b) if !own(&b.o) => return Some(MegaIncoming::Broadcast(b)),
                Ok(_) => {}
                Err(e) => malformed(e),
            }
        } else if subject == self.subjects.direct {
            match Direct::decode(payload) {
                Ok(d) if !own(&d.o) => return Some(MegaIncoming::Direct(d)),
                Ok(_) => {}
                Err(e) => malformed(e),
            }
        } else if subject == self.subjects.roster {
            match Roster::decode(payload) {
                Ok(r) => self.apply_roster(r),
                Err(e) => malformed(e),
            }
        }
        None
    }

    fn apply_roster(&self, r: Roster) {
        let from_self = r.o.as_deref() == Some(self.o.as_str());
        if from_self {
            Stats::inc(&self.transport.stats().echoes);
            return;
        }
        let from = r.o.unwrap_or_default();
        let (now, ttl) = (Instant::now(), self.config.ttl);
        match r.op {
            RosterOp::SyncRequest => self.heartbeat(),
            RosterOp::Add(member) => self.lock_roster().upsert(member, &from, now, ttl),
            RosterOp::Remove { session_id } => self.lock_roster().remove(&session_id),
            RosterOp::Heartbeat(members) => {
                let mut roster = self.lock_roster();
                for m in members {
                    roster.upsert(m, &from, now, ttl);
                }
            }
            _ => debug!("roster: unknown op ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::memory::MemoryHub;

    /// Heartbeats (from a timer or a peer's sync request, on another thread) and a
    /// session's joins and leaves reach the peers in the order of the changes: a heartbeat
    /// never lists a session after its `remove` (before its next `add`), which would bring
    /// it back on the peers until its ttl (the soak saw rosters settle only by expiry).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn roster_messages_keep_the_order_of_the_changes() {
        let hub = MemoryHub::new();
        let mut config = MegaConfig::new("order");
        config.roster = RosterDriver::Nats;
        config.ttl = Duration::from_secs(600);
        let (a, _incoming) = MegaCluster::start(Arc::new(hub.transport()), config)
            .await
            .unwrap();
        let tap = hub.transport();
        let mut rx = tap.subscribe(&[a.subjects().roster.clone()]).await.unwrap();
        // Members enough that a heartbeat takes a while to encode.
        for k in 0..100 {
            a.join(Member::new("/ns", &format!("filler-{k}"), "u", None));
        }
        let inner = a.inner.clone();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let beats = std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                inner.heartbeat();
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let (mut present, mut stale, mut beats_with) = (false, 0u32, 0u32);
        // By the bytes (cheap: heartbeats are long), as the encoder writes them.
        let mut check = |payload: &[u8]| {
            let text = std::str::from_utf8(payload).unwrap();
            let ours = text.contains(r#""sessionId":"s""#);
            if text.contains(r#""op":"add""#) && ours {
                present = true;
            } else if text.contains(r#""op":"remove""#) && ours {
                present = false;
            } else if text.contains(r#""op":"heartbeat""#) && ours {
                beats_with += 1;
                if !present {
                    stale += 1;
                }
            }
        };
        for i in 0..2000u32 {
            a.join(Member::new("/ns", "s", "u", None));
            // Present for a while (now and then), then gone: heartbeats fall on both sides.
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_micros(u64::from(i % 7) * 100) {
                std::hint::spin_loop();
            }
            a.leave("s");
            while let Ok(m) = rx.try_recv() {
                check(&m.payload);
            }
            tokio::task::yield_now().await;
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        beats.join().unwrap();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            check(&m.payload);
        }
        let stats = a.stats();
        assert_eq!(
            Stats::get(&stats.publish_dropped),
            0,
            "every message went out"
        );
        assert_eq!(Stats::get(&tap.stats().receive_dropped), 0, "and was seen");
        assert!(beats_with > 0, "some heartbeats listed the session");
        assert_eq!(
            stale, 0,
            "{stale} heartbeats listed the session after its remove"
        );
    }
}
