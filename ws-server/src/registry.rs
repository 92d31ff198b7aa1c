//! Who is connected, and where: connections, paths, rooms and user sessions.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A connection id: random, so that ids from different instances of a cluster rarely meet
/// (a Tina4 envelope's `exclude` is compared with every instance's ids). Shown as 16
/// lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl core::fmt::Display for ConnId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl core::str::FromStr for ConnId {
    type Err = core::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Self)
    }
}

/// A user session joined on a connection (the mega-style presence model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The namespace (the connection's path by default).
    pub ns: String,
    /// The user.
    pub user_id: String,
    /// The session id, unique across the cluster.
    pub session_id: String,
    /// Optional JSON metadata, as raw JSON text.
    pub metadata: Option<String>,
}

/// The shared side of one connection: who it is and where it is. Its socket, session and
/// outbound queue live on its shard ([`crate::shard`]), which is the only place they are
/// touched; everyone else reaches them through the shard's inbox.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub(crate) id: ConnId,
    pub(crate) path: String,
    pub(crate) query: Option<Box<str>>,
    pub(crate) peer: SocketAddr,
    /// The shard that owns the connection, and its slot there.
    pub(crate) shard: u16,
    pub(crate) slot: u32,
    /// Set when the connection has ended or was dropped as a slow client: sends fail fast.
    gone: AtomicBool,
    pub(crate) rooms: Mutex<HashSet<String>>,
    pub(crate) session: Mutex<Option<Box<SessionInfo>>>,
}

impl ConnEntry {
    pub(crate) fn new(
        id: ConnId,
        path: String,
        query: Option<Box<str>>,
        peer: SocketAddr,
        shard: u16,
        slot: u32,
    ) -> Self {
        Self {
            id,
            path,
            query,
            peer,
            shard,
            slot,
            gone: AtomicBool::new(false),
            rooms: Mutex::new(HashSet::new()),
            session: Mutex::new(None),
        }
    }

    /// Whether sends to this connection are refused (it ended, or was dropped as slow).
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    pub(crate) fn set_gone(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }

    /// The address of this connection on its shard.
    pub(crate) const fn target(&self) -> crate::shard::Target {
        crate::shard::Target {
            slot: self.slot,
            id: self.id,
        }
    }
}

/// Counters, readable at any time through [`crate::Server::stats`].
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted (upgraded) since start.
    pub connections_opened: AtomicU64,
    /// Connections ended since start.
    pub connections_closed: AtomicU64,
    /// Clients dropped because their outbound backlog went over the bound.
    pub slow_dropped: AtomicU64,
    /// Upgrade requests rejected (bad handshake, origin, limit, timeout).
    pub handshakes_rejected: AtomicU64,
    /// Connections closed by the idle timeout.
    pub idle_closed: AtomicU64,
    /// Frames queued for delivery to local connections.
    pub frames_queued: AtomicU64,
}

/// The indexes. Locks are held only for map operations, never across an await.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    conns: RwLock<HashMap<ConnId, Arc<ConnEntry>>>,
    paths: RwLock<HashMap<String, HashSet<ConnId>>>,
    rooms: RwLock<HashMap<String, HashSet<ConnId>>>,
    users: RwLock<HashMap<String, HashSet<ConnId>>>,
    next_id: AtomicU64,
    ids: std::collections::hash_map::RandomState,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    /// A fresh id: a randomly keyed hash of a counter, so unique here and unpredictable.
    pub(crate) fn next_id(&self) -> ConnId {
        use std::hash::BuildHasher;
        loop {
            let id = ConnId(
                self.ids
                    .hash_one(self.next_id.fetch_add(1, Ordering::Relaxed)),
            );
            if !read(&self.conns).contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn insert(&self, entry: Arc<ConnEntry>) {
        write(&self.paths)
            .entry(entry.path.clone())
            .or_default()
            .insert(entry.id);
        write(&self.conns).insert(entry.id, entry);
    }

    /// Removes a connection from every index; returns its session, if it had one.
    pub(crate) fn remove(&self, id: ConnId) -> Option<SessionInfo> {
        let entry = write(&self.conns).remove(&id)?;
        remove_from(&self.paths, &entry.path, id);
        for room in lock(&entry.rooms).drain() {
            remove_from(&self.rooms, &room, id);
        }
        let session = lock(&entry.session).take().map(|b| *b);
        if let Some(s) = &session {
            remove_from(&self.users, &s.user_id, id);
        }
        session
    }

    pub(crate) fn get(&self, id: ConnId) -> Option<Arc<ConnEntry>> {
        read(&self.conns).get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        read(&self.conns).len()
    }

    pub(crate) fn all(&self) -> Vec<Arc<ConnEntry>> {
        read(&self.conns).values().cloned().collect()
    }

    fn resolve(&self, ids: Option<&HashSet<ConnId>>) -> Vec<Arc<ConnEntry>> {
        let Some(ids) = ids else { return Vec::new() };
        let conns = read(&self.conns);
        ids.iter().filter_map(|id| conns.get(id).cloned()).collect()
    }

    pub(crate) fn on_path(&self, path: &str) -> Vec<Arc<ConnEntry>> {
        self.resolve(read(&self.paths).get(path))
    }

    pub(crate) fn in_room(&self, room: &str) -> Vec<Arc<ConnEntry>> {
        self.resolve(read(&self.rooms).get(room))
    }

    pub(crate) fn of_user(&self, user: &str) -> Vec<Arc<ConnEntry>> {
        self.resolve(read(&self.users).get(user))
    }

    pub(crate) fn join_room(&self, id: ConnId, room: &str) -> bool {
        let Some(entry) = self.get(id) else {
            return false;
        };
        lock(&entry.rooms).insert(room.to_owned());
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
        lock(&entry.rooms).remove(room);
        remove_from(&self.rooms, room, id)
    }

    /// Attaches a user session to a connection; returns the session it replaced, if any.
    pub(crate) fn join_session(
        &self,
        id: ConnId,
        info: SessionInfo,
    ) -> Result<Option<SessionInfo>, SessionInfo> {
        let Some(entry) = self.get(id) else {
            return Err(info);
        };
        write(&self.users)
            .entry(info.user_id.clone())
            .or_default()
            .insert(id);
        let old = lock(&entry.session).replace(Box::new(info)).map(|b| *b);
        if let Some(old) = &old {
            let still_same_user = lock(&entry.session)
                .as_ref()
                .is_some_and(|s| s.user_id == old.user_id);
            if !still_same_user {
                remove_from(&self.users, &old.user_id, id);
            }
        }
        Ok(old)
    }

    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        read(&self.conns)
            .values()
            .filter_map(|e| lock(&e.session).as_deref().cloned())
            .collect()
    }
}

fn remove_from(index: &RwLock<HashMap<String, HashSet<ConnId>>>, key: &str, id: ConnId) -> bool {
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
