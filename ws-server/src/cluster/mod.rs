//! Clustering: the server's side of the Tina4 and mega cluster managers.
//!
//! Local delivery always happens first; then the message is published for the other
//! instances ([`Clusters::publish`]). What arrives from other instances ([`Incoming`]) is
//! delivered locally and never published again (no loops). How an audience maps to each
//! wire is in `wire`, one function each way.
//!
//! # The bridge
//!
//! A server in both clusters publishes a client's relayed message on both: the Tina4
//! envelope, and a mega `bcast` for the namespace that is the sender's path (a path
//! audience's own path). That mega copy is marked as bridged
//! ([`MegaCluster::publish_bridged`]: its `o` ends with
//! [`BRIDGED_SUFFIX`](oyez_backplane::BRIDGED_SUFFIX)), so that another server in both
//! clusters, which gets the Tina4 copy too, skips it ([`Clusters::is_bridged_copy`]) while
//! mega-only nodes deliver it. Nothing received is published again, so any number of
//! bridges make neither loops nor duplicates. The bridges are assumed to share both
//! clusters: a server that is on the mega cluster and on another Tina4 cluster than the
//! bridge's would skip the bridged copies and never get the Tina4 ones.

mod wire;

use std::sync::Arc;

use oyez_backplane::{MegaCluster, MegaConfig, MegaIncoming, Tina4Cluster, Transport};
use oyez_envelope::mega::{self, Channel, Member};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use wire::MegaOut;
pub(crate) use wire::{Relayed, from_mega, from_tina4};

use crate::registry::SessionInfo;
use crate::{Audience, Error, Message, Scope};

/// The clusters a server takes part in (either, both or none).
#[derive(Debug, Default)]
pub(crate) struct Clusters {
    tina4: Option<Tina4Cluster>,
    mega: Option<MegaCluster>,
}

/// What the builder was asked to join.
#[derive(Debug, Default)]
pub(crate) struct ClusterPlan {
    pub(crate) tina4: Option<Arc<dyn Transport>>,
    pub(crate) mega: Option<(Arc<dyn Transport>, MegaConfig)>,
}

/// The streams of what the other instances send.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) tina4: Option<mpsc::Receiver<oyez_envelope::tina4::Envelope>>,
    pub(crate) mega: Option<mpsc::Receiver<MegaIncoming>>,
}

impl ClusterPlan {
    /// Joins the clusters: subscribes, and starts the managers.
    pub(crate) async fn start(self) -> Result<(Clusters, Incoming), Error> {
        let mut clusters = Clusters::default();
        let mut incoming = Incoming {
            tina4: None,
            mega: None,
        };
        if let Some(t) = self.tina4 {
            let (c, rx) = Tina4Cluster::start(t).await?;
            clusters.tina4 = Some(c);
            incoming.tina4 = Some(rx);
        }
        if let Some((t, config)) = self.mega {
            let (c, rx) = MegaCluster::start(t, config).await?;
            clusters.mega = Some(c);
            incoming.mega = Some(rx);
        }
        Ok((clusters, incoming))
    }
}

impl Clusters {
    /// Publishes a local delivery for the other instances: to the Tina4 cluster whatever
    /// its wire can say (all, a path, a room); to the mega cluster a user's direct messages,
    /// a path's messages as a `bcast` for that namespace, and, given the namespace `ns` of
    /// the client whose message this is (a relay, [`crate::Conn::relay`]), an all or room
    /// message as a `bcast` for `ns`. Mega carries text only. A message that went out on
    /// both goes to mega as a bridged copy (see the module docs). Namespace broadcasts go
    /// to mega through [`Clusters::publish_ns`].
    pub(crate) fn publish(&self, to: Audience<'_>, msg: &Message, ns: Option<&str>) {
        let mut on_tina4 = false;
        if let Some(t) = &self.tina4
            && let Some(env) = wire::to_tina4(to, msg)
        {
            t.publish(env);
            on_tina4 = true;
        }
        let Some(m) = &self.mega else { return };
        let to = match (to.scope(), ns) {
            (Scope::User(_) | Scope::Path(_), _) => to,
            (Scope::All | Scope::Room(_), Some(ns)) => {
                Audience::path(ns).except_sessions(to.excluded_sessions())
            }
            (Scope::All | Scope::Room(_), None) => return,
        };
        match wire::to_mega(to, msg, Channel::Absent) {
            Some(MegaOut::Broadcast(b)) if on_tina4 => m.publish_bridged(b),
            out => publish_mega(m, out),
        }
    }

    /// Whether `item` is a bridged copy that this server skips: it is on the Tina4 cluster
    /// too, where the same message arrives (see the module docs).
    pub(crate) fn is_bridged_copy(&self, item: &MegaIncoming) -> bool {
        self.tina4.is_some()
            && matches!(item, MegaIncoming::Broadcast(b) if MegaCluster::is_bridged_copy(b))
    }

    /// The Tina4 cluster, if the server joined it.
    pub(crate) const fn tina4(&self) -> Option<&Tina4Cluster> {
        self.tina4.as_ref()
    }

    /// The mega cluster, if the server joined it.
    pub(crate) const fn mega(&self) -> Option<&MegaCluster> {
        self.mega.as_ref()
    }

    /// Publishes a mega namespace broadcast (`to` is a path) on `channel`. `msg` must be
    /// JSON text: anything else is not published.
    pub(crate) fn publish_ns(&self, to: Audience<'_>, msg: &Message, channel: Option<&str>) {
        let Some(m) = &self.mega else { return };
        if msg
            .as_text()
            .is_none_or(|t| serde_json::from_str::<&RawValue>(t).is_err())
        {
            return;
        }
        let channel = channel.map_or(Channel::Absent, |c| Channel::Name(c.to_owned()));
        publish_mega(m, wire::to_mega(to, msg, channel));
    }

    /// Announces a local session to the mega roster.
    pub(crate) fn join(&self, info: &SessionInfo) {
        if let Some(m) = &self.mega {
            let metadata = info
                .metadata
                .as_deref()
                .and_then(|j| RawValue::from_string(j.to_owned()).ok());
            m.join(Member::new(
                &info.ns,
                &info.session_id,
                &info.user_id,
                metadata,
            ));
        }
    }

    /// A local session ended.
    pub(crate) fn leave(&self, session_id: &str) {
        if let Some(m) = &self.mega {
            m.leave(session_id);
        }
    }

    /// The cluster-wide roster of `ns`, when the mega cluster is on.
    pub(crate) fn roster(&self, ns: &str) -> Option<Vec<SessionInfo>> {
        let m = self.mega.as_ref()?;
        Some(
            m.roster(ns)
                .into_iter()
                .map(|member| SessionInfo {
                    ns: member.ns,
                    user_id: mega::as_string(&member.user_id)
                        .unwrap_or_else(|| member.user_id.get().to_owned()),
                    session_id: member.session_id,
                    metadata: member.metadata.map(|m| m.get().to_owned()),
                })
                .collect(),
        )
    }

    /// Leaves the clusters on shutdown: the roster removes go out, then the transports close.
    pub(crate) async fn stop(&self) {
        if let Some(m) = &self.mega {
            m.stop().await;
        }
        if let Some(t) = &self.tina4 {
            t.transport().close().await;
        }
    }
}

fn publish_mega(m: &MegaCluster, out: Option<MegaOut>) {
    match out {
        Some(MegaOut::Broadcast(b)) => m.publish_broadcast(b),
        Some(MegaOut::Direct(d)) => m.publish_direct(d),
        None => {}
    }
}
