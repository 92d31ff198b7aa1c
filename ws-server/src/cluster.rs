//! Clustering: the server's side of the Tina4 and mega cluster managers.
//!
//! Local delivery always happens first; then the message is published for the other
//! instances. What arrives from other instances is delivered locally and never published
//! again (no loops).

use std::sync::Arc;

use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tracing::debug;
use oyez_backplane::{MegaCluster, MegaConfig, MegaIncoming, Tina4Cluster, Transport};
use oyez_envelope::mega::{self, Member};
use oyez_envelope::tina4::{Envelope, Kind, Payload};

use crate::registry::{ConnId, Scope, SessionInfo};
use crate::{Error, Message, Server};

/// The clusters a server takes part in (either, both or none).
#[derive(Debug, Default)]
pub(crate) struct Clusters {
    pub(crate) tina4: Option<Tina4Cluster>,
    pub(crate) mega: Option<MegaCluster>,
}

/// What the builder was asked to join.
#[derive(Debug, Default)]
pub(crate) struct ClusterPlan {
    pub(crate) tina4: Option<Arc<dyn Transport>>,
    pub(crate) mega: Option<(Arc<dyn Transport>, MegaConfig)>,
}

/// Receivers of the started clusters, for [`spawn_relays`].
pub(crate) struct Incoming {
    tina4: Option<mpsc::Receiver<Envelope>>,
    mega: Option<mpsc::Receiver<MegaIncoming>>,
}

impl ClusterPlan {
    pub(crate) async fn start(self) -> Result<(Clusters, Incoming), Error> {
        let mut clusters = Clusters::default();
        let mut incoming = Incoming {
            tina4: None,
            mega: None,
        };
        if let Some(t) = self.tina4 {
            let (c, rx) = Tina4Cluster::start(t).await.map_err(backplane_error)?;
            clusters.tina4 = Some(c);
            incoming.tina4 = Some(rx);
        }
        if let Some((t, config)) = self.mega {
            let (c, rx) = MegaCluster::start(t, config)
                .await
                .map_err(backplane_error)?;
            clusters.mega = Some(c);
            incoming.mega = Some(rx);
        }
        Ok((clusters, incoming))
    }
}

fn backplane_error(e: oyez_backplane::Error) -> Error {
    Error::Io(std::io::Error::other(e))
}

/// Delivers what other instances send, until their streams end.
pub(crate) fn spawn_relays(server: &Server, incoming: Incoming) {
    if let Some(mut rx) = incoming.tina4 {
        let weak = Arc::downgrade(&server.inner);
        tokio::spawn(async move {
            while let Some(env) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                Server { inner }.deliver_tina4(&env);
            }
        });
    }
    if let Some(mut rx) = incoming.mega {
        let weak = Arc::downgrade(&server.inner);
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                Server { inner }.deliver_mega(item);
            }
        });
    }
}

impl Server {
    /// Publishes a local broadcast to the Tina4 cluster (after local delivery). `exclude`
    /// carries only the first id: the wire has room for one (WIRE-SPEC T1).
    pub(crate) fn publish_tina4(
        &self,
        kind: Kind,
        msg: &Message,
        room: Option<&str>,
        path: Option<&str>,
        exclude: &[ConnId],
    ) {
        let Some(t) = &self.inner.clusters.tina4 else {
            return;
        };
        let payload = match msg {
            Message::Text(text) => Payload::Text(text.as_str().to_owned()),
            Message::Binary(data) => Payload::Binary(data.to_vec()),
        };
        let exclude = exclude.first().map(ConnId::to_string);
        t.publish(kind, payload, room, path, exclude.as_deref());
    }

    /// Local delivery of another instance's Tina4 envelope (the reference's `relayLocal`).
    fn deliver_tina4(&self, env: &Envelope) {
        let scope = match env.kind {
            Kind::All => Some(Scope::All),
            Kind::Path => env
                .path
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(Scope::Path),
            Kind::Room => env
                .room
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(Scope::Room),
        };
        let exclude: Vec<ConnId> = env
            .exclude
            .as_deref()
            .and_then(|e| e.parse().ok())
            .into_iter()
            .collect();
        let msg = match &env.payload {
            Payload::Text(t) => Message::text(t.clone()),
            Payload::Binary(b) => Message::binary(b.clone()),
        };
        let n = scope.map_or(0, |scope| {
            self.deliver(&msg.to_frame(), scope, |e| !exclude.contains(&e.id))
        });
        debug!(
            delivered = n,
            kind = env.kind.as_str(),
            "relayed a tina4 envelope"
        );
    }

    fn deliver_mega(&self, item: MegaIncoming) {
        match item {
            MegaIncoming::Broadcast(b) => {
                let except = &b.except_session_ids;
                self.deliver(
                    &Message::text(b.message.get()).to_frame(),
                    Scope::Path(&b.ns),
                    |e| !e.has_session_in(except),
                );
            }
            MegaIncoming::Direct(d) => {
                if let Some(user) = mega::as_string(&d.user_id) {
                    self.deliver(
                        &Message::text(d.message.get()).to_frame(),
                        Scope::User(&user),
                        |_| true,
                    );
                }
            }
        }
    }

    /// Announces a local session to the mega roster.
    pub(crate) fn mega_join(&self, info: &SessionInfo) {
        if let Some(m) = &self.inner.clusters.mega {
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
    pub(crate) fn mega_leave(&self, session_id: &str) {
        if let Some(m) = &self.inner.clusters.mega {
            m.leave(session_id);
        }
    }

    /// Sends a direct message to the user's sessions on the other instances: a text that is
    /// JSON goes as that JSON; other text goes as a JSON string; binary is not relayed.
    pub(crate) fn publish_direct(&self, user_id: &str, msg: &Message) {
        let (Some(m), Some(text)) = (&self.inner.clusters.mega, msg.as_text()) else {
            return;
        };
        let raw = RawValue::from_string(text.to_owned()).unwrap_or_else(|_| mega::raw_string(text));
        m.publish_direct(user_id, raw);
    }

    /// The cluster-wide roster of `ns`, when the mega cluster is on.
    pub(crate) fn mega_roster(&self, ns: &str) -> Option<Vec<SessionInfo>> {
        let m = self.inner.clusters.mega.as_ref()?;
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
    pub(crate) async fn leave_clusters(&self) {
        if let Some(m) = &self.inner.clusters.mega {
            m.stop().await;
        }
        if let Some(t) = &self.inner.clusters.tina4 {
            t.transport().close().await;
        }
    }
}
