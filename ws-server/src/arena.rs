//! The frame arena: each thread writes the frames it makes (a reply, a broadcast: the header,
//! and a small payload next to it) into a block of its own, reused once the frames written
//! from it are dropped, so that a steady stream of messages allocates nothing.
//!
//! Two blocks per thread that makes frames (a shard, or an application thread that sends):
//! frames are split off the current one; when it is full, the other takes its place, and is
//! reclaimed whole if every frame made from it has been written and dropped since (the usual
//! case: a block holds [`BLOCK`] bytes of frames, far more than a shard has in flight); only
//! if some are still queued (a slow client) is a new block made. A thread keeps at most two
//! blocks (128 KiB), whatever it sends; a connection keeps none of it.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use oyez_frame::{OpCode, SharedFrame};

/// The size of one block.
const BLOCK: usize = 64 << 10;

#[derive(Default)]
struct Arena {
    current: BytesMut,
    spare: BytesMut,
}

thread_local! {
    static ARENA: RefCell<Arena> = RefCell::new(Arena::default());
}

/// The most a frame writes into the arena: its header (at most 14 bytes) and a payload small
/// enough to be copied next to it ([`SharedFrame::COPY_THRESHOLD`]; a larger one is shared).
const MOST: usize = 14 + SharedFrame::COPY_THRESHOLD;

impl Arena {
    /// The current block, with room for any frame.
    fn room(&mut self) -> &mut BytesMut {
        if self.current.capacity() < MOST {
            std::mem::swap(&mut self.current, &mut self.spare);
            if !self.current.try_reclaim(BLOCK) {
                self.current = BytesMut::new();
                self.current.reserve(BLOCK);
            }
        }
        &mut self.current
    }
}

/// `payload` as a server frame of `opcode`, its own bytes written into this thread's arena
/// ([`SharedFrame::from_payload_in`]: a large payload is shared, not copied).
pub(crate) fn frame(opcode: OpCode, payload: Bytes) -> SharedFrame {
    ARENA.with(|arena| match arena.try_borrow_mut() {
        Ok(mut arena) => SharedFrame::from_payload_in(opcode, payload, arena.room()),
        // Not reached (nothing here calls back into the arena); a frame of its own if so.
        Err(_) => SharedFrame::from_payload(opcode, payload),
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use oyez_frame::OpCode;

    /// Frames come out whole, a small payload copied next to its header, a large one shared.
    #[test]
    fn frames_come_out_whole() {
        let small = super::frame(OpCode::Text, Bytes::from_static(b"hello"));
        assert_eq!(&small.to_bytes()[..], b"\x81\x05hello");
        let big = Bytes::from(vec![7u8; 10_000]);
        let shared = super::frame(OpCode::Binary, big.clone());
        assert_eq!(shared.payload().as_ptr(), big.as_ptr(), "not copied");
        assert_eq!(shared.len(), 4 + 10_000);
        // Many more than two blocks' worth, some held (a slow client's queue) and some not.
        let mut held = Vec::new();
        for i in 0..20_000u32 {
            let f = super::frame(OpCode::Binary, Bytes::copy_from_slice(&i.to_be_bytes()));
            assert_eq!(
                &f.to_bytes()[..],
                &[&[0x82, 4][..], &i.to_be_bytes()].concat()[..]
            );
            if i % 1_000 == 0 {
                held.push((i, f));
            }
        }
        for (i, f) in held {
            assert_eq!(f.payload(), &i.to_be_bytes(), "a held frame is intact");
        }
    }
}
