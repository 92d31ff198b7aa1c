//! Who is connected, and where: connections, paths, rooms and user sessions.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A connection id, shown as 16 lowercase hex digits. It says where the connection lives
/// (its shard, top 8 bits, and its slot there, the next 24) and carries 32 random bits, so
/// that a slot's next connection gets another id and ids from different instances of a
/// cluster rarely meet (a Tina4 envelope's `exclude` is compared with every instance's ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The most shards a server runs (the shard is 8 bits of a [`ConnId`]).
pub(crate) const MAX_SHARDS: usize = 1 << 8;
/// The most connections one shard holds (the slot is 24 bits of a [`ConnId`]).
pub(crate) const MAX_SLOTS: u32 = 1 << 24;

impl ConnId {
    pub(crate) fn new(shard: u16, slot: u32, tag: u32) -> Self {
        debug_assert!(usize::from(shard) < MAX_SHARDS && slot < MAX_SLOTS);
        Self(u64::from(shard) << 56 | u64::from(slot) << 32 | u64::from(tag))
    }

    /// The shard it lives on (any value: an id from elsewhere may name a shard not here).
    pub(crate) const fn shard(self) -> usize {
        (self.0 >> 56) as usize
    }

    /// Its slot on its shard.
    pub(crate) const fn slot(self) -> u32 {
        ((self.0 >> 32) as u32) & (MAX_SLOTS - 1)
    }
}

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
    /// Shared with every connection on the same path (interned by the registry).
    pub(crate) path: Arc<str>,
    pub(crate) query: Option<Box<str>>,
    /// The peer's address, as IP and port (smaller than a `SocketAddr`).
    peer_ip: IpAddr,
    peer_port: u16,
    /// Set when the connection has ended or was dropped as a slow client: sends fail fast.
    gone: AtomicBool,
    /// `None` until it joins a room or a session (boxed: an idle connection stays small).
    membership: Mutex<Option<Box<Membership>>>,
}

/// Where a connection belongs: its rooms and its user session.
#[derive(Debug, Default)]
struct Membership {
    /// A connection is in few rooms: a list is smaller than a set.
    rooms: Vec<String>,
    session: Option<Box<SessionInfo>>,
}

impl ConnEntry {
    pub(crate) fn new(
        id: ConnId,
        path: Arc<str>,
        query: Option<Box<str>>,
        peer: SocketAddr,
    ) -> Self {
        Self {
            id,
            path,
            query,
            peer_ip: peer.ip(),
            peer_port: peer.port(),
            gone: AtomicBool::new(false),
            membership: Mutex::new(None),
        }
    }

    /// Its user session, if it joined one.
    pub(crate) fn session(&self) -> Option<SessionInfo> {
        lock(&self.membership)
            .as_ref()
            .and_then(|m| m.session.as_deref().cloned())
    }

    /// Whether its user session is one of `ids` (no lock taken when `ids` is empty).
    pub(crate) fn has_session_in(&self, ids: &[String]) -> bool {
        !ids.is_empty()
            && lock(&self.membership)
                .as_ref()
                .and_then(|m| m.session.as_ref())
                .is_some_and(|s| ids.contains(&s.session_id))
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
            slot: self.id.slot(),
            id: self.id,
        }
    }

    /// The peer's address (an IPv6 one without its flow info and scope id).
    pub(crate) const fn peer(&self) -> SocketAddr {
        SocketAddr::new(self.peer_ip, self.peer_port)
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
    /// Handler callbacks that panicked (each closed its connection with 1011).
    pub handler_panics: AtomicU64,
}

/// Which connections a delivery is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope<'a> {
    /// Every connection.
    All,
    /// The connections on a path.
    Path(&'a str),
    /// The members of a room.
    Room(&'a str),
    /// The connections of a user.
    User(&'a str),
}

/// The indexes. Locks are held only for map operations, never across an await.
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

    /// Adds a connection (called by its shard).
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
        let Membership { rooms, session } = lock(&entry.membership)
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

    /// Per shard, the connections in `scope` that are not gone and that `keep` accepts: the
    /// addresses a delivery posts to each shard. Built under the registry's read locks,
    /// without cloning an entry.
    pub(crate) fn targets(
        &self,
        scope: Scope<'_>,
        mut keep: impl FnMut(&ConnEntry) -> bool,
    ) -> Vec<Vec<crate::shard::Target>> {
        let mut out = vec![Vec::new(); self.dirs.len()];
        let mut take = |e: &ConnEntry| {
            if !e.is_gone() && keep(e) {
                out[e.id.shard()].push(e.target());
            }
        };
        // The index is read (and released) before the directories: no lock is held inside
        // another.
        fn members<K: std::borrow::Borrow<str> + std::hash::Hash + Eq>(
            index: &RwLock<HashMap<K, HashSet<ConnId>>>,
            key: &str,
        ) -> Vec<ConnId> {
            read(index)
                .get(key)
                .map(|ids| ids.iter().copied().collect())
                .unwrap_or_default()
        }
        let ids = match scope {
            Scope::All => None,
            Scope::Path(p) => Some(members(&self.paths, p)),
            Scope::Room(r) => Some(members(&self.rooms, r)),
            Scope::User(u) => Some(members(&self.users, u)),
        };
        let dirs: Vec<_> = self.dirs.iter().map(read).collect();
        match &ids {
            None => {
                for dir in &dirs {
                    dir.iter().flatten().for_each(|e| take(e));
                }
            }
            Some(ids) => {
                for id in ids {
                    let entry = dirs
                        .get(id.shard())
                        .and_then(|d| d.get(id.slot() as usize))
                        .and_then(Option::as_ref)
                        .filter(|e| e.id == *id);
                    if let Some(e) = entry {
                        take(e);
                    }
                }
            }
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
