//! A small raw WebSocket client for the load tool, on `oyez_frame`'s handshake, encoder and
//! decoder.
//!
//! It is built to cost the generator as little as possible per message:
//! - every message of a run is a copy of one pre-encoded, pre-masked frame ([`Template`]);
//!   only the first 16 payload bytes (sequence number and timestamp) are written and masked
//!   per message, and a large payload's tail is written straight from the shared template;
//! - a batch of messages goes out in one write;
//! - one task per connection reads and writes; while a write waits for the socket, the task
//!   keeps reading, so a peer that echoes while we send never deadlocks us.
//!
//! Each connection masks with one random key for the whole run (drawn from the OS with
//! [`MaskSource::random`]). A server cannot tell, and must unmask every frame all the same;
//! a browser would use a fresh key per frame (RFC 6455 §5.3), which costs the client, not the
//! server.

use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use bytes::{Buf, Bytes, BytesMut};
use oyez_frame::deflate::DeflateConfig;
use oyez_frame::handshake::client::{ClientHandshake, ClientOptions};
use oyez_frame::{Decoder, Encoder, Frame, Limits, MaskSource, OpCode, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpSocket, TcpStream};

/// Payload bytes every load message starts with: sequence number and send timestamp (ns),
/// both little-endian `u64`.
pub const STAMP_LEN: usize = 16;

/// Reads reserve at least this much room.
const READ_RESERVE: usize = 64 << 10;

/// Messages whose frame is at most this long are copied whole into the write batch; longer
/// ones are written as their patched head plus the template's shared tail.
const INLINE_FRAME: usize = 16 << 10;

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where to connect: `ws://host:port/path?query`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resolved server address.
    pub addr: SocketAddr,
    /// The `Host` header (host and port as given).
    pub host: String,
    /// The request target (path and query).
    pub path: String,
    /// Offer permessage-deflate as browsers do (`permessage-deflate; client_max_window_bits`).
    pub deflate: bool,
}

impl Target {
    /// Parses `ws://host[:port][/path]` (port 80 by default, path `/` by default).
    ///
    /// # Errors
    /// Not a `ws://` URL, or the host does not resolve.
    pub fn parse(url: &str) -> io::Result<Self> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| other(format!("{url}: only ws:// URLs are supported")))?;
        let (host, path) = rest
            .find('/')
            .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        let with_port = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| other(format!("{host}: no address")))?;
        Ok(Self {
            addr,
            host: host.to_owned(),
            path: path.to_owned(),
            deflate: false,
        })
    }

    /// The same target, offering permessage-deflate or not.
    #[must_use]
    pub fn with_deflate(&self, on: bool) -> Self {
        Self {
            deflate: on,
            ..self.clone()
        }
    }

    /// The same server, another request target.
    #[must_use]
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            path: path.to_owned(),
            ..self.clone()
        }
    }
}

/// The `i`-th of `sources` loopback source addresses, 127.0.0.1 to 127.0.0.`sources`
/// (`None` for a single source: let the kernel choose).
pub fn source_addr(i: usize, sources: usize) -> Option<Ipv4Addr> {
    if sources <= 1 {
        return None;
    }
    let n = u8::try_from(1 + i % sources.min(254)).expect("at most 254 sources");
    Some(Ipv4Addr::new(127, 0, 0, n))
}

/// permessage-deflate as a server agreed it, as far as the load tool needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Deflated {
    /// The server keeps its compression context between messages (no
    /// `server_no_context_takeover`): an inflater must keep its window too.
    pub server_context: bool,
}

/// One client connection after the opening handshake.
#[derive(Debug)]
pub struct WsConn {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    dec: Decoder,
    /// The server agreed permessage-deflate: frames may carry RSV1 (compressed).
    deflate: Option<Deflated>,
    /// Bytes read from the socket so far.
    read_bytes: u64,
}

/// Connects to `target`, from `source` if given (the socket is bound to it before connect),
/// and completes the opening handshake.
///
/// # Errors
/// The connection or the handshake failed.
pub async fn connect(target: &Target, source: Option<Ipv4Addr>) -> io::Result<WsConn> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
    }
    let mut stream = socket.connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let mut out = BytesMut::with_capacity(256);
    let mut options = ClientOptions::default();
    options.deflate = target.deflate.then(DeflateConfig::default);
    let hs = ClientHandshake::with_options(&target.host, &target.path, &options, &mut out);
    stream.write_all(&out).await?;
    let limits = Limits::default();
    let mut rbuf = BytesMut::with_capacity(512);
    let agreed = loop {
        if let Some(response) = hs.parse_response(&mut rbuf, &limits).map_err(other)? {
            break response.deflate();
        }
        if stream.read_buf(&mut rbuf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    if rbuf.is_empty() {
        // Idle connections hold no buffer on our side either.
        rbuf = BytesMut::new();
    }
    let deflate = agreed.map(|a| Deflated {
        server_context: !a.params().server_no_context_takeover(),
    });
    let mut dec = Decoder::new(Role::Client, limits);
    if deflate.is_some() {
        dec.set_extension_rsv(oyez_frame::FrameHeader::RSV1);
    }
    Ok(WsConn {
        stream,
        rbuf,
        wbuf: BytesMut::new(),
        dec,
        deflate,
        read_bytes: 0,
    })
}

impl WsConn {
    /// Reads once (waiting for data); an orderly EOF is an error, since the load tool never
    /// expects the server to go first.
    ///
    /// # Errors
    /// EOF or a socket error.
    pub async fn read_some(&mut self) -> io::Result<usize> {
        self.rbuf.reserve(READ_RESERVE);
        match self.stream.read_buf(&mut self.rbuf).await? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.read_bytes += n as u64;
                Ok(n)
            }
        }
    }

    /// What the server agreed of permessage-deflate, if it did.
    pub fn deflate(&self) -> Option<Deflated> {
        self.deflate
    }

    /// Bytes read from the socket so far (frames as on the wire, compressed or not).
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes
    }

    /// The next whole frame already read, if any.
    ///
    /// # Errors
    /// The server broke the protocol.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        self.dec.decode(&mut self.rbuf).map_err(other)
    }

    /// Whether the connection is still open as far as we can tell without waiting: no EOF,
    /// no error (a pending byte also counts as open).
    pub fn is_alive(&self) -> bool {
        let mut byte = [0u8; 1];
        match self.stream.try_read(&mut byte) {
            Ok(n) => n > 0,
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        }
    }

    /// Closes cleanly: a masked close frame 1000, then waits (at most `wait`) for the
    /// server's close frame or the end of the stream. Returns whether the server answered.
    ///
    /// # Errors
    /// A socket error while sending the close frame.
    pub async fn close(mut self, wait: std::time::Duration) -> io::Result<bool> {
        let mut frame = BytesMut::with_capacity(8);
        Encoder::new(Role::Client).encode(OpCode::Close, true, &1000u16.to_be_bytes(), &mut frame);
        self.write_all(&mut frame.freeze()).await?;
        let answered = tokio::time::timeout(wait, async {
            loop {
                while let Some(f) = self.next_frame().map_err(|_| ())? {
                    if f.header.opcode == OpCode::Close {
                        return Ok::<(), ()>(());
                    }
                }
                self.read_some().await.map_err(|_| ())?;
            }
        })
        .await;
        Ok(matches!(answered, Ok(Ok(()))))
    }

    /// Drops the TCP connection without a close frame: with `reset`, a reset (`SO_LINGER`
    /// 0) rather than an orderly FIN.
    pub fn abort(self, reset: bool) {
        if reset {
            #[allow(deprecated)] // set_linger(0) only resets; it never blocks in close.
            let _ = self.stream.set_linger(Some(std::time::Duration::ZERO));
        }
    }

    /// Sends the messages `seqs` of `template`, each stamped with `stamp`, in as few writes
    /// as possible.
    ///
    /// # Errors
    /// A socket error.
    pub async fn send(
        &mut self,
        template: &Template,
        seqs: core::ops::Range<u64>,
        stamp: u64,
    ) -> io::Result<()> {
        if template.frame_len() <= INLINE_FRAME {
            let mut wbuf = std::mem::take(&mut self.wbuf);
            wbuf.clear();
            for seq in seqs {
                template.put(seq, stamp, &mut wbuf, true);
            }
            let r = self.write_all(&mut (&wbuf[..])).await;
            self.wbuf = wbuf;
            return r;
        }
        for seq in seqs {
            let mut head = BytesMut::with_capacity(template.head_len + template.stamp_len());
            template.put(seq, stamp, &mut head, false);
            let mut data = head.chain(template.tail(seq));
            self.write_all(&mut data).await?;
        }
        Ok(())
    }

    /// Writes all of `data`; while the socket does not take more, reads what arrives into
    /// the read buffer (to be decoded by the caller later).
    async fn write_all(&mut self, data: &mut impl Buf) -> io::Result<()> {
        while data.has_remaining() {
            let mut iov = [IoSlice::new(&[]); 4];
            let n = data.chunks_vectored(&mut iov);
            match self.stream.try_write_vectored(&iov[..n]) {
                Ok(k) => {
                    data.advance(k);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let ready = self
                .stream
                .ready(Interest::READABLE | Interest::WRITABLE)
                .await?;
            if ready.is_readable() {
                self.rbuf.reserve(READ_RESERVE);
                match self.stream.try_read_buf(&mut self.rbuf) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

/// One pre-encoded, pre-masked frame of `size` payload bytes, from which every message of a
/// run is made by writing its sequence number and timestamp into its first bytes: binary
/// ([`Template::new`]: 16 bytes, little-endian) or chat-like JSON text ([`Template::json`]:
/// two 16-digit hex fields at the front of the object).
#[derive(Debug, Clone)]
pub struct Template {
    /// The frame of each variant (all the same length); message `seq` is variant
    /// `seq % len`.
    frames: Vec<Bytes>,
    head_len: usize,
    key: [u8; 4],
    json: bool,
}

/// JSON messages come in this many variants (different chat text), 64 KiB of 1 KiB messages:
/// more than a 32 KiB window, so a server that keeps its compression context across
/// messages gains no more than a real chat would from it.
const JSON_VARIANTS: u64 = 64;

/// Where a JSON message's stamp is: `{"seq":"<16 hex>","ts":"<16 hex>",…`.
const JSON_SEQ: usize = 8;
const JSON_TS: usize = 32;
/// The bytes of a JSON message up to the end of its stamp.
const JSON_STAMP: usize = 48;
/// The smallest JSON message.
pub const JSON_MIN: usize = 96;

impl Template {
    /// A binary template for `size`-byte messages (at least [`STAMP_LEN`]), masked with a
    /// random key.
    ///
    /// # Panics
    /// `size < STAMP_LEN`.
    pub fn new(size: usize) -> Self {
        assert!(size >= STAMP_LEN, "messages carry a 16-byte stamp");
        Self::with_payload(OpCode::Binary, &crate::payload(size))
    }

    /// A text template: a chat message as JSON of exactly `size` bytes (at least
    /// [`JSON_MIN`]): `{"seq":"…","ts":"…","type":"chat","room":"lobby","from":"alice",
    /// "text":"…"}` with chat words in the text.
    ///
    /// # Panics
    /// `size < JSON_MIN`.
    pub fn json(size: usize) -> Self {
        assert!(
            size >= JSON_MIN,
            "a JSON message is at least {JSON_MIN} bytes"
        );
        let head = r#"{"seq":"0000000000000000","ts":"0000000000000000","type":"chat","room":"lobby","from":"alice","text":""#;
        let variants: Vec<Vec<u8>> = (0..JSON_VARIANTS)
            .map(|v| {
                let words = crate::corpus::json_doc(size * 2, 11 + v);
                // Letters and spaces of chat JSON, without its quotes and braces.
                let filler: Vec<u8> = words
                    .iter()
                    .copied()
                    .filter(|b| b.is_ascii_alphanumeric() || *b == b' ')
                    .collect();
                let mut payload = head.as_bytes().to_vec();
                let room = size - payload.len() - 2;
                payload.extend(filler.iter().copied().cycle().take(room));
                payload.extend_from_slice(b"\"}");
                debug_assert_eq!(payload.len(), size);
                payload
            })
            .collect();
        let mut t = Self::with_payloads(OpCode::Text, &variants);
        t.json = true;
        t
    }

    fn with_payload(opcode: OpCode, payload: &[u8]) -> Self {
        Self::with_payloads(opcode, &[payload.to_vec()])
    }

    fn with_payloads(opcode: OpCode, payloads: &[Vec<u8>]) -> Self {
        let key = MaskSource::random().next_key();
        let mut enc = Encoder::with_mask_source(Role::Client, move || key);
        let frames: Vec<Bytes> = payloads
            .iter()
            .map(|p| {
                let mut frame = BytesMut::with_capacity(p.len() + 14);
                enc.encode(opcode, true, p, &mut frame);
                frame.freeze()
            })
            .collect();
        Self {
            head_len: frames[0].len() - payloads[0].len(),
            frames,
            key,
            json: false,
        }
    }

    /// Message `seq`'s frame.
    fn frame(&self, seq: u64) -> &Bytes {
        let n = self.frames.len() as u64;
        &self.frames[usize::try_from(seq % n).expect("fewer variants than usize::MAX")]
    }

    /// The payload size.
    pub fn size(&self) -> usize {
        self.frames[0].len() - self.head_len
    }

    /// The encoded frame length.
    pub fn frame_len(&self) -> usize {
        self.frames[0].len()
    }

    /// The bytes at the front of the payload that change per message.
    fn stamp_len(&self) -> usize {
        if self.json { JSON_STAMP } else { STAMP_LEN }
    }

    /// Appends message `seq`: the header, the masked stamp and, if `whole`, the rest.
    fn put(&self, seq: u64, stamp: u64, dst: &mut BytesMut, whole: bool) {
        let start = dst.len();
        let len = self.stamp_len();
        let frame = self.frame(seq);
        let end = if whole {
            frame.len()
        } else {
            self.head_len + len
        };
        dst.extend_from_slice(&frame[..end]);
        let at = start + self.head_len;
        let mut plain = [0u8; JSON_STAMP];
        if self.json {
            plain.copy_from_slice(&self.frame_plain_stamp(seq));
            plain[JSON_SEQ..JSON_SEQ + 16].copy_from_slice(format!("{seq:016x}").as_bytes());
            plain[JSON_TS..JSON_TS + 16].copy_from_slice(format!("{stamp:016x}").as_bytes());
        } else {
            plain[..8].copy_from_slice(&seq.to_le_bytes());
            plain[8..16].copy_from_slice(&stamp.to_le_bytes());
        }
        for (i, (d, p)) in dst[at..at + len].iter_mut().zip(plain).enumerate() {
            *d = p ^ self.key[i % 4];
        }
    }

    /// The unmasked first [`JSON_STAMP`] bytes of a JSON template's payload.
    fn frame_plain_stamp(&self, seq: u64) -> [u8; JSON_STAMP] {
        let mut out = [0u8; JSON_STAMP];
        let masked = &self.frame(seq)[self.head_len..self.head_len + JSON_STAMP];
        for (i, (o, m)) in out.iter_mut().zip(masked).enumerate() {
            *o = m ^ self.key[i % 4];
        }
        out
    }

    fn tail(&self, seq: u64) -> Bytes {
        self.frame(seq).slice(self.head_len + self.stamp_len()..)
    }
}

/// The sequence number and timestamp at the front of a received payload: a JSON message's
/// hex fields, or a binary message's first 16 bytes (None if it is shorter than a stamp).
pub fn read_stamp(payload: &[u8]) -> Option<(u64, u64)> {
    if payload.starts_with(br#"{"seq":""#) {
        let hex = |at: usize| {
            let digits = core::str::from_utf8(payload.get(at..at + 16)?).ok()?;
            u64::from_str_radix(digits, 16).ok()
        };
        return Some((hex(JSON_SEQ)?, hex(JSON_TS)?));
    }
    let seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let ts = u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?);
    Some((seq, ts))
}
