//! How a connection is accepted, read, written, timed and closed, and how messages cross
//! instances: the behaviour behind [`crate::Builder`], [`crate::Server`] and
//! [`crate::ServerConfig`], one section per concept (each names the module that holds it).
//!
//! # The handshake (`accept`)
//!
//! tokio accepts; each connection's handshake runs in its own task. The request head is read
//! under [`ServerConfig::handshake_timeout`](crate::ServerConfig::handshake_timeout) (10 s,
//! then 408) and parsed under [`Limits`](oyez_frame::Limits) (16 KiB and 64 headers, then
//! 431; a malformed head 400). A request that is not an upgrade goes to the
//! [`HttpHandler`](crate::HttpHandler), if one is registered ([`crate::http`]); one that the
//! handler leaves, or any request when there is none, continues as an upgrade: no route
//! matches, 404; not an upgrade or a `Sec-WebSocket-Version` other than 13, 426 (with
//! `Sec-WebSocket-Version: 13`); a missing or bad key, 400; an `Origin` not in
//! [`ServerConfig::allowed_origins`](crate::ServerConfig::allowed_origins), 403; over
//! [`ServerConfig::max_connections`](crate::ServerConfig::max_connections), 503. Each refusal
//! counts in [`Stats::handshakes_rejected`](crate::Stats::handshakes_rejected). The `101` is
//! prepared but not written: the shard writes it once the connection is registered, so a
//! client that has seen it is reached by every broadcast sent after.
//!
//! # Shards (`shard`)
//!
//! The upgraded socket leaves tokio and goes to one shard, round robin: a thread running a
//! `mio` event loop over a slab of connections ([`ServerConfig::shards`](crate::ServerConfig::shards),
//! one per core by default), in the manner of uWebSockets. The shard owns each of its
//! connections' socket, [`Session`](oyez_frame::Session) and outbound queue, and runs their
//! handlers' callbacks. Everyone else reaches a connection through its shard's inbox (a
//! locked list of commands and a waker); a callback on the same shard posts to a
//! thread-local queue instead, with no lock and no wake-up, applied right after it returns.
//! A broadcast reaches a shard as one command, however many of its connections it is for.
//!
//! Why not a tokio task per connection: an idle tokio connection costs its task, its I/O
//! registration and its channel, over a kilobyte before any WebSocket state; a slab entry
//! costs only the state. An idle connection here is its slab entry, its `Session` and its
//! registry entry (about 500 bytes of server memory in all): no read or write buffer, no
//! task, no channel.
//!
//! A shard knows the server only through the narrow interface the server hands it when it
//! starts (register a connection, run its route's handler, unregister it); it never reads
//! the server's state.
//!
//! # Reading (`shard::read`)
//!
//! Readiness is edge-triggered. With no partial frame pending, one `recv` of up to 64 KiB
//! goes into the shard's receive block (256 KiB, never zeroed: the read is into
//! uninitialised memory, the crate's one `unsafe`, `shard::recv`), and the frames it holds
//! are views of the block, handed to the handler without a copy; once their payloads are
//! dropped the block is reused from its start, in cache. The rest of a frame that does not
//! end in the read moves into a buffer of the connection's own, sized for that frame by the
//! session's rule; a frame larger than the read gets a buffer from the shard's pool, reused
//! once its payloads are dropped (so the allocator does not hand 1 MiB back and fault it in
//! again per message), and is read straight into it, up to 1 MiB per `recv`. A connection
//! that filled its read is read again only after the others, so one busy peer cannot starve
//! them. A read of 4 KiB or more writes its connection's replies at once, while the bytes
//! are in cache; smaller reads wait for the end of the loop iteration.
//!
//! The session decodes, unmasks and checks UTF-8 as bytes arrive and enforces the limits
//! (frame 16 MiB, message 64 MiB, 131,072 fragments by default), closing with 1002, 1007 or
//! 1009 as [`oyez_frame`] decides; messages before a protocol error are handed out first.
//! A payload kept beyond its callback keeps its receive block (256 KiB) alive: copy what you
//! store ([`Handler::on_message`](crate::Handler::on_message)).
//!
//! # Writing (`shard::output`, `shard::write_queue`)
//!
//! Everything queued for a connection goes out in one vectored `sendmsg` per loop iteration
//! (up to 1,024 buffers; `send` for one), the socket's own calls rather than `write`. What
//! the socket refuses waits with the connection for its writable event.
//!
//! # Backpressure (`shard::deliver`)
//!
//! Each connection's backlog (bytes in its session plus bytes the socket has not taken) is
//! bounded by [`ServerConfig::max_backlog`](crate::ServerConfig::max_backlog) (1 MiB by
//! default; 0 is unbounded). A message for a connection already at the bound drops the
//! connection as a slow client: everything queued for it is discarded, it gets close 1008
//! "slow client" (or an immediate hang-up if a frame is half written) and one second to take
//! it, and [`Stats::slow_dropped`](crate::Stats::slow_dropped) counts it. A message larger
//! than the bound still goes to a client that keeps up. The sender and the other recipients
//! never wait for a slow one.
//!
//! # Timers (`shard::timers`)
//!
//! One heap of deadlines per shard, a millisecond resolution, one live entry per connection:
//! keepalive pings ([`ServerConfig::keepalive`](crate::ServerConfig::keepalive)), the pong
//! and close timeouts, the idle timeout
//! ([`ServerConfig::idle_timeout`](crate::ServerConfig::idle_timeout): close 1001 "idle
//! timeout", counted in [`Stats::idle_closed`](crate::Stats::idle_closed)), a slow client's
//! grace, and the close timeout (5 s) for output left after the close.
//!
//! # The end (`shard::lifecycle`)
//!
//! On the close handshake, an EOF, an error, a timeout or shutdown, the connection's
//! `on_close` runs with the peer's code (1005 without one, 1006 without a close handshake),
//! it leaves the registry and, with a user session, the mega roster; then its socket closes.
//! A callback that panics is caught (`shard::guard`): its connection is closed with 1011 and
//! [`Stats::handler_panics`](crate::Stats::handler_panics) counts it; the shard and its other
//! connections carry on. [`Server::shutdown`](crate::Server::shutdown) stops accepting,
//! closes every connection with 1001 "server shutdown", waits for them (at most the close
//! timeout), then leaves the clusters.
//!
//! # TLS (`tls`, `accept::tls`, `shard::tls`)
//!
//! With [`ServerConfig::tls`](crate::ServerConfig::tls), every connection on the port is
//! TLS. The TLS handshake runs on tokio (tokio-rustls, rustls' `ring` provider chosen
//! explicitly, ALPN `http/1.1`) under the handshake timeout, then the HTTP exchange above
//! over the TLS stream. The upgraded connection goes to its shard with its
//! `rustls::ServerConnection`, kept beside the slab by slot (a plain connection's entry does
//! not grow); the shard drives it: TLS records in with `read_tls` and `process_new_packets`
//! (1 MiB per turn), plaintext into the session, the session's output through rustls'
//! writer and out with `write_tls`. Plaintext that rustls had decrypted behind the upgrade
//! request is read at adoption. A TLS error, or the peer's `close_notify` or EOF before
//! the close handshake, ends the connection (1006); a connection ends only once rustls has
//! sent what it holds, with a `close_notify`. [`Server::reload_tls`](crate::Server::reload_tls)
//! reads both files again for new handshakes; a pair that fails to load changes nothing.
//!
//! # Clusters (`cluster`)
//!
//! Local delivery always comes first; then [`Server::broadcast`](crate::Server::broadcast)
//! publishes for the other instances, and what they send is delivered here and never
//! published again (no loops). An [`Audience`](crate::Audience) maps to the wires in one
//! place each way:
//!
//! | audience | Tina4 (`tina4:ws`) | mega (`<prefix>.<app>.*`) |
//! | --- | --- | --- |
//! | all | `kind:"all"` | — |
//! | a path | `kind:"path"` | `bcast` for the namespace, through [`Server::broadcast_ns`](crate::Server::broadcast_ns) |
//! | a room | `kind:"room"` | — |
//! | a user | — | `direct` (text: JSON as it is, other text as a JSON string) |
//! | except connections | `exclude`: the first id (the wire has room for one) | — |
//! | except sessions | — | `exceptSessionIds` |
//!
//! Delivery across instances is at most once, in per-publisher order, with every drop
//! counted (`oyez_backplane::Stats`); see `oyez-backplane` for the transports.
