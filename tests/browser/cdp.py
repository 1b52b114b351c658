"""A small client of Chromium's DevTools protocol over its WebSocket, from the standard library
alone: enough for a test to load a page, evaluate JavaScript in it and take a screenshot.

    with Browser("/usr/bin/chromium", "http://127.0.0.1:9464/") as page:
        title = page.evaluate("document.title")
        png = page.screenshot(1400, 1000)
"""
import base64
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request


class DevToolsError(Exception):
    pass


class WebSocket:
    """A client WebSocket (RFC 6455): text frames out, masked; frames in, reassembled."""

    def __init__(self, url, timeout=30):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        if not m:
            raise DevToolsError("not a ws:// URL: " + url)
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise DevToolsError("the browser closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise DevToolsError("handshake refused: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise DevToolsError("the browser closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, text):
        payload = text.encode()
        head = bytearray([0x81])  # FIN, text
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        head += mask
        self.sock.sendall(bytes(head) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise DevToolsError("the browser closed the WebSocket")
            if opcode in (0x9, 0xA):  # ping, pong: nothing for us
                continue
            message += data
            if b0 & 0x80:
                return message.decode()

    def close(self):
        self.sock.close()


class Browser:
    """Headless Chromium on a page of `url`, driven over the DevTools protocol."""

    def __init__(self, executable, url, timeout=60):
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)  # chromium may still write there
        self.process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", "--user-data-dir=" + self.profile.name, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        deadline = time.monotonic() + timeout
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise DevToolsError("chromium exited with %s before listening" % self.process.returncode)
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            raise DevToolsError("chromium did not say where DevTools listens")
        page = None
        while page is None and time.monotonic() < deadline:
            targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10))
            page = next((t for t in targets if t.get("type") == "page" and "webSocketDebuggerUrl" in t), None)
            if page is None:
                time.sleep(0.1)
        if page is None:
            raise DevToolsError("no page target")
        self.ws = WebSocket(page["webSocketDebuggerUrl"], timeout=timeout)
        self.next_id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            answer = json.loads(self.ws.receive())
            if answer.get("id") == mine:
                if "error" in answer:
                    raise DevToolsError("%s: %s" % (method, answer["error"]))
                return answer.get("result", {})

    def evaluate(self, expression):
        """The value of `expression` in the page (JSON-serialisable values), awaited if a promise."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError("evaluate %r: %s" % (expression, result["exceptionDetails"].get("text")))
        return result["result"].get("value")

    def wait_for(self, expression, timeout=30):
        """Waits until `expression` is truthy in the page; returns its value, or raises."""
        deadline = time.monotonic() + timeout
        last = "false"
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)  # may throw while the page is still loading
                if value:
                    return value
                last = repr(value)
            except DevToolsError as e:
                last = str(e)
            time.sleep(0.1)
        raise DevToolsError("not true after %s s (%s): %s" % (timeout, last, expression))

    def screenshot(self, width, height):
        """A PNG of the page at `width` x `height` CSS pixels."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.profile.cleanup()
