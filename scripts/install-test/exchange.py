#!/usr/bin/env python3
"""Two users of an installed chatd, as an app would be: both register over HTTPS, Alice opens a direct conversation
and sends over HTTPS, Bob, connected over WSS, receives it live and answers over the same socket, and Alice finds
the answer in the history. TLS is verified against the one certificate the server should present (the package's
snakeoil certificate until a real one is imported); its name is the machine's, not 127.0.0.1, so only the name
check is off. With a PHOTO (a JPEG), Alice also uploads it to the signed URL and sends it, Bob is told over WSS that
its display image and thumbnail are made (libvips, in the image worker), and he downloads the thumbnail. Standard
library only. Exit 0 when everything arrived, 1 with the reason otherwise.

    exchange.py HOST PORT CERTIFICATE [PHOTO]
"""
import base64
import http.client
import json
import os
import socket
import ssl
import struct
import sys
import time

host, port, certificate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
photo = sys.argv[4] if len(sys.argv) > 4 else None
context = ssl.create_default_context(cafile=certificate)
context.check_hostname = False


def request(method, path, token=None, body=None, content_type="application/json"):
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=10)
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = "Bearer " + token
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        sys.exit(f"exchange: {method} {path.split('?')[0]} answered {response.status}: {data[:300]!r}")
    return data


def api(method, path, token=None, body=None):
    data = request(method, path, token, json.dumps(body) if body is not None else None)
    return json.loads(data) if data else None


class WebSocket:
    """A client WebSocket over TLS (RFC 6455): text frames out (masked), frames in, pings answered."""

    def __init__(self, path):
        raw = socket.create_connection((host, port), timeout=10)
        self.sock = context.wrap_socket(raw)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                sys.exit("exchange: the WebSocket handshake was cut")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            sys.exit(f"exchange: no WebSocket upgrade: {head[:200]!r}")

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + struct.pack("!H", length))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                sys.exit("exchange: the server closed the WebSocket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        while True:
            first, second = self.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self.read(8))[0]
            payload = self.read(length)
            opcode = first & 0x0F
            if opcode == 0x1:
                return json.loads(payload)
            if opcode == 0x8:
                sys.exit(f"exchange: the server closed the WebSocket: {payload!r}")
            if opcode == 0x9:
                mask = os.urandom(4)
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def wait_for(self, matches, what, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            frame = self.receive()
            if matches(frame):
                return frame
        sys.exit(f"exchange: no {what} within {seconds} s")


password = "correct horse battery staple"
stamp = str(int(time.time()))
alice = api("POST", "/v1/auth/register", body={"handle": "alice" + stamp, "password": password})
bob = api("POST", "/v1/auth/register", body={"handle": "bob" + stamp, "password": password})
direct = api("POST", "/v1/conversations/direct", alice["access_token"], {"user_id": bob["user"]["id"]})
conversation = direct["conversation"]["id"]

socket_of_bob = WebSocket("/v1/ws")
socket_of_bob.send({"type": "hello", "id": "h1", "token": bob["access_token"]})
socket_of_bob.wait_for(lambda frame: frame.get("type") == "welcome", "welcome")

api("POST", f"/v1/conversations/{conversation}/messages", alice["access_token"],
    {"client_id": "install-test-1", "text": "Hello Bob, over HTTPS"})
event = socket_of_bob.wait_for(
    lambda frame: frame.get("type") == "event" and frame["event"].get("type") == "message.created", "live message")
if event["event"]["data"]["message"]["text"] != "Hello Bob, over HTTPS":
    sys.exit(f"exchange: Bob received {event!r}")

socket_of_bob.send({"type": "send", "id": "s1", "conversation_id": conversation, "client_id": "install-test-2",
                    "text": "Hello Alice, over WSS"})
reply = socket_of_bob.wait_for(lambda frame: frame.get("type") == "reply" and frame.get("id") == "s1", "send reply")
if reply.get("status") != 201:
    sys.exit(f"exchange: Bob's send was answered {reply!r}")

history = api("GET", f"/v1/conversations/{conversation}/messages", alice["access_token"])
texts = [message["text"] for message in history["messages"]]
if "Hello Alice, over WSS" not in texts:
    sys.exit(f"exchange: Alice's history holds {texts!r}")
print(f"exchange: two users registered, a message over HTTPS reached Bob over WSS, his answer is in Alice's history")

if photo:
    with open(photo, "rb") as file:
        data = file.read()
    ticket = api("POST", "/v1/uploads", alice["access_token"],
                 {"size": len(data), "filename": "photo.jpg", "content_type": "image/jpeg"})
    media = json.loads(request("PUT", ticket["url"], body=data, content_type="application/octet-stream"))["media"]["id"]
    api("POST", f"/v1/conversations/{conversation}/messages", alice["access_token"],
        {"client_id": "install-test-3", "attachments": [media]})
    socket_of_bob.wait_for(
        lambda frame: frame.get("type") == "event" and frame["event"].get("type") in ("media.processed", "media.failed"),
        "media.processed", seconds=30)
    links = api("GET", f"/v1/media/{media}", bob["access_token"])
    if links["media"]["status"] != "ready" or "thumbnail" not in links["urls"]:
        sys.exit(f"exchange: the photo was not processed: {links!r}")
    thumbnail = request("GET", links["urls"]["thumbnail"])
    if not thumbnail.startswith(b"\xff\xd8"):
        sys.exit(f"exchange: the thumbnail is not a JPEG: {thumbnail[:16]!r}")
    print(f"exchange: a {len(data) // 1024} KB photo uploaded, processed by the image worker, "
          f"its {len(thumbnail)}-byte thumbnail downloaded by Bob")
