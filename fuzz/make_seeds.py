#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/seeds/<target>/ (RFC 6455 vectors and
hand-made edge cases). Re-run after changing it; `cargo test -p oyez-frame` replays them."""
import base64, hashlib, os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(first, payload, mask=None):
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([first, m | n])
    elif n <= 0xFFFF:
        head = bytes([first, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def masked(first, payload):
    return frame(first, payload, MASK)


server_frames = {
    "hello": masked(0x81, b"Hello"),
    "fragmented": masked(0x01, b"Hel") + masked(0x89, b"p") + masked(0x80, b"lo"),
    "binary-256": masked(0x82, bytes(range(256))),
    "close-1000": masked(0x88, b"\x03\xe8bye"),
    "close-1byte": masked(0x88, b"\x03"),
    "close-1005": masked(0x88, b"\x03\xed"),
    "reserved-opcode": masked(0x83, b""),
    "rsv1": masked(0xC1, b"x"),
    "unmasked": frame(0x81, b"Hello"),
    "bad-utf8": masked(0x81, "κόσμε".encode() + b"\xf4\x90\x80\x80"),
    "truncated-utf8": masked(0x81, b"\xe2\x82"),
    "nonminimal": bytes([0x82, 0xFE, 0x00, 0x05]) + MASK + b"abcde",
    "top-bit": bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + MASK,
    "big-claim": bytes([0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0]) + MASK,
    "ping-126": masked(0x89, b"a" * 126),
    "continuation-first": masked(0x80, b"x"),
    "text-in-text": masked(0x01, b"a") + masked(0x81, b"b"),
}
client_frames = {
    "hello": frame(0x81, b"Hello"),
    "fragmented": frame(0x01, b"Hel") + frame(0x80, b"lo"),
    "ping": frame(0x89, b"Hello"),
    "len-256": bytes([0x82, 0x7E, 0x01, 0x00]) + bytes(256),
    "len-64k": bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]) + bytes(65536),
    "masked": masked(0x81, b"Hello"),
    "close-empty": frame(0x88, b""),
}

REQUEST = (b"GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
KEY = base64.b64encode(bytes([7] * 16))
ACCEPT = base64.b64encode(hashlib.sha1(KEY + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\nSec-WebSocket-Protocol: a\r\n\r\n")

texts = ["", "Hello", "κόσμε", "€𝄞", "a" * 100]
bad_texts = [b"\xff", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\x80", b"ab\xf4\x90\x80\x80cd"]

corpus = {
    "frame_decode_server": server_frames,
    "frame_decode_client": client_frames,
    "frame_roundtrip": {**{"s-" + k: v for k, v in server_frames.items()},
                        **{"c-" + k: v for k, v in client_frames.items() if len(v) < 5000}},
    "frame_chunked": {k: bytes([3, 10, 80, 200]) + v for k, v in server_frames.items()},
    "frame_header": {k: v[:14] for k, v in server_frames.items()},
    "utf8_differential": {**{f"ok-{i}": bytes([2, 60, 130]) + t.encode() for i, t in enumerate(texts)},
                          **{f"bad-{i}": bytes([1, 128]) + t for i, t in enumerate(bad_texts)}},
    "mask_differential": {f"len-{n}": MASK + bytes([o]) + bytes(range(n % 256)) * (n // 256 + 1)
                          for n, o in [(0, 0), (5, 1), (8, 3), (17, 6), (300, 7)]},
    "handshake_request": {
        "rfc": REQUEST,
        "early-frame": REQUEST + masked(0x81, b"hi"),
        "version-8": REQUEST.replace(b"Version: 13", b"Version: 8"),
        "no-key": REQUEST.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b""),
        "post": REQUEST.replace(b"GET", b"POST"),
        "lf-only": REQUEST.replace(b"\r\n", b"\n"),
        "plain-http": b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
    },
    "handshake_response": {
        "ok": RESPONSE,
        "404": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        "bad-accept": RESPONSE.replace(ACCEPT, b"x" * 28),
    },
    "session": {
        # op 0: feed N bytes; 2: send binary; 3: ping; 4: close; 5: advance time.
        "hello-then-close": bytes([0, len(server_frames["hello"])]) + server_frames["hello"]
                            + bytes([0, len(server_frames["close-1000"])]) + server_frames["close-1000"],
        "timers": bytes([5, 40, 5, 40, 5, 200, 5, 100]),
        "close-then-data": bytes([4, 1, 0, 11]) + server_frames["hello"] + bytes([5, 60]),
        "error": bytes([0, 6]) + server_frames["reserved-opcode"] + bytes([2, 3, 1, 2, 3]),
    },
}


# --- JWT (oyez_server::__fuzz::token): a mode byte, then a token, claims or a header -------
import hmac as _hmac, json as _json
FUZZ_SECRET = b"fuzz-secret-fuzz-secret-fuzz-secret!"  # oyez_server::__fuzz::SECRET
NOW = 1_700_000_000  # oyez_server::__fuzz::now()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def jwt(header, claims, secret=FUZZ_SECRET, sig=None):
    h = header if isinstance(header, bytes) else _json.dumps(header, separators=(",", ":")).encode()
    c = claims if isinstance(claims, bytes) else _json.dumps(claims, separators=(",", ":")).encode()
    signing = b64url(h) + b"." + b64url(c)
    if sig is None:
        sig = _hmac.new(secret, signing, hashlib.sha256).digest()
    return signing + b"." + b64url(sig)


HS = {"alg": "HS256", "typ": "JWT"}
ALICE = {"sub": "alice", "exp": NOW + 3600}
corpus["token"] = {
    "valid": b"\0" + jwt(HS, ALICE),
    "valid-paths-meta": b"\0" + jwt(HS, dict(ALICE, paths=["/rooms/lobby", "/chat/*"], meta={"name": "A"})),
    "expired": b"\0" + jwt(HS, {"sub": "a", "exp": NOW - 3600}),
    "not-yet": b"\0" + jwt(HS, {"sub": "a", "exp": NOW + 9000, "nbf": NOW + 3600}),
    "no-sub": b"\0" + jwt(HS, {"exp": NOW + 60}),
    "forged": b"\0" + jwt(HS, ALICE, secret=b"x" * 32),
    "none": b"\0" + jwt({"alg": "none"}, ALICE, sig=b""),
    "rs256-header": b"\0" + jwt({"alg": "RS256"}, ALICE, sig=bytes(256)),
    "es256-header": b"\0" + jwt({"alg": "ES256"}, ALICE, sig=bytes(64)),
    "crit": b"\0" + jwt({"alg": "HS256", "crit": ["b64"]}, ALICE),
    "two-parts": b"\0" + b64url(b'{"alg":"HS256"}') + b"." + b64url(b"{}"),
    "padded": b"\0" + jwt(HS, ALICE) + b"=",
    "claims": b"\1" + _json.dumps(ALICE).encode(),
    "claims-aud-list": b"\1" + _json.dumps(dict(ALICE, aud=["a", "b"], iss="i", nbf=NOW)).encode(),
    "claims-dup": b"\1" + b'{"sub":"a","sub":"b","exp":1800000000}',
    "claims-types": b"\1" + b'{"sub":1,"exp":"soon","paths":"/x"}',
    "claims-float": b"\1" + b'{"sub":"a","exp":1.7e9,"nbf":-1e308}',
    "header": b"\2" + b'{"alg":"HS256","kid":"k1"}',
    "header-escaped": b"\2" + b'{"alg":"HS\\u0032\\u00356"}',
    "header-crit-null": b"\2" + b'{"alg":"HS256","crit":null}',
    "header-none": b"\2" + b'{"alg":"none"}',
    "confusion": b"\3" + _json.dumps(ALICE).encode(),
}
# --- public keys (oyez_server::__fuzz::public_key): PEM text, or DER ------------------------
KEYS = os.path.join(HERE, "..", "ws-server", "tests", "keys")
corpus["public_key"] = {
    name: open(os.path.join(KEYS, name), "rb").read()
    for name in ["rsa-public.pem", "rsa-public-pkcs1.pem", "ec-public.pem", "ec384-public.pem", "ec-private.pem"]
}
for name in ["rsa-public.pem", "ec-public.pem"]:
    pem = corpus["public_key"][name].decode()
    body = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
    corpus["public_key"][name.replace(".pem", ".der")] = base64.b64decode(body)
def raw_deflate(data, wbits=15, level=6, keep=None):
    """A message as permessage-deflate sends it: raw deflate, sync flush, tail removed."""
    c = keep or zlib.compressobj(level, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def pieces(first, payload, size=200):
    """deflate_session's frame format: (first byte, length, payload) per frame, split into
    frames of at most `size` bytes; the first keeps `first`, the rest are continuations
    (RSV1 clear), the last has FIN."""
    chunks = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    out = b""
    for i, ch in enumerate(chunks):
        b = (first & 0x7F) if i == 0 else 0
        if i == len(chunks) - 1:
            b |= 0x80
        out += bytes([b, len(ch)]) + ch
    return out


ctx = zlib.compressobj(6, zlib.DEFLATED, -15)
chat = b'{"type":"chat","room":"lobby","from":"alice","text":"hello hello hello"}'
corpus["deflate_extensions"] = {
    "browser": bytes([1, 0]) + b"permessage-deflate; client_max_window_bits",
    "autobahn-13-7": bytes([1, 0]) + b"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, permessage-deflate; client_no_context_takeover; client_max_window_bits",
    "two-lines": bytes([1, 0x31]) + b"x-webkit-deflate-frame\npermessage-deflate; server_max_window_bits=\"10\"",
    "bad-params": bytes([1, 0xfe]) + b"permessage-deflate; server_max_window_bits=08, permessage-deflate; foo; bar=\"a b\"",
    "window-8": bytes([1, 0x81]) + b"permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
    "answer": bytes([1, 0]) + b"permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
}
corpus["deflate_session"] = {
    # Control bytes: bit 0 of the first = the client keeps its context; the rest cut the input.
    "hello": bytes([3, 0, 10, 90]) + pieces(0xC1, raw_deflate(chat)),
    "fragmented": bytes([3, 0, 20, 200]) + pieces(0xC1, raw_deflate(chat * 20), 17),
    "binary-empty": bytes([1, 0]) + pieces(0xC2, b""),
    "plain-between": bytes([1, 0]) + pieces(0x81, b"plain") + pieces(0xC1, raw_deflate(chat)) + bytes([0x89, 1]) + b"p",
    "rsv1-continuation": bytes([1, 0]) + bytes([0x41, 3]) + raw_deflate(chat)[:3] + bytes([0xC0, 2]) + b"ab",
    "rsv1-ping": bytes([1, 0]) + bytes([0xC9, 1]) + b"x",
    "corrupt": bytes([1, 0]) + pieces(0xC2, b"\xff\xff\xff\xff"),
    "bomb": bytes([2, 0, 128]) + pieces(0xC2, raw_deflate(bytes(4 << 20), level=9), 250),
    "bad-utf8": bytes([2, 0, 100]) + pieces(0xC1, raw_deflate(b"ok " * 50 + b"\xff" + b"tail" * 50)),
    "context": bytes([2, 1, 60]) + pieces(0xC1, raw_deflate(chat, keep=ctx)) + pieces(0xC1, raw_deflate(chat, keep=ctx)),
    "window-9": bytes([2, 3, 50]) + pieces(0xC1, raw_deflate(chat * 5, wbits=9)),
}

# Only this script's files are (re)written: crash inputs committed beside them stay.
for target, files in corpus.items():
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
print("seeds:", sum(len(v) for v in corpus.values()), "files in", len(corpus), "targets")
