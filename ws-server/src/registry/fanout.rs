//! Who a delivery goes to: per shard, the addresses of the connections of an audience,
//! written into buffers the caller keeps, so that a broadcast allocates nothing once they
//! have grown to the audience's size.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::RwLock;

use super::{ConnEntry, Registry};
use crate::id::Target;
use crate::sync::read;
use crate::{Audience, ConnId, Scope};

/// A delivery's recipients, per shard (reused from one delivery to the next).
#[derive(Debug, Default)]
pub(crate) struct Fanout {
    /// Per shard, the connections to deliver to.
    pub(crate) per_shard: Vec<Vec<Target>>,
    /// Per shard, the members of the audience's index, before they are looked up.
    ids: Vec<Vec<ConnId>>,
    /// Some recipient agreed permessage-deflate.
    pub(crate) deflate: bool,
}

impl Fanout {
    /// How many recipients.
    pub(crate) fn len(&self) -> usize {
        self.per_shard.iter().map(Vec::len).sum()
    }

    fn reset(&mut self, shards: usize) {
        self.per_shard.resize_with(shards, Vec::new);
        self.per_shard.iter_mut().for_each(Vec::clear);
        self.ids.resize_with(shards, Vec::new);
        self.ids.iter_mut().for_each(Vec::clear);
        self.deflate = false;
    }
}

impl Registry {
    /// Writes into `out` the connections of `to` that are not gone. Each lock is taken on
    /// its own: the audience's index once (its members copied out by shard), then each
    /// shard's directory once.
    pub(crate) fn fanout(&self, to: Audience<'_>, out: &mut Fanout) {
        out.reset(self.dirs.len());
        let (except, except_sessions) = (to.excluded(), to.excluded_sessions());
        let Fanout {
            per_shard,
            ids,
            deflate,
        } = out;
        let mut take = |e: &ConnEntry| {
            if !e.is_gone() && !except.contains(&e.id) && !e.has_session_in(except_sessions) {
                *deflate |= e.deflate();
                per_shard[e.id.shard()].push(e.target());
            }
        };
        fn members<K: Borrow<str> + Hash + Eq>(
            index: &RwLock<HashMap<K, HashSet<ConnId>>>,
            key: &str,
            by_shard: &mut [Vec<ConnId>],
        ) {
            if let Some(members) = read(index).get(key) {
                for id in members {
                    if let Some(list) = by_shard.get_mut(id.shard()) {
                        list.push(*id);
                    }
                }
            }
        }
        match to.scope() {
            Scope::All => {
                for dir in &self.dirs {
                    read(dir).iter().flatten().for_each(|e| take(e));
                }
                return;
            }
            Scope::Path(p) => members(&self.paths, p, ids),
            Scope::Room(r) => members(&self.rooms, r, ids),
            Scope::User(u) => members(&self.users, u, ids),
        }
        for (dir, ids) in self.dirs.iter().zip(ids.iter()) {
            if ids.is_empty() {
                continue;
            }
            let dir = read(dir);
            for id in ids {
                let entry = dir
                    .get(id.slot() as usize)
                    .and_then(Option::as_ref)
                    .filter(|e| e.id == *id);
                if let Some(e) = entry {
                    take(e);
                }
            }
        }
    }
}
