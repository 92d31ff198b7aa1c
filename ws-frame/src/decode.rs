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
/// few times (a 1 MiB frame: not at all after its first read). A caller that sizes its
/// buffer before decoding asks [`Decoder::buffer_room`], which applies the same rule.
pub const MAX_RESERVE: usize = 1 << 20;

/// The room a buffer needs for a frame's payload of `whole` bytes of which `have` are
/// buffered, by the rule [`MAX_RESERVE`] states: the whole payload, but at most `MAX_RESERVE`
/// or `have` (whichever is more) beyond what is there. [`Decoder::decode`] reserves by it and
/// [`Decoder::buffer_room`] sizes by it, so that a buffer sized before decoding is one the
/// decoder finds room in.
#[must_use]
pub(crate) fn room_for_frame(have: usize, whole: usize) -> usize {
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

    /// The frame whose payload is arriving, and how many of its payload bytes are at the
    /// front of the buffer already, unmasked and checked (for an extension that transforms
    /// payloads as they arrive).
    #[cfg(feature = "deflate")]
    pub(crate) const fn partial(&self) -> Option<(FrameHeader, usize)> {
        match self.state {
            State::Payload { header, unmasked } => Some((header, unmasked as usize)),
            State::Header => None,
        }
    }

    /// Records a protocol error found above the frame layer (by an extension): from now on
    /// [`Decoder::decode`] returns it, as if the decoder had found it. The first error
    /// stays.
    pub(crate) fn fail_with(&mut self, e: Error) {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    /// The capacity a buffer holding `buffered` at its front should have so that the frame in
    /// progress completes in it without the buffer moving: exactly the room
    /// [`Decoder::decode`] reserves for that frame (the rule [`MAX_RESERVE`] states), counted
    /// from the front of `buffered`. That is the whole frame, unless the rest of it is longer
    /// than both `MAX_RESERVE` and what has arrived of it; then it is the room `decode`
    /// reserves now, and its later reserves grow the buffer as they would have anyway.
    ///
    /// For a caller that reads into a scratch buffer of its own and moves a frame longer than
    /// its read into a buffer sized for it, once, instead of letting that buffer grow as the
    /// rest arrives. Use it with [`Decoder::decode`], not [`Decoder::decode_slice`].
    ///
    /// `buffered` is what the next `decode` will start from: the bytes received and not yet
    /// consumed. Between frames that is the next frame's header and what follows it; in the
    /// middle of a payload (its header consumed already, e.g. one that arrived alone) it is
    /// the payload so far. Only the first frame is looked at, and at most its header is read.
    ///
    /// `None` when there is nothing to size for: that frame ends within `buffered` (decode it
    /// where it is), its header is not complete yet, it breaks a rule or a limit
    /// ([`Limits::max_frame_payload`], …: `decode` will fail on it), or the decoder has
    /// failed. Never panics.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use oyez_frame::{Decoder, Encoder, Limits, OpCode, Role};
    ///
    /// // A client's 100 KiB binary frame (14 header bytes), of which a read brought 4 KiB.
    /// let mut wire = BytesMut::new();
    /// Encoder::new(Role::Client).encode(OpCode::Binary, true, &[7; 100 << 10], &mut wire);
    /// let mut dec = Decoder::new(Role::Server, Limits::default());
    /// let room = dec.buffer_room(&wire[..4096]).expect("a frame longer than the read");
    /// assert_eq!(room, wire.len());
    ///
    /// let mut buf = BytesMut::with_capacity(room);
    /// buf.extend_from_slice(&wire[..4096]);
    /// let start = buf.as_ptr();
    /// assert!(dec.decode(&mut buf)?.is_none());
    /// buf.extend_from_slice(&wire[4096..]); // the rest, as it arrives
    /// let frame = dec.decode(&mut buf)?.expect("the whole frame");
    /// assert_eq!(frame.payload.as_ptr(), start.wrapping_add(14)); // where it was read
    /// # Ok::<(), oyez_frame::Error>(())
    /// ```
    #[must_use]
    pub fn buffer_room(&self, buffered: &[u8]) -> Option<usize> {
        if self.failed.is_some() {
            return None;
        }
        let (used, payload_len) = match self.state {
            State::Payload { header, .. } => (0, header.payload_len),
            State::Header => {
                // The common case first, without decoding the header: a small frame (a 7-bit
                // length) that is all here has nothing to size for.
                if let [_, b1, ..] = *buffered {
                    let len = usize::from(b1 & 0x7f);
                    let mask = if b1 & 0x80 == 0 { 0 } else { 4 };
                    if len < 126 && buffered.len() >= 2 + mask + len {
                        return None;
                    }
                }
                let (header, used) = FrameHeader::decode(buffered).ok()??;
                self.check_header(&header).ok()?;
                (used, header.payload_len)
            }
        };
        // INVARIANT (State::Payload, check_header): the length is at most max_frame_payload.
        let whole = usize::try_from(payload_len).ok()?;
        let have = buffered.len().checked_sub(used)?;
        (have < whole).then(|| used.saturating_add(room_for_frame(have, whole)))
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
        self.take_whole(&header, check, frame)?;
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
            // INVARIANT (check_header): the length is at most max_frame_payload <= u32::MAX.
            let len = usize::try_from(header.payload_len).expect("checked against the limits");
            if src.len() - used >= len {
                return self.decode_whole(src, header, used, len, check).map(Some);
            }
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

    /// The frame at the front of `src` is all there (`used` header bytes and `len` payload
    /// bytes; the header checked): taken off in one split, unmasked and checked where it is
    /// ([`Decoder::take_whole`]), its header left out of the frozen view.
    fn decode_whole(
        &mut self,
        src: &mut BytesMut,
        header: FrameHeader,
        used: usize,
        len: usize,
        check: Check,
    ) -> Result<Frame, Error> {
        let mut frame = src.split_to(used + len);
        self.take_whole(&header, check, &mut frame[used..])?;
        let mut payload = frame.freeze();
        payload.advance(used);
        Ok(Frame { header, payload })
    }

    /// Takes a whole frame whose header passed `check`: unmasks its payload in place and
    /// applies every rule to it. A message that is this one frame (the common case) is
    /// checked as a whole, with no message state made for it; any other frame goes through
    /// the message state as its pieces would. Always inlined: it is the hot path of both
    /// [`Decoder::decode`] and [`Decoder::decode_slice`], and a call of its own costs about
    /// 30 instructions per 20 B echo (callgrind).
    #[inline(always)]
    fn take_whole(
        &mut self,
        header: &FrameHeader,
        check: Check,
        payload: &mut [u8],
    ) -> Result<(), Error> {
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        match check {
            Check::Data {
                opcode,
                transformed,
                fragments: 1,
                ..
            } if header.fin => {
                if opcode == OpCode::Text && !transformed && core::str::from_utf8(payload).is_err()
                {
                    return Err(Error::InvalidUtf8);
                }
                Ok(())
            }
            _ => {
                self.commit(check);
                self.check_text(header, payload)?;
                self.finish_frame(header, payload)
            }
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Encoder;

    /// A masked binary frame of `len` bytes, as a client sends it, and its header's length.
    pub(crate) fn client_frame(len: usize) -> (BytesMut, usize) {
        let mut out = BytesMut::new();
        Encoder::with_mask_source(Role::Client, || [1, 2, 3, 4]).encode(
            OpCode::Binary,
            true,
            &vec![0x5a; len],
            &mut out,
        );
        let header = FrameHeader::decode(&out).unwrap().unwrap().1;
        (out, header)
    }

    fn server() -> Decoder {
        Decoder::new(Role::Server, Limits::default())
    }

    /// Where a buffer's bytes end and where its allocation ends: both stay put (as bytes are
    /// consumed from its front) unless it moves.
    fn ends(buf: &BytesMut) -> (usize, usize) {
        let at = buf.as_ptr().addr();
        (at + buf.len(), at + buf.capacity())
    }

    #[test]
    fn buffer_room_is_the_whole_frame_once_its_header_is_in() {
        let (wire, header) = client_frame(300);
        assert_eq!(header, 2 + 2 + 4);
        let dec = server();
        for have in header..wire.len() {
            assert_eq!(dec.buffer_room(&wire[..have]), Some(wire.len()), "{have}");
        }
    }

    #[test]
    fn buffer_room_is_none_until_the_header_is_complete() {
        let (wire, header) = client_frame(70_000);
        assert_eq!(header, 2 + 8 + 4);
        let dec = server();
        for have in 0..header {
            assert_eq!(dec.buffer_room(&wire[..have]), None, "{have}");
        }
    }

    #[test]
    fn buffer_room_is_none_for_a_frame_that_ends_within_the_bytes() {
        let (mut wire, _) = client_frame(300);
        let dec = server();
        assert_eq!(dec.buffer_room(&wire), None);
        // Only the first frame counts: a second one, begun, is the next call's business.
        let (second, _) = client_frame(1000);
        wire.extend_from_slice(&second[..20]);
        assert_eq!(dec.buffer_room(&wire), None);
        // An empty frame, even alone.
        assert_eq!(dec.buffer_room(&client_frame(0).0), None);
    }

    #[test]
    fn a_header_that_arrived_alone_leaves_the_payload_to_size() {
        let (wire, header) = client_frame(300);
        let mut dec = server();
        let mut buf = BytesMut::from(&wire[..header]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.is_empty() && !dec.is_idle());
        // The frame in progress is the payload: nothing of it here yet, 300 bytes to come.
        assert_eq!(dec.buffer_room(&buf), Some(300));
        assert_eq!(dec.buffer_room(&wire[header..header + 100]), Some(300));
        assert_eq!(
            dec.buffer_room(&wire[header..]),
            None,
            "the payload is all there"
        );
        // Sized so, the buffer takes the payload without moving.
        let mut sized = BytesMut::with_capacity(300);
        sized.extend_from_slice(&wire[header..header + 100]);
        let (data_end, alloc_end) = ends(&sized);
        assert_eq!(dec.decode(&mut sized), Ok(None));
        assert_eq!(ends(&sized), (data_end, alloc_end));
        sized.extend_from_slice(&wire[header + 100..]);
        let frame = dec.decode(&mut sized).unwrap().unwrap();
        assert_eq!(frame.payload.as_ptr().addr() + 300, alloc_end);
    }

    #[test]
    fn buffer_room_is_the_room_decode_reserves_mid_payload() {
        let (wire, header) = client_frame(3 << 20);
        let mut dec = server();
        let mut buf = BytesMut::from(&wire[..header + 4096]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        let room = dec.buffer_room(&buf).unwrap();
        assert_eq!(room, 4096 + MAX_RESERVE);
        assert!(buf.capacity() >= room, "{} < {room}", buf.capacity());
    }

    #[test]
    fn a_frame_longer_than_the_reserve_gets_the_rule_not_its_length() {
        // 16 MiB announced, 4 KiB of it read: decode reserves MAX_RESERVE beyond what is there,
        // and a buffer sized by buffer_room is one it finds that room in.
        let (wire, header) = client_frame(16 << 20);
        let read = &wire[..header + 4096];
        let mut dec = server();
        let room = dec.buffer_room(read).unwrap();
        assert_eq!(room, header + 4096 + MAX_RESERVE);
        let mut buf = BytesMut::with_capacity(room);
        buf.extend_from_slice(read);
        let (data_end, alloc_end) = ends(&buf);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert_eq!(ends(&buf), (data_end, alloc_end));
    }

    #[test]
    fn buffer_room_is_none_for_a_frame_decode_will_refuse() {
        let limits = Limits::default().with_max_frame_payload(1000);
        let dec = Decoder::new(Role::Server, limits);
        let (too_long, header) = client_frame(1001);
        assert_eq!(dec.buffer_room(&too_long[..header]), None, "over the limit");
        let (fits, header) = client_frame(1000);
        assert_eq!(dec.buffer_room(&fits[..header]), Some(fits.len()));
        // An unmasked frame to a server; a header that is malformed (reserved opcode).
        let mut unmasked = BytesMut::new();
        Encoder::new(Role::Server).encode(OpCode::Binary, true, &[0; 200], &mut unmasked);
        assert_eq!(dec.buffer_room(&unmasked[..4]), None);
        assert_eq!(dec.buffer_room(&[0x83, 0xfe, 0x01, 0x00]), None);
        // A 64-bit length with the top bit set, and a well-formed one far over the limit.
        let mut huge = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(dec.buffer_room(&huge), None);
        huge[2] = 0x7f;
        assert_eq!(dec.buffer_room(&huge), None);
    }

    #[test]
    fn buffer_room_is_none_once_the_decoder_has_failed() {
        let mut dec = server();
        let mut bad = BytesMut::from(&[0x83, 0x80, 0, 0, 0, 0][..]);
        assert!(dec.decode(&mut bad).is_err());
        let (wire, header) = client_frame(300);
        assert_eq!(dec.buffer_room(&wire[..header]), None);
    }
}
