//! Who is connected, and where: connections, paths, rooms and user sessions.
//!
//! Each shard writes only its own directory (its connections by slot); the indexes by path,
//! room and user are shared. Locks are held only for map operations, never across an await
//! and never one inside another.

mod entry;
mod fanout;
mod session;
mod sizes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub(crate) use entry::ConnEntry;
use entry::Membership;
pub(crate) use fanout::Fanout;
pub use session::SessionInfo;
pub(crate) use session::roster_json;

use crate::ConnId;
use crate::identity::Identity;
use crate::sync::{lock, read, write};

/// The indexes.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Per shard, its connections by slot; only that shard writes its directory.
    dirs: Vec<RwLock<Vec<Option<Arc<ConnEntry>>>>>,
    count: AtomicUsize,
    paths: RwLock<HashMap<Arc<str>, HashSet<ConnId>>>,
    rooms: RwLock<HashMap<String, HashSet<ConnId>>>,
    users: RwLock<HashMap<String, HashSet<ConnId>>>,
    next_tag: AtomicU64,
    tags: std::collections::hash_map::RandomState,
}

impl Registry {
    /// A registry for `shards` shards.
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            dirs: (0..shards).map(|_| RwLock::new(Vec::new())).collect(),
            count: AtomicUsize::new(0),
            paths: RwLock::default(),
            rooms: RwLock::default(),
            users: RwLock::default(),
            next_tag: AtomicU64::new(0),
            tags: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The id of the next connection in `slot` of `shard`: its random part is a randomly
    /// keyed hash of a counter, so unpredictable.
    pub(crate) fn new_id(&self, shard: u16, slot: u32) -> ConnId {
        use std::hash::BuildHasher;
        let n = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let [a, b, c, d, ..] = self.tags.hash_one(n).to_le_bytes();
        let tag = u32::from_le_bytes([a, b, c, d]);
        ConnId::new(shard, slot, tag)
    }

    /// `path`, shared with the connections already on it.
    pub(crate) fn intern_path(&self, path: &str) -> Arc<str> {
        read(&self.paths)
            .get_key_value(path)
            .map_or_else(|| Arc::from(path), |(k, _)| k.clone())
    }

    /// Adds a connection (called for its shard).
    pub(crate) fn insert(&self, entry: Arc<ConnEntry>) {
        write(&self.paths)
            .entry(entry.path.clone())
            .or_default()
            .insert(entry.id);
        let Some(dir) = self.dirs.get(entry.id.shard()) else {
            return;
        };
        let slot = entry.id.slot() as usize;
        let mut dir = write(dir);
        if dir.len() <= slot {
            dir.resize(slot + 1, None);
        }
        if dir[slot].replace(entry).is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes a connection from every index; returns its session, if it had one.
    pub(crate) fn remove(&self, id: ConnId) -> Option<SessionInfo> {
        let entry = {
            let mut dir = write(self.dirs.get(id.shard())?);
            let slot = dir.get_mut(id.slot() as usize)?;
            if slot.as_ref().is_none_or(|e| e.id != id) {
                return None;
            }
            slot.take()?
        };
        self.count.fetch_sub(1, Ordering::Relaxed);
        remove_from(&self.paths, &entry.path, id);
        let Membership { rooms, session, .. } = lock(&entry.membership)
            .take()
            .map(|m| *m)
            .unwrap_or_default();
        for room in rooms {
            remove_from(&self.rooms, &room, id);
        }
        let session = session.map(|b| *b);
        if let Some(s) = &session {
            remove_from(&self.users, &s.user_id, id);
        }
        session
    }

    pub(crate) fn get(&self, id: ConnId) -> Option<Arc<ConnEntry>> {
        read(self.dirs.get(id.shard())?)
            .get(id.slot() as usize)?
            .as_ref()
            .filter(|e| e.id == id)
            .cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn all(&self) -> Vec<Arc<ConnEntry>> {
        let mut out = Vec::with_capacity(self.len());
        for dir in &self.dirs {
            out.extend(read(dir).iter().flatten().cloned());
        }
        out
    }

    pub(crate) fn join_room(&self, id: ConnId, room: &str) -> bool {
        let Some(entry) = self.get(id) else {
            return false;
        };
        {
            let mut membership = lock(&entry.membership);
            let rooms = &mut membership.get_or_insert_with(Box::default).rooms;
            if !rooms.iter().any(|r| r == room) {
                rooms.push(room.to_owned());
            }
        }
        write(&self.rooms)
            .entry(room.to_owned())
            .or_default()
            .insert(id);
        true
    }

    pub(crate) fn leave_room(&self, id: ConnId, room: &str) -> bool {
        let Some(entry) = self.get(id) else {
            return false;
        };
        if let Some(m) = lock(&entry.membership).as_mut() {
            m.rooms.retain(|r| r != room);
        }
        remove_from(&self.rooms, room, id)
    }

    /// Gives a connection just registered the identity its upgrade decided: its user
    /// session, which [`Registry::join_session`] never replaces. Returns the session.
    pub(crate) fn identify(&self, entry: &ConnEntry, identity: Identity) -> SessionInfo {
        let info = SessionInfo {
            ns: entry.path.to_string(),
            session_id: identity.session_id.unwrap_or_else(|| self.new_session_id()),
            user_id: identity.user_id,
            metadata: identity.metadata,
        };
        {
            let mut membership = lock(&entry.membership);
            let m = membership.get_or_insert_with(Box::default);
            m.session = Some(Box::new(info.clone()));
            m.identified = true;
        }
        write(&self.users)
            .entry(info.user_id.clone())
            .or_default()
            .insert(entry.id);
        info
    }

    /// A session id no other instance makes: 128 bits of a randomly keyed hash.
    fn new_session_id(&self) -> String {
        use std::hash::BuildHasher;
        let n = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let (a, b) = (self.tags.hash_one((n, 0u8)), self.tags.hash_one((n, 1u8)));
        format!("{a:016x}{b:016x}")
    }

    /// Attaches a user session to a connection; returns the session it replaced, if any.
    /// `Err` (with `info` back): the connection is not here, or its session is the
    /// identity its upgrade gave, which stays.
    pub(crate) fn join_session(
        &self,
        id: ConnId,
        info: SessionInfo,
    ) -> Result<Option<SessionInfo>, SessionInfo> {
        let Some(entry) = self.get(id) else {
            return Err(info);
        };
        // An identity is given at registration, before anyone knows the connection's id:
        // once it is not there, it never comes.
        if lock(&entry.membership)
            .as_ref()
            .is_some_and(|m| m.identified)
        {
            return Err(info);
        }
        write(&self.users)
            .entry(info.user_id.clone())
            .or_default()
            .insert(id);
        let new_user = info.user_id.clone();
        let old = lock(&entry.membership)
            .get_or_insert_with(Box::default)
            .session
            .replace(Box::new(info))
            .map(|b| *b);
        if let Some(old) = &old
            && old.user_id != new_user
        {
            remove_from(&self.users, &old.user_id, id);
        }
        Ok(old)
    }

    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        self.all().iter().filter_map(|e| e.session()).collect()
    }
}

fn remove_from<K>(index: &RwLock<HashMap<K, HashSet<ConnId>>>, key: &str, id: ConnId) -> bool
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
{
    let mut map = write(index);
    let Some(set) = map.get_mut(key) else {
        return false;
    };
    let removed = set.remove(&id);
    if set.is_empty() {
        map.remove(key);
    }
    removed
}
