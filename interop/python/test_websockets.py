"""Python's `websockets` client (PyPI, not ours) against the real ws-server binary.

Run by scripts/interop.sh with WS_SERVER_BIN set; every server is started here, on
127.0.0.1 port 0, and every wait is bounded.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

WAIT = 5.0
OUT = Path(os.environ.get("INTEROP_OUT") or Path(__file__).resolve().parents[2] / "target" / "interop")


def unique(prefix: str) -> str:
    return prefix + secrets.token_hex(6)


class Server:
    """One ws-server process; its address comes from its `listening addr=` log line."""

    def __init__(self, name: str, **env: str) -> None:
        binary = os.environ.get("WS_SERVER_BIN")
        if not binary:
            raise RuntimeError("WS_SERVER_BIN is not set: run scripts/interop.sh")
        OUT.mkdir(parents=True, exist_ok=True)
        self.log = OUT / f"{name}.log"
        clean = {k: v for k, v in os.environ.items() if not re.match(r"^(TINA4_WS_|MEGA_WS_|WS_JWT_|WS_API_TOKEN$)", k)}
        clean.update(TINA4_WS_HOST="127.0.0.1", TINA4_WS_PORT="0", RUST_LOG="info", NO_COLOR="1", **env)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([binary], env=clean, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 15
        while True:
            text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))
            m = re.search(r"listening addr=(127\.0\.0\.1:\d+)", text)
            if m:
                self.addr = m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {name} exited ({self.proc.returncode}) before listening:\n{text}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"server {name} did not listen within 15 s:\n{text}")
            time.sleep(0.025)
        self.ws = f"ws://{self.addr}"
        self.http = f"http://{self.addr}"

    def stop(self) -> int:
        """SIGTERM, then the exit code (graceful shutdown within 10 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the server did not shut down within 10 s of SIGTERM")


SERVER: Server | None = None


def setUpModule() -> None:
    global SERVER
    SERVER = Server("python-websockets")


def tearDownModule() -> None:
    if SERVER is not None:
        assert SERVER.stop() == 0, "graceful shutdown exits 0"


async def recv(ws, timeout: float = WAIT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def silent(ws, seconds: float = 0.3) -> None:
    try:
        got = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"expected silence, got {got!r}")


def ws_connect(path: str, server: "Server | None" = None):
    s = server or SERVER
    assert s is not None
    # No client-side keepalive pings: the tests send their own.
    return connect(f"{s.ws}{path}", open_timeout=WAIT, close_timeout=WAIT, ping_interval=None,
                   max_size=2**24)


class Echo(unittest.IsolatedAsyncioTestCase):
    async def test_text(self) -> None:
        async with ws_connect("/echo") as ws:
            for text in ["hello", "", "héllo wörld ✓ 日本語 🎉", "y" * 100_000]:
                await ws.send(text)
                got = await recv(ws)
                self.assertIsInstance(got, str)
                self.assertEqual(got, text)

    async def test_binary(self) -> None:
        async with ws_connect("/echo") as ws:
            for size in [0, 1, 125, 126, 65535, 65536, 500_000]:
                data = secrets.token_bytes(size)
                await ws.send(data)
                got = await recv(ws)
                self.assertIsInstance(got, bytes, f"size {size}")
                self.assertEqual(got, data, f"size {size}")

    async def test_fragmented_text_and_binary(self) -> None:
        async with ws_connect("/echo") as ws:
            # An iterable is sent as one fragmented message, a frame per item.
            await ws.send(["frag", "-men", "-ted ✓"])
            self.assertEqual(await recv(ws), "frag-men-ted ✓")
            # A multi-byte character split across two frames.
            euro = "€uro".encode()
            await ws.send([euro[:1], euro[1:]], text=True)
            self.assertEqual(await recv(ws), "€uro")
            parts = [secrets.token_bytes(n) for n in (1000, 70_000, 3)]
            await ws.send(parts)
            self.assertEqual(await recv(ws), b"".join(parts))

            async def slow_parts():
                for p in ("slow", "ly ", "sent"):
                    yield p
                    await asyncio.sleep(0.02)

            await ws.send(slow_parts())
            self.assertEqual(await recv(ws), "slowly sent")


class Rooms(unittest.IsolatedAsyncioTestCase):
    async def test_room_broadcast_excludes_sender_and_other_rooms(self) -> None:
        room = unique("r")
        async with ws_connect(f"/rooms/{room}") as a, ws_connect(f"/rooms/{room}") as b, \
                ws_connect(f"/rooms/{room}") as c, ws_connect(f"/rooms/{unique('o')}") as other:
            await a.send("to the room")
            self.assertEqual(await recv(b), "to the room")
            self.assertEqual(await recv(c), "to the room")
            data = secrets.token_bytes(4096)
            await c.send(data)
            self.assertEqual(await recv(a), data)
            self.assertEqual(await recv(b), data)
            await asyncio.gather(silent(a), silent(c), silent(other))

    async def test_sessions_and_direct_messages(self) -> None:
        ns = f"/{unique('ns')}"
        async with ws_connect(f"{ns}?user=alice&session=s1") as alice, \
                ws_connect(f"{ns}?user=bob&session=s2") as bob:
            await alice.send(json.dumps({"type": "direct", "to": "bob", "payload": {"x": [1, 2]}}))
            self.assertEqual(json.loads(await recv(bob)), {"type": "direct", "from": "alice", "payload": {"x": [1, 2]}})
            await silent(alice)

    async def test_demo_roster_endpoint(self) -> None:
        room = unique("py-")
        async with ws_connect(f"/chat/{room}?user=py-user&session=s9"):
            deadline = time.monotonic() + WAIT
            while True:
                with urllib.request.urlopen(f"{SERVER.http}/chat/roster?room={room}", timeout=WAIT) as res:
                    self.assertEqual(res.headers["Content-Type"], "application/json")
                    members = json.load(res)
                if members == [{"sessionId": "s9", "userId": "py-user"}]:
                    break
                self.assertLess(time.monotonic(), deadline, f"roster: {members}")
                await asyncio.sleep(0.05)


class PingAndClose(unittest.IsolatedAsyncioTestCase):
    async def test_ping_is_answered(self) -> None:
        async with ws_connect("/echo") as ws:
            for payload in [b"", b"are you there?", secrets.token_bytes(125)]:
                pong = await ws.ping(payload)
                latency = await asyncio.wait_for(pong, WAIT)
                self.assertGreaterEqual(latency, 0)

    async def test_close_with_code_and_reason(self) -> None:
        async with ws_connect("/echo") as ws:
            await ws.close(4001, "done here")
            self.assertEqual(ws.protocol.close_sent.code, 4001)
            self.assertEqual(ws.protocol.close_sent.reason, "done here")
            # The server answers with the same code.
            self.assertIsNotNone(ws.protocol.close_rcvd)
            self.assertEqual(ws.protocol.close_rcvd.code, 4001)

    async def test_server_closes_with_code_and_reason(self) -> None:
        idle = Server("python-websockets-idle", TINA4_WS_IDLE_TIMEOUT="1")
        try:
            async with ws_connect("/echo", idle) as ws:
                with self.assertRaises(ConnectionClosed):
                    await recv(ws, 6)
                self.assertEqual((ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason), (1001, "idle timeout"))
        finally:
            self.assertEqual(idle.stop(), 0)

    async def test_shutdown_closes_with_1001(self) -> None:
        s = Server("python-websockets-shutdown")
        async with ws_connect("/all", s) as ws:
            loop = asyncio.get_running_loop()
            code = await loop.run_in_executor(None, s.stop)
            self.assertEqual(code, 0)
            with self.assertRaises(ConnectionClosed):
                await recv(ws)
            self.assertEqual((ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason), (1001, "server shutdown"))


SECRET = "interop-secret-interop-secret-interop!"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: dict, secret: str = SECRET, alg: str = "HS256") -> str:
    """A JWT, signed with `secret` (the standard library's HMAC: no JWT package needed)."""
    signing = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
    return signing + "." + b64url(sig)


def token_for(user: str, **claims) -> str:
    return hs256({"sub": user, "exp": int(time.time()) + 600, **claims})


class Subprotocols(unittest.IsolatedAsyncioTestCase):
    """The binary speaks `oyez` on every route, and picks it from an offer of several."""

    async def test_the_server_picks_its_own_from_several(self) -> None:
        async with connect(f"{SERVER.ws}/echo", subprotocols=["chat.v9", "oyez", "mqtt"], open_timeout=WAIT) as ws:
            self.assertEqual(ws.subprotocol, "oyez")
            await ws.send("with a subprotocol")
            self.assertEqual(await recv(ws), "with a subprotocol")

    async def test_an_offer_without_ours_goes_on_without_one(self) -> None:
        async with connect(f"{SERVER.ws}/echo", subprotocols=["chat.v9", "mqtt"], open_timeout=WAIT) as ws:
            self.assertIsNone(ws.subprotocol)


class SignedIdentities(unittest.IsolatedAsyncioTestCase):
    """The binary with WS_JWT_SECRET: tokens by header, query and subprotocol; refusals."""

    signed: "Server | None" = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.signed = Server("python-websockets-signed", WS_JWT_SECRET=SECRET)

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.signed is not None:
            assert cls.signed.stop() == 0

    def open(self, path: str, token: str | None = None, how: str = "header", protocols=("chat.v9", "oyez")):
        headers, subprotocols = {}, list(protocols)
        if token is not None and how == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None and how == "protocol":
            subprotocols.append(f"bearer.{token}")
        elif token is not None:
            path += ("&" if "?" in path else "?") + f"token={token}"
        return connect(f"{self.signed.ws}{path}", subprotocols=subprotocols or None,
                       additional_headers=headers, open_timeout=WAIT, ping_interval=None)

    async def refused(self, status: int, path: str, token: str | None = None, how: str = "header") -> None:
        with self.assertRaises(InvalidStatus) as caught:
            async with self.open(path, token, how):
                pass
        self.assertEqual(caught.exception.response.status_code, status, f"{path} {how}")

    async def test_each_way_of_passing_a_token(self) -> None:
        for how in ["header", "query", "protocol"]:
            async with self.open("/echo", token_for("alice"), how) as ws:
                self.assertEqual(ws.subprotocol, "oyez", how)
                await ws.send(how)
                self.assertEqual(await recv(ws), how)

    async def test_refusals(self) -> None:
        now = int(time.time())
        await self.refused(401, "/echo")
        await self.refused(401, "/chat/lobby?user=alice&session=s1")
        for bad in [
            hs256({"sub": "a", "exp": now + 600}, secret="another-secret-another-secret-!!"),
            hs256({"sub": "a", "exp": now + 600}, alg="none"),
            hs256({"sub": "a", "exp": now - 600}),
            hs256({"sub": "a", "exp": now + 900, "nbf": now + 600}),
            hs256({"exp": now + 600}),
        ]:
            for how in ["header", "query", "protocol"]:
                await self.refused(401, "/echo", bad, how)
        await self.refused(403, "/rooms/kitchen", token_for("alice", paths=["/rooms/lobby"]))
        with urllib.request.urlopen(f"{self.signed.http}/healthz", timeout=WAIT) as res:
            self.assertEqual(res.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{self.signed.http}/chat/roster?room=lobby", timeout=WAIT)
        self.assertEqual(caught.exception.code, 404, "the public roster is off")
        # The server keeps serving.
        async with self.open("/rooms/lobby", token_for("alice", paths=["/rooms/lobby"])) as ws:
            self.assertEqual(ws.subprotocol, "oyez")

    async def test_direct_messages_go_by_the_token(self) -> None:
        ns = f"/{unique('py-dm')}"
        async with self.open(ns, token_for("alice"), "protocol") as alice, \
                self.open(f"{ns}?user=alice&session=x", token_for("bob"), "query") as bob, \
                self.open(ns, token_for("carol")) as carol:
            await carol.send(json.dumps({"type": "direct", "to": "alice", "payload": "for alice"}))
            self.assertEqual(json.loads(await recv(alice)), {"type": "direct", "from": "carol", "payload": "for alice"})
            await silent(bob)
            await bob.send(json.dumps({"type": "direct", "to": "carol", "payload": "from bob"}))
            self.assertEqual(json.loads(await recv(carol))["from"], "bob")


class CountingProxy:
    """A TCP proxy in front of the server that counts the bytes going each way, so a test
    can tell compressed messages from plain ones by what crossed the wire."""

    def __init__(self, target: str) -> None:
        self.host, port = target.rsplit(":", 1)
        self.port = int(port)
        self.up = 0  # client to server
        self.down = 0  # server to client

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        addr = self.server.sockets[0].getsockname()
        return f"ws://{addr[0]}:{addr[1]}"

    async def _serve(self, reader, writer) -> None:
        up_r, up_w = await asyncio.open_connection(self.host, self.port)

        async def pipe(r, w, count):
            try:
                while data := await r.read(65536):
                    count(len(data))
                    w.write(data)
                    await w.drain()
            except ConnectionError:
                pass
            finally:
                w.close()

        def add_up(n):
            self.up += n

        def add_down(n):
            self.down += n

        await asyncio.gather(pipe(reader, up_w, add_up), pipe(up_r, writer, add_down))

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def chat_json(n: int) -> str:
    return json.dumps([{"type": "chat", "room": "lobby", "from": f"user{i % 7}", "text": f"message {i}, hello again"}
                       for i in range(n)])


class Deflate(unittest.IsolatedAsyncioTestCase):
    """permessage-deflate, which websockets offers by default."""

    async def test_agreed_and_compressed_both_ways(self) -> None:
        proxy = CountingProxy(SERVER.addr)
        base = await proxy.start()
        try:
            async with connect(f"{base}/echo", open_timeout=WAIT, ping_interval=None, max_size=2**24) as ws:
                answer = ws.response.headers["Sec-WebSocket-Extensions"]
                self.assertEqual(answer, "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
                for message in [chat_json(300), chat_json(300).encode(), "héllo ✓ 日本語 " * 500]:
                    up, down = proxy.up, proxy.down
                    await ws.send(message)
                    self.assertEqual(await recv(ws), message)
                    size = len(message.encode() if isinstance(message, str) else message)
                    # Both ways compressed: a fraction of the message crossed the wire each way.
                    self.assertLess(proxy.up - up, size / 4)
                    self.assertLess(proxy.down - down, size / 4)
        finally:
            await proxy.stop()

    async def test_without_compression(self) -> None:
        async with connect(f"{SERVER.ws}/echo", open_timeout=WAIT, ping_interval=None, compression=None) as ws:
            self.assertNotIn("Sec-WebSocket-Extensions", ws.response.headers)
            await ws.send(chat_json(50))
            self.assertEqual(await recv(ws), chat_json(50))


if __name__ == "__main__":
    print(f"websockets {websockets.__version__}")
    unittest.main(verbosity=2)
