//! How big the indexes are, for the metrics (read at a scrape, never on a hot path).

use super::Registry;
use crate::sync::read;

/// The sizes of the registry's indexes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sizes {
    /// Connections.
    pub(crate) connections: usize,
    /// Distinct paths with a connection.
    pub(crate) paths: usize,
    /// Rooms with a member.
    pub(crate) rooms: usize,
    /// Users with a session on some connection.
    pub(crate) users: usize,
}

impl Registry {
    /// The sizes of the indexes (each read under its lock in turn, so the figures are each
    /// exact but not necessarily of the same instant).
    pub(crate) fn sizes(&self) -> Sizes {
        Sizes {
            connections: self.len(),
            paths: read(&self.paths).len(),
            rooms: read(&self.rooms).len(),
            users: read(&self.users).len(),
        }
    }

    /// Connections per path, for an operator who turned per-path labels on.
    pub(crate) fn path_counts(&self) -> Vec<(String, usize)> {
        read(&self.paths)
            .iter()
            .map(|(p, ids)| (p.to_string(), ids.len()))
            .collect()
    }
}
