//! Connection ids, and the address of a connection on its shard.

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

    /// Its address on its shard.
    pub(crate) const fn target(self) -> Target {
        Target {
            slot: self.slot(),
            id: self,
        }
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

/// One connection's address on its shard: its slot, and its id (a slot is reused once its
/// connection ends, so the id tells a stale command from a live one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) slot: u32,
    pub(crate) id: ConnId,
}

#[cfg(test)]
mod tests {
    use super::ConnId;

    #[test]
    fn an_id_says_where_its_connection_lives() {
        let id = ConnId::new(3, 0x00ab_cdef, 0x1234_5678);
        assert_eq!((id.shard(), id.slot()), (3, 0x00ab_cdef));
        assert_eq!(id.to_string(), "03abcdef12345678");
        assert_eq!("03abcdef12345678".parse::<ConnId>(), Ok(id));
        assert_eq!(id.target().slot, id.slot());
    }
}
