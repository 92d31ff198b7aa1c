//! Helpers: a raw peer that speaks frames by hand, and timeouts.

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use oyez_frame::{Decoder, Encoder, Frame, Limits, OpCode, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Fails the test instead of hanging.
pub(crate) async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("within 10 s")
}

/// The other end of a connection, frame by frame, in `role`.
pub(crate) struct RawPeer<S> {
    pub(crate) io: S,
    enc: Encoder,
    dec: Decoder,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawPeer<S> {
    pub(crate) fn new(io: S, role: Role) -> Self {
        Self {
            io,
            enc: Encoder::new(role),
            dec: Decoder::new(role, Limits::default()),
            buf: BytesMut::new(),
        }
    }

    pub(crate) async fn send(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        let mut out = BytesMut::new();
        self.enc.encode(opcode, fin, payload, &mut out);
        self.io.write_all(&out).await.unwrap();
    }

    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// The next frame, or `None` at EOF.
    pub(crate) async fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).expect("a valid frame") {
                return Some(f);
            }
            if within(self.io.read_buf(&mut self.buf)).await.unwrap() == 0 {
                return None;
            }
        }
    }

    /// Whether the connection reaches EOF with nothing more on it.
    pub(crate) async fn eof(&mut self) -> bool {
        self.buf.is_empty() && within(self.io.read_buf(&mut self.buf)).await.unwrap_or(0) == 0
    }
}

/// The close code in a close frame's payload.
pub(crate) fn close_code(f: &Frame) -> u16 {
    assert_eq!(f.header.opcode, OpCode::Close);
    u16::from_be_bytes([f.payload[0], f.payload[1]])
}
