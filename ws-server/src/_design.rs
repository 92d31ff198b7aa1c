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
//! [`ServerConfig::max_connections`](crate::ServerConfig::max_connections), 503. Then the
//! upgrade's admission (`accept::admit`, the rules in [`crate::upgrade`]): the client
//! address's limits (`door`: connections open and upgrades in the last second, 429), the
//! route's subprotocols (400 when it requires one and none is offered), and the
//! [`UpgradeHook`](crate::upgrade::UpgradeHook), if any, in this same task and under the same
//! deadline (503 if it has not decided by then, 500 if it panics or decides what the server
//! cannot do), which accepts (with a subprotocol, an identity and headers) or refuses with its
//! status. Each refusal counts in
//! [`Stats::handshakes_rejected`](crate::Stats::handshakes_rejected) and by status
//! ([`Stats::rejected_with`](crate::Stats::rejected_with)). The `101` is prepared
//! but not written: the shard writes it once the connection is registered (with its
//! identity, if the hook gave one: the user session, fixed, before `on_open`), so a client
//! that has seen it is reached by every broadcast sent after. A connection counts against its
//! address from its admission until it ends.
//!
//! # permessage-deflate (`accept::deflate`, the session)
//!
//! On by default ([`ServerConfig::deflate`](crate::ServerConfig::deflate)). At the upgrade,
//! the first acceptable permessage-deflate offer is agreed
//! ([`negotiate_deflate`](oyez_frame::handshake::server::negotiate_deflate)): the 101 answers
//! with `server_no_context_takeover` always, and with `client_no_context_takeover` unless
//! client context takeover is allowed ([`DeflateConfig`](crate::deflate::DeflateConfig)); an
//! offer with an unknown, repeated or malformed parameter is declined, not refused; Safari 15.0
//! to 15.3, which mishandle `client_no_context_takeover`, get no compression. The connection's
//! [`Session`](oyez_frame::Session) then compresses what it sends (messages of at least
//! [`DeflateConfig::min_size`](crate::deflate::DeflateConfig::min_size) bytes that
//! compressing makes smaller) and inflates what it receives as it arrives, on the shard
//! thread; a compressed message's limit is its inflated size (1009), its text is checked as
//! it inflates (1007), and RSV1 out of place is 1002.
//!
//! A delivery to more than one connection ([`Server::broadcast`](crate::Server::broadcast),
//! relays from other instances) carries a broadcast frame
//! ([`SharedFrame::broadcast`](oyez_frame::SharedFrame::broadcast)): the first shard that
//! needs the compressed form makes it (with its thread's compressor), once, and every
//! recipient that agreed permessage-deflate queues those same bytes; the others queue the
//! plain frame, itself made once if anyone needs it. A recipient that agreed a smaller
//! window than the server's (a client's `server_max_window_bits`) is compressed for on its
//! own. A message to one connection is compressed for it alone.
//!
//! Memory: a connection that agreed it holds 88 bytes more (its parameters); no compressor or
//! inflater is kept per connection (each shard thread has one compressor and a few spare
//! inflaters). A client allowed to keep its context costs its window (2^w bytes) for as long
//! as it is connected. The figures and their test: [`oyez_frame::deflate`].
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
//! registry entry (about 430 bytes of server memory in all; about 150 more with
//! permessage-deflate agreed): no read or write buffer, no task, no channel.
//!
//! A shard knows the server only through the narrow interface the server hands it when it
//! starts (register a connection, run its route's handler, unregister it); it never reads
//! the server's state.
//!
//! # Reading (`shard::read`)
//!
//! Readiness is edge-triggered. With no partial frame pending, one `recv` of up to 64 KiB
//! goes into the shard's receive block (256 KiB, never zeroed: the read is into
//! uninitialised memory, one of the crate's two `unsafe`s, `shard::recv`), and the frames it holds
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
//! # Memory per message (`arena`, `shard::quiet`, `registry::fanout`, `shard::inbox`)
//!
//! In the steady state a message allocates nothing: an echo of 20 B or 16 KiB and a
//! broadcast fanned out to many connections make no heap allocation once warm
//! (`tests/alloc.rs` counts them with a counting global allocator on the shard's thread).
//! How:
//!
//! - A handler's reply to its own connection (`Conn::send` in a callback) is queued as the
//!   message itself and encoded straight into the connection's session after the callback
//!   returns; a large payload is shared, not copied.
//! - The frames a thread makes for others (a broadcast, a send from another thread) are
//!   written into that thread's frame arena: two 64 KiB blocks, each reclaimed whole once
//!   the frames written from it are dropped; a thread keeps at most the two.
//! - A broadcast's recipients are gathered per shard into buffers the sending thread keeps,
//!   and handed to each shard in one buffer of addresses that the shard and its inbox swap;
//!   the frame is made once, and keeps a compressed form only if some recipient agreed
//!   permessage-deflate.
//! - A busy session keeps its output queue, its event queue and the buffer it encodes into
//!   ([`oyez_frame::Session::shrink`]). Once a second, a connection that was not busy since
//!   the last sweep gives them back, so an idle connection holds none of them
//!   ([`Stats::connections_holding_buffers`](crate::Stats::connections_holding_buffers)
//!   counts those that do).
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
//! | all | `kind:"all"` | `bcast` for the sender's path, when a client's message is relayed ([`Conn::relay`](crate::Conn::relay)) |
//! | a path | `kind:"path"` | `bcast` for the namespace (also [`Server::broadcast_ns`](crate::Server::broadcast_ns), with a channel) |
//! | a room | `kind:"room"` | `bcast` for the sender's path, when relayed ([`Conn::relay`](crate::Conn::relay)) |
//! | a user | — | `direct` |
//! | except connections | `exclude`: the first id (the wire has room for one) | — |
//! | except sessions | — | `exceptSessionIds` |
//!
//! Mega carries JSON: a text that is JSON goes as it is, other text as a JSON string, binary
//! not at all. Delivery across instances is at most once, in per-publisher order, with every
//! drop counted (`oyez_backplane::Stats`); see `oyez-backplane` for the transports.
//!
//! # The bridge (`cluster`)
//!
//! A server in both clusters is a bridge: a message goes to each cluster that can say who it
//! is for, so a client's relayed path, room or all message goes out twice, as a Tina4
//! envelope and as a mega `bcast`. The mega copy is then marked as bridged (its `o` is the
//! instance id followed by [`BRIDGED_SUFFIX`](oyez_backplane::BRIDGED_SUFFIX)): another
//! server in both clusters skips it (counted in `oyez_bridge_copies_skipped_total`), since
//! the Tina4 envelope reaches it too, while mega nodes deliver it; our own copies coming back
//! are echoes. What arrives from either cluster is delivered and never published again, so
//! bridges make no loops and no duplicates: a Tina4 peer's messages reach the bridges'
//! clients and not the mega nodes', and the other way round. The bridges are assumed to
//! share both clusters.
//!
//! # Counting (`stats`, `metrics`)
//!
//! Per-message figures are counted per shard ([`Stats`](crate::Stats) holds one set of
//! counters per shard, each written by its shard's thread only: a relaxed load and store,
//! no lock, no map lookup, no cache line shared between shards): bytes read and written,
//! messages received and queued, closes by code, and the delivery-time histogram. The
//! accept side counts refusals by status (every refusal goes through one function, so a new
//! one is counted with no change elsewhere), the server its connections, relays and skipped
//! bridged copies, the backplane its envelopes. Nothing is recorded for the metrics:
//! [`Metrics`](crate::Metrics) reads it all at scrape time, the registry's and the roster's
//! sizes too. A broadcast is stamped once where it starts on this instance (the local
//! publish, or the relay task's receipt of a decoded envelope), and each shard it reaches
//! records the time to the moment it queues the frame for its recipients; single sends are
//! not stamped. Without the crate's `metrics` feature the shards count nothing per message
//! and read no clock.
