//! The streaming frame decoder.

use bytes::{Buf, Bytes, BytesMut};

use crate::close::validate_close_payload;
use crate::{Error, FrameHeader, Limits, OpCode, Role, Utf8Validator, apply_mask};

/// A frame decoded in place by [`Decoder::decode_slice`]: its payload, unmasked and
/// validated, borrows the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The header as it was on the wire (including the mask key, if any).
    pub header: FrameHeader,
    /// The unmasked payload.
    pub payload: &'a [u8],
}

/// A decoded frame. The payload is already unmasked and validated, and shares the buffer it
/// was read into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The header as it was on the wire (including the mask key, if any).
    pub header: FrameHeader,
    /// The unmasked payload.
    pub payload: Bytes,
}

/// How far ahead of the bytes received [`Decoder::decode`] reserves capacity for the rest of a
/// frame: the rest of the frame, but at most this much or as much as is already buffered,
/// whichever is more. A peer that announces a large frame and then stalls holds at most this
/// much of our memory (or twice what it sent), however large [`Limits::max_frame_payload`]
/// is; a frame that really arrives grows its buffer geometrically, so it is moved at most a
/// few times (a 1 MiB frame: not at all after its first read).
pub const MAX_RESERVE: usize = 1 << 20;

/// The room a buffer needs for a frame of `whole` bytes of which `have` are buffered, by the
/// rule [`MAX_RESERVE`] states: the whole frame, but at most `MAX_RESERVE` or `have`
/// (whichever is more) beyond what is there. [`Decoder::decode`] reserves by it; a caller
/// that sizes a buffer before decoding (for a frame its read has only begun) uses it too, so
/// that the decoder then finds the room it wants and moves nothing.
#[must_use]
pub fn room_for_frame(have: usize, whole: usize) -> usize {
    whole.min(have.saturating_add(MAX_RESERVE.max(have)))
}

/// A streaming decoder: bytes in, [`Frame`]s out, with every RFC 6455 rule that a single
/// frame or a sequence of frames can break checked as early as the bytes allow.
///
/// Feed it a [`BytesMut`] that you append to as bytes arrive, in chunks of any size (one byte
/// at a time works). It keeps the parsed header between calls, unmasks and UTF-8-checks the
/// payload as it arrives, and hands the finished payload out with `split_to(..).freeze()`,
/// without copying.
///
/// ```
/// use bytes::BytesMut;
/// use oyez_frame::{Decoder, Limits, OpCode, Role};
///
/// let mut dec = Decoder::new(Role::Server, Limits::default());
/// // RFC 6455 §5.7: a masked "Hello", fed in two pieces.
/// let mut buf = BytesMut::from(&[0x81, 0x85, 0x37, 0xfa][..]);
/// assert!(dec.decode(&mut buf)?.is_none());
/// buf.extend_from_slice(&[0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// let frame = dec.decode(&mut buf)?.expect("a whole frame");
/// assert_eq!(frame.header.opcode, OpCode::Text);
/// assert_eq!(&frame.payload[..], b"Hello");
/// assert!(buf.is_empty());
/// # Ok::<(), oyez_frame::Error>(())
/// ```
///
/// # Warning
/// Between a call that returns `Ok(None)` and the next call, only *append* to the buffer: the
/// decoder has already unmasked the payload bytes at its front.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: Limits,
    /// RSV bits a negotiated extension defines; accepted on the first frame of a data message.
    extension_rsv: u8,
    state: State,
    /// The data message being received, from its first frame's header to its last frame's end.
    message: Option<MessageState>,
    /// After an error, every call returns it again.
    failed: Option<Error>,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Header,
    /// INVARIANT: `unmasked <= header.payload_len <= limits.max_frame_payload <= u32::MAX`;
    /// the first `unmasked` bytes of the caller's buffer are this frame's payload, unmasked and
    /// validated.
    Payload {
        header: FrameHeader,
        unmasked: u32,
    },
}

#[derive(Clone, Debug)]
struct MessageState {
    /// Text or Binary.
    opcode: OpCode,
    /// Set when an extension's RSV1 marks the message as transformed (compressed): its bytes
    /// are not text until the extension has decoded them.
    transformed: bool,
    len: u64,
    fragments: usize,
    utf8: Utf8Validator,
}

impl Decoder {
    /// A decoder for `role` (a server expects masked frames, a client unmasked ones).
    pub const fn new(role: Role, limits: Limits) -> Self {
        Self {
            role,
            limits,
            extension_rsv: 0,
            state: State::Header,
            message: None,
            failed: None,
        }
    }

    /// Accepts the RSV bits in `bits` (a mask of [`FrameHeader::RSV1`], …) on the first frame
    /// of a data message, for an extension negotiated in the handshake (e.g. RSV1 for
    /// permessage-deflate, RFC 7692). Control and continuation frames must still have all RSV
    /// bits clear. A text message whose first frame has RSV1 set is not UTF-8-checked here:
    /// its payload is not text until the extension decodes it, and the extension checks it.
    pub fn set_extension_rsv(&mut self, bits: u8) {
        self.extension_rsv = bits & 0x70;
    }

    /// Takes at most one frame off the front of `src`.
    ///
    /// - `Ok(Some(frame))`: the frame's bytes were removed from `src` (the payload was split
    ///   off, not copied). Call again: `src` may hold more frames.
    /// - `Ok(None)`: `src` holds only part of a frame. The header, once complete, is kept, the
    ///   payload received so far is unmasked and validated in place, and capacity for the rest
    ///   (see [`MAX_RESERVE`]) is reserved. Append more bytes and call again.
    /// - `Err(e)`: the peer broke the protocol. Send a close frame with
    ///   [`Error::close_code`] and stop reading; every later call returns the same error.
    ///
    /// # Errors
    /// Any frame-level [`Error`]: see [`Error::close_code`] for the mapping.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.decode_inner(src);
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }

    /// The role this decoder was made for.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The protocol error that stopped this decoder, if one did (every later
    /// [`Decoder::decode`] returns it).
    pub const fn error(&self) -> Option<Error> {
        self.failed
    }

    /// Whether a fragmented data message has begun and not yet ended.
    pub const fn is_message_open(&self) -> bool {
        self.message.is_some()
    }

    /// Whether the decoder is between frames (no partial header or payload pending).
    pub const fn is_idle(&self) -> bool {
        matches!(self.state, State::Header)
    }

    /// Decodes the whole frame at the front of `buf` in place: every rule
    /// [`Decoder::decode`] applies, the payload unmasked in `buf` and UTF-8-checked, and
    /// returned borrowed from `buf`, with the number of bytes the frame took (header and
    /// payload). No reference counts, no allocation: for callers that keep their own read
    /// buffer (a ring buffer, a datagram, a memory-mapped file).
    ///
    /// `Ok(None)`: `buf` holds only part of a frame, and nothing was changed (a header that
    /// breaks a rule fails at once, though): call again with the same bytes and more. Use
    /// either this or [`Decoder::decode`] on one stream; a partial frame that `decode` is
    /// holding is not continued here.
    ///
    /// ```
    /// use oyez_frame::{Decoder, Limits, OpCode, Role};
    ///
    /// let mut dec = Decoder::new(Role::Server, Limits::default());
    /// // RFC 6455 §5.7: a masked "Hello", then a masked "Hel" that has not all arrived.
    /// let mut buf = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x81, 0x85];
    /// let (frame, used) = dec.decode_slice(&mut buf)?.expect("a whole frame");
    /// assert_eq!((frame.header.opcode, frame.payload, used), (OpCode::Text, &b"Hello"[..], 11));
    /// assert_eq!(dec.decode_slice(&mut buf[11..])?, None);
    /// # Ok::<(), oyez_frame::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Decoder::decode`]; every later call returns the same error.
    pub fn decode_slice<'a>(
        &mut self,
        buf: &'a mut [u8],
    ) -> Result<Option<(FrameRef<'a>, usize)>, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        debug_assert!(
            self.is_idle(),
            "decode_slice on a decoder holding a partial frame"
        );
        let result = self.decode_slice_inner(buf);
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }

    fn decode_slice_inner<'a>(
        &mut self,
        buf: &'a mut [u8],
    ) -> Result<Option<(FrameRef<'a>, usize)>, Error> {
        let Some((header, used)) = FrameHeader::decode(buf)? else {
            return Ok(None);
        };
        let check = self.check_header(&header)?;
        // INVARIANT (check_header): the length is at most max_frame_payload <= u32::MAX.
        let len = usize::try_from(header.payload_len).expect("checked against the limits");
        let Some(frame) = buf.get_mut(used..used + len) else {
            return Ok(None);
        };
        self.commit(check);
        self.take_payload(&header, frame)?;
        self.finish_frame(&header, frame)?;
        Ok(Some((
            FrameRef {
                header,
                payload: frame,
            },
            used + len,
        )))
    }

    fn decode_inner(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let State::Header = self.state {
            let Some((header, used)) = FrameHeader::decode(src)? else {
                return Ok(None);
            };
            let check = self.check_header(&header)?;
            self.commit(check);
            src.advance(used);
            self.state = State::Payload {
                header,
                unmasked: 0,
            };
        }
        let State::Payload { header, unmasked } = &mut self.state else {
            unreachable!("the state was set to Payload just above")
        };
        let header = *header;
        let len = usize::try_from(header.payload_len)
            .expect("INVARIANT (State::Payload): the length is at most u32::MAX");
        let done = *unmasked as usize; // u32 -> usize: lossless
        let available = src.len().min(len);
        if available > done {
            *unmasked = u32::try_from(available).expect("INVARIANT: available <= len <= u32::MAX");
            let fresh = &mut src[done..available];
            if let Some(key) = header.mask {
                apply_mask(fresh, key, done);
            }
            self.check_text(&header, fresh)?;
        }
        if available < len {
            src.reserve(room_for_frame(src.len(), len) - src.len());
            return Ok(None);
        }
        let payload = src.split_to(len).freeze();
        self.state = State::Header;
        self.finish_frame(&header, &payload)?;
        Ok(Some(Frame { header, payload }))
    }

    /// Unmasks a whole payload in place and checks it as text where it is.
    fn take_payload(&mut self, header: &FrameHeader, payload: &mut [u8]) -> Result<(), Error> {
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        self.check_text(header, payload)
    }

    /// Feeds payload bytes of a text message to its UTF-8 validator (fail-fast).
    fn check_text(&mut self, header: &FrameHeader, bytes: &[u8]) -> Result<(), Error> {
        if header.opcode.is_data()
            && let Some(msg) = self
                .message
                .as_mut()
                .filter(|m| m.opcode == OpCode::Text && !m.transformed)
        {
            msg.utf8.feed(bytes, false)?;
        }
        Ok(())
    }

    /// The rules a complete frame adds: a text message may not end mid-character; a close
    /// payload must be well formed.
    fn finish_frame(&mut self, header: &FrameHeader, payload: &[u8]) -> Result<(), Error> {
        if header.opcode.is_data() {
            if header.fin {
                let msg = self
                    .message
                    .take()
                    .expect("INVARIANT: a data frame's header opened or continued a message");
                if msg.opcode == OpCode::Text && !msg.transformed {
                    let mut utf8 = msg.utf8;
                    utf8.feed(&[], true)?;
                }
            }
        } else if header.opcode == OpCode::Close {
            validate_close_payload(payload)?;
        }
        Ok(())
    }

    /// Applies every rule the header alone decides (so a payload that passes fits in
    /// `max_frame_payload`, hence in `u32`), changing nothing; [`Decoder::commit`] records the
    /// result.
    fn check_header(&self, h: &FrameHeader) -> Result<Check, Error> {
        // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is
        // not masked"; "A client MUST close a connection if it detects a masked frame."
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(Error::MaskMissing),
            (Role::Client, true) => return Err(Error::MaskUnexpected),
            _ => {}
        }
        // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them.
        let allowed = match h.opcode {
            OpCode::Text | OpCode::Binary => self.extension_rsv,
            _ => 0,
        };
        if h.rsv & !allowed != 0 {
            return Err(Error::ReservedBits(h.rsv & !allowed));
        }
        if h.opcode.is_control() {
            // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or
            // less and MUST NOT be fragmented."
            if !h.fin {
                return Err(Error::ControlFragmented);
            }
            if h.payload_len > 125 {
                return Err(Error::ControlTooLong(h.payload_len));
            }
        }
        let max_frame = self.limits.max_frame_payload();
        if usize::try_from(h.payload_len).map_or(true, |len| len > max_frame) {
            return Err(Error::FrameTooLarge {
                len: h.payload_len,
                max: u32::try_from(max_frame).unwrap_or(u32::MAX),
            });
        }
        if h.opcode.is_control() {
            return Ok(Check::Control);
        }
        // RFC 6455 §5.4: fragments of one message are not interleaved with another's.
        let (opcode, transformed, total, fragments) = match (h.opcode, &self.message) {
            (OpCode::Continuation, None) => return Err(Error::UnexpectedContinuation),
            (OpCode::Continuation, Some(msg)) => (
                msg.opcode,
                msg.transformed,
                msg.len + h.payload_len,
                msg.fragments + 1,
            ),
            (_, Some(_)) => return Err(Error::ExpectedContinuation),
            (op, None) => (op, h.rsv & FrameHeader::RSV1 != 0, h.payload_len, 1),
        };
        let max_message = self.limits.max_message_size() as u64;
        if total > max_message {
            return Err(Error::MessageTooLarge {
                len: total,
                max: u32::try_from(max_message).unwrap_or(u32::MAX),
            });
        }
        if fragments > self.limits.max_fragments() {
            return Err(Error::TooManyFragments {
                max: u32::try_from(self.limits.max_fragments()).unwrap_or(u32::MAX),
            });
        }
        Ok(Check::Data {
            opcode,
            transformed,
            total,
            fragments,
        })
    }

    /// Records a checked data frame in the message state.
    fn commit(&mut self, check: Check) {
        let Check::Data {
            opcode,
            transformed,
            total,
            fragments,
        } = check
        else {
            return;
        };
        match &mut self.message {
            Some(msg) => {
                msg.len = total;
                msg.fragments = fragments;
            }
            None => {
                self.message = Some(MessageState {
                    opcode,
                    transformed,
                    len: total,
                    fragments,
                    utf8: Utf8Validator::new(),
                });
            }
        }
    }
}

/// What [`Decoder::check_header`] found, for [`Decoder::commit`] to record.
#[derive(Clone, Copy)]
enum Check {
    Control,
    Data {
        opcode: OpCode,
        transformed: bool,
        total: u64,
        fragments: usize,
    },
}
