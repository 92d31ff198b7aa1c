//! Buffers for frames larger than one read, reused once the payloads in them are dropped, so
//! that a stream of large messages does not make the allocator hand memory back to the
//! system and fault it in again for each one (which costs more than the copy it saves).

use std::time::Duration;

use bytes::BytesMut;

/// The most buffers a shard's [`FramePool`] tracks, in use or not (beyond that, a large
/// frame's buffer is not pooled).
const POOL_MAX: usize = 64;
/// The most unused buffers a shard's [`FramePool`] keeps beyond a loop iteration that had
/// nothing to do, or a second.
const POOL_SPARE: usize = 4;
/// How often a busy shard trims its pool to [`POOL_SPARE`] unused buffers.
pub(super) const POOL_TRIM_EVERY: Duration = Duration::from_secs(1);

/// A shard's pool of large-frame buffers. An idle shard keeps at most [`POOL_SPARE`] unused
/// buffers (each as large as the largest frame in progress it served, by the session's
/// `buffer_room` rule); an idle connection, none.
#[derive(Default)]
pub(super) struct FramePool {
    /// An empty handle at the end of each pooled buffer: it is unique once nothing else uses
    /// the buffer, and `try_reclaim` then gives the whole buffer back.
    handles: Vec<BytesMut>,
}

impl FramePool {
    /// An empty buffer with room for at least `want` bytes.
    pub(super) fn take(&mut self, want: usize) -> BytesMut {
        if let Some(i) = self.handles.iter_mut().position(|h| h.try_reclaim(want)) {
            return lend(&mut self.handles[i]);
        }
        // Unused buffers too small for this frame make way for it.
        self.handles.retain_mut(|h| !h.try_reclaim(1));
        let fresh = reserved(want);
        if self.handles.len() == POOL_MAX {
            return fresh; // not pooled
        }
        self.handles.push(fresh);
        let last = self.handles.len() - 1;
        lend(&mut self.handles[last])
    }

    /// Lets go of unused buffers beyond [`POOL_SPARE`].
    pub(super) fn trim(&mut self) {
        if self.handles.len() > POOL_SPARE {
            let mut spare = 0;
            self.handles.retain_mut(|h| {
                let unused = h.try_reclaim(1);
                spare += usize::from(unused);
                !unused || spare <= POOL_SPARE
            });
        }
    }
}

/// An empty buffer with room for `n` bytes, made by reserving rather than with
/// `with_capacity`, so that it does not record a large "original capacity": a partial frame
/// that the decoder later moves out of it then gets room for that frame only, not at least
/// 64 KiB (`bytes` sizes a reserve on a shared buffer by the original's capacity).
pub(super) fn reserved(n: usize) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.reserve(n);
    buf
}

/// Hands out the buffer `h` holds, keeping an empty handle to its end in `h`.
fn lend(h: &mut BytesMut) -> BytesMut {
    let mut lent = std::mem::take(h);
    *h = lent.split_off(lent.capacity());
    lent
}

#[cfg(test)]
mod tests {
    use super::{FramePool, POOL_SPARE};

    /// A large frame's buffer comes back to the pool once its payloads are dropped, is not
    /// lent twice while in use, and an idle pool keeps at most `POOL_SPARE` buffers.
    #[test]
    fn the_frame_pool_reuses_buffers_once_free() {
        let mut pool = FramePool::default();
        let mut a = pool.take(100_000);
        assert!(a.capacity() >= 100_000);
        let a_ptr = a.as_ptr();
        a.extend_from_slice(&[1; 100_000]);
        let payload = a.split_to(60_000).freeze();
        drop(a);
        let b = pool.take(100_000); // `payload` still uses the first buffer
        assert_ne!(b.as_ptr(), a_ptr);
        drop(payload);
        let c = pool.take(100_000);
        assert_eq!(c.as_ptr(), a_ptr, "the first buffer is free again");
        assert!(c.is_empty() && c.capacity() >= 100_000);
        let d = pool.take(200_000); // larger than either: a new one
        assert!(d.capacity() >= 200_000);
        let held: Vec<_> = (0..8).map(|_| pool.take(1_000)).collect();
        drop((b, c, d, held));
        pool.trim();
        assert_eq!(pool.handles.len(), POOL_SPARE);
    }

    /// A partial frame moved out of a reserved buffer gets room for itself, not a share of
    /// the buffer's size: what a connection waiting for the rest of a small frame holds.
    #[test]
    fn a_partial_frame_leaves_the_block_small() {
        use bytes::BufMut;
        let mut block = super::reserved(256 << 10);
        assert!(block.capacity() >= 256 << 10);
        block.put_bytes(7, 100);
        let mut view = block.split_to(100);
        let _payload = view.split_to(60).freeze();
        view.reserve(50);
        assert!(view.capacity() < 1024, "{}", view.capacity());
        assert_eq!(&view[..], &[7; 40][..]);
    }
}
