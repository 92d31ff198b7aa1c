//! permessage-deflate in a session: what it keeps for the extension, inflating compressed
//! messages as their bytes arrive, and compressing what it sends.

use bytes::{Bytes, BytesMut};

use crate::deflate::{Agreed, InflateFail, Inflater, compress};
use crate::{Encoder, Error, FrameHeader, OpCode, Role, Utf8Validator};

/// What a session keeps for permessage-deflate (in its box of rare state: 48 bytes, and the
/// peer's window when it keeps its context).
#[derive(Debug)]
pub(super) struct SessionDeflate {
    pub(super) agreed: Agreed,
    /// The peer keeps its context: the window size it agreed (2^w bytes); 0 when it does not.
    window_size: u32,
    /// The peer keeps its context: the last `window_size` bytes of its messages, which its
    /// next message may refer back to (empty otherwise).
    window: Vec<u8>,
    /// The compressed message being received.
    inbound: Option<Box<Inbound>>,
}

/// A compressed message being received and inflated.
#[derive(Debug)]
struct Inbound {
    opcode: OpCode,
    inflater: Inflater,
    /// The message inflated so far.
    out: Vec<u8>,
    utf8: Utf8Validator,
    /// How much of the current frame's payload has been inflated already (a frame is
    /// inflated as it arrives, before it is complete).
    fed: usize,
}

impl SessionDeflate {
    pub(super) fn new(agreed: Agreed, role: Role) -> Self {
        let window_size = if agreed.peer_keeps_context(role) {
            1 << agreed.receive_window_bits(role)
        } else {
            0
        };
        Self {
            agreed,
            window_size,
            window: Vec::new(),
            inbound: None,
        }
    }

    /// Whether a compressed message is being received.
    pub(super) const fn is_receiving(&self) -> bool {
        self.inbound.is_some()
    }

    /// Starts a compressed message (its first frame had RSV1).
    pub(super) fn begin(&mut self, opcode: OpCode) {
        if self.inbound.is_some() {
            return;
        }
        let mut inflater = Inflater::borrow();
        inflater.set_window(&self.window);
        self.inbound = Some(Box::new(Inbound {
            opcode,
            inflater,
            out: Vec::new(),
            utf8: Utf8Validator::new(),
            fed: 0,
        }));
    }

    /// Inflates the part of the current frame's payload that has arrived (`payload`: all of
    /// it so far) beyond what was inflated already.
    ///
    /// # Errors
    /// As [`Self::frame_done`].
    pub(super) fn partial(&mut self, payload: &[u8], limit: usize) -> Result<(), Error> {
        let Some(inb) = self.inbound.as_mut() else {
            return Ok(());
        };
        let fresh = payload.get(inb.fed..).unwrap_or_default();
        inb.fed = payload.len();
        inb.inflate(fresh, limit)
    }

    /// The current frame is complete (`payload`: all of it): inflates the rest and, if it
    /// was the message's last, returns the whole message.
    ///
    /// # Errors
    /// [`Error::InvalidCompressedData`], [`Error::InvalidUtf8`] (a text message),
    /// [`Error::MessageTooLarge`] once the inflated message passes `limit`.
    pub(super) fn frame_done(
        &mut self,
        payload: &[u8],
        fin: bool,
        limit: usize,
    ) -> Result<Option<(OpCode, Bytes)>, Error> {
        self.partial(payload, limit)?;
        let Some(inb) = self.inbound.as_mut() else {
            return Ok(None);
        };
        inb.fed = 0;
        if !fin {
            return Ok(None);
        }
        let before = inb.out.len();
        let ended = inb.inflater.end_of_message(&mut inb.out, limit);
        inb.check_text(before, limit, ended.is_ok())?;
        ended.map_err(|e| fail(e, inb.out.len(), limit))?;
        let inb = *self.inbound.take().expect("checked above");
        let Inbound {
            opcode,
            inflater,
            out,
            ..
        } = inb;
        inflater.finish_message();
        self.keep_window(&out);
        Ok(Some((opcode, Bytes::from(out))))
    }

    /// After a message from a peer that keeps its context: the window moves on by it.
    fn keep_window(&mut self, message: &[u8]) {
        let size = self.window_size as usize;
        if size == 0 {
            return;
        }
        if message.len() >= size {
            self.window.clear();
        } else {
            let excess = (self.window.len() + message.len()).saturating_sub(size);
            self.window.drain(..excess);
        }
        let take = &message[message.len() - message.len().min(size)..];
        if self.window.capacity() < size {
            // Exactly the window, not a doubling growth's more.
            self.window.reserve_exact(size - self.window.len());
        }
        self.window.extend_from_slice(take);
        debug_assert!(self.window.len() <= size);
    }

    /// Drops a message being received (the session is closing or failed).
    pub(super) fn abandon(&mut self) {
        self.inbound = None;
    }

    /// Appends `payload` as one final data frame: compressed (RSV1) when it is at least the
    /// smallest size worth it and compressing makes it smaller, plain otherwise.
    pub(super) fn encode(
        &self,
        encoder: &mut Encoder,
        opcode: OpCode,
        payload: &[u8],
        out: &mut BytesMut,
    ) {
        if payload.len() >= self.agreed.min_size() {
            let bits = self.agreed.send_window_bits(encoder.role());
            let sent = with_compressed(payload, self.agreed.level(), bits, |packed| {
                let header = FrameHeader {
                    rsv: FrameHeader::RSV1,
                    ..FrameHeader::new(opcode, 0)
                };
                encoder.encode_frame(header, packed, out);
            });
            if sent {
                return;
            }
        }
        encoder.encode(opcode, true, payload, out);
    }

    /// The `(level, window bits)` a broadcast's shared compressed form must have been made
    /// with for this session to send it; `None` when `len` is too small to compress.
    pub(super) fn shared_key(&self, role: Role, len: usize) -> Option<(u8, u8)> {
        (len >= self.agreed.min_size())
            .then(|| (self.agreed.level(), self.agreed.send_window_bits(role)))
    }
}

impl Inbound {
    fn inflate(&mut self, input: &[u8], limit: usize) -> Result<(), Error> {
        let before = self.out.len();
        let inflated = self.inflater.inflate(input, &mut self.out, limit);
        self.check_text(before, limit, false)?;
        inflated.map_err(|e| fail(e, self.out.len(), limit))
    }

    /// UTF-8 on the bytes inflated since `before` (up to the limit), as they come: fails at
    /// the first bad one. It runs before an inflate error is reported, since the bytes
    /// inflated before corrupt data or the limit come first in the stream (so the error does
    /// not depend on how the input was cut).
    fn check_text(&mut self, before: usize, limit: usize, fin: bool) -> Result<(), Error> {
        if self.opcode == OpCode::Text {
            let end = self.out.len().min(limit);
            self.utf8
                .feed(self.out.get(before..end).unwrap_or_default(), fin)?;
        }
        Ok(())
    }
}

fn fail(e: InflateFail, len: usize, limit: usize) -> Error {
    match e {
        InflateFail::Corrupt => Error::InvalidCompressedData,
        InflateFail::TooLarge => Error::MessageTooLarge {
            len: len as u64,
            max: u32::try_from(limit).unwrap_or(u32::MAX),
        },
    }
}

thread_local! {
    /// Where messages are compressed before they are framed (kept to reuse its capacity).
    static SCRATCH: core::cell::RefCell<Vec<u8>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// A scratch buffer larger than this is let go after use.
const SCRATCH_KEEP: usize = 256 << 10;

/// Compresses `payload` and, if that makes it smaller, calls `f` with the compressed bytes;
/// returns whether it did.
fn with_compressed(payload: &[u8], level: u8, bits: u8, f: impl FnOnce(&[u8])) -> bool {
    let mut f = Some(f);
    let mut run = |scratch: &mut Vec<u8>| {
        scratch.clear();
        compress(payload, level, bits, scratch);
        let smaller = scratch.len() < payload.len();
        if smaller && let Some(f) = f.take() {
            f(scratch);
        }
        if scratch.capacity() > SCRATCH_KEEP {
            *scratch = Vec::new();
        }
        smaller
    };
    match SCRATCH.try_with(|cell| cell.try_borrow_mut().ok().map(|mut s| run(&mut s))) {
        Ok(Some(sent)) => sent,
        _ => run(&mut Vec::new()),
    }
}

/// A broadcast's compressed server frame (header with RSV1 and the compressed payload), or
/// `None` when compressing does not make `payload` smaller.
pub(crate) fn compressed_frame(
    opcode: OpCode,
    payload: &[u8],
    level: u8,
    bits: u8,
) -> Option<Bytes> {
    let mut frame = None;
    with_compressed(payload, level, bits, |packed| {
        let header = FrameHeader {
            rsv: FrameHeader::RSV1,
            ..FrameHeader::new(opcode, packed.len() as u64)
        };
        let mut buf = BytesMut::with_capacity(header.encoded_len() + packed.len());
        header.encode(&mut buf);
        buf.extend_from_slice(packed);
        frame = Some(buf.freeze());
    });
    frame
}
