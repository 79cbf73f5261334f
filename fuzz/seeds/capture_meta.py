#!/usr/bin/env python3
"""Captures real memcached replies to meta commands as fuzz seeds and test vectors.

Starts a private memcached on a free loopback port, sends it a fixed script of meta commands
on one connection, and saves what it answers:

- seeds/meta_replies/<name>      the raw reply bytes (read by tests/meta_codec_vectors.rs)
- seeds/parse_meta_reply/<name>  2-byte little-endian max_value_len + the reply
- seeds/meta_requests/<name>     the request, for the requests memcache-sync's encoders write

The requests are the bytes memcache-sync's meta encoders write (tests/meta_codec_vectors.rs
checks that against seeds/meta_requests, and replays the same script against a live server),
plus a few the encoders refuse to write (named `raw-`: a 32-byte opaque, a short data block),
to record how memcached answers them.
A fresh memcached numbers CAS values from 1, so the output is deterministic except for the
clock-driven fields (`t`, `l`, and `me`'s `exp`/`la`), which rarely tick during a run.

Usage: fuzz/seeds/capture_meta.py   (needs memcached on PATH; prints the transcript)
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Above every value below; a few copies also carry a tiny limit for the ValueTooLong path.
LIMIT = 4096
SMALL_LIMIT = 3

TRICKY = b"VA 1\r\nEN\r\nMN\r\n"
RAW_KEY = b"\x00\x01\x02\xff"  # base64: AAEC/w==

# (name, request) in order, all on one connection. Names match the vectors in
# tests/meta_codec_vectors.rs.
SCRIPT = [
    ("ms-stored", b"ms greeting 5 F5\r\nhello\r\n"),
    ("mg-hit-v-c-f-s-t-k-O", b"mg greeting v c f s t k O1\r\n"),
    # The CAS matches (1, the first item's), yet the value comes back: C is ignored by mg.
    ("mg-C-ignored", b"mg greeting C1 v c\r\n"),
    ("mg-miss-k-O", b"mg missing v k O2\r\n"),
    ("mg-quiet-miss-hit-mn", b"mg missing v q\r\nmg greeting k q\r\nmn\r\n"),
    ("mg-touch-h-l-t", b"mg greeting T30 h l t\r\n"),
    ("mg-vivify-won", b"mg stampede N30 v c t\r\n"),
    ("mg-vivify-already-won", b"mg stampede N30 v c t\r\n"),
    ("md-invalidate", b"md stampede I T30\r\n"),
    ("mg-stale-won", b"mg stampede v t\r\n"),
    ("mg-stale-already-won", b"mg stampede v t\r\n"),
    ("ms-add-not-stored", b"ms greeting 1 ME\r\nx\r\n"),
    ("ms-add-quiet-not-stored-O", b"ms greeting 1 ME O3 q\r\nx\r\n"),
    ("ms-cas-exists", b"ms greeting 1 C999\r\nx\r\n"),
    ("ms-cas-not-found", b"ms missing 1 C1\r\nx\r\n"),
    ("ms-append-vivify-ignored", b"ms nothing 1 MA N30\r\nx\r\n"),
    ("ms-c-k-O", b"ms counter 2 c k O4\r\n10\r\n"),
    ("ms-size-ignored", b"ms tricky %d s\r\n%s\r\n" % (len(TRICKY), TRICKY)),
    ("mg-value-with-line-ends", b"mg tricky v\r\n"),
    ("md-not-found-k-O", b"md missing k O5\r\n"),
    ("md-quiet-mn", b"md tricky q\r\nmn\r\n"),
    ("ma-v-t-c", b"ma counter v t c\r\n"),
    ("ma-decr-delta", b"ma counter MD D5 v\r\n"),
    ("ma-vivify-initial", b"ma fresh N0 J42 v t c\r\n"),
    ("ma-vivify-quiet-still-answers", b"ma fresh2 N0 J7 q\r\nmn\r\n"),
    ("ma-vivify-quiet-value-still-answers", b"ma fresh3 N0 J7 v q\r\nmn\r\n"),
    ("ma-quiet-hit-mn", b"ma counter q\r\nmn\r\n"),
    ("ma-quiet-hit-value-hidden", b"ma counter v q\r\nmn\r\n"),
    ("ma-not-found-k-O", b"ma missing k O6\r\n"),
    ("ma-cas-exists", b"ma counter C999\r\n"),
    ("ma-non-numeric", b"ma greeting\r\n"),
    ("mn", b"mn\r\n"),
    ("me-hit", b"me greeting\r\n"),
    ("me-miss", b"me missing\r\n"),
    ("ms-base64", b"ms AAEC/w== 2 b\r\nhi\r\n"),
    ("mg-base64-hit", b"mg AAEC/w== b v c k\r\n"),
    ("mg-base64-miss-spaces", b"mg YSBrZXkNCg== b k\r\n"),
    ("md-base64-k", b"md AAEC/w== b k\r\n"),
    ("me-base64", b"me Z3JlZXRpbmc= b\r\n"),
    ("mg-E-refused", b"mg greeting E5 v\r\n"),
    ("ms-E-refused-data-swallowed", b"ms greeting 1 E5\r\nx\r\nmn\r\n"),
    ("md-E-refused", b"md greeting E5\r\n"),
    ("ma-E-refused", b"ma counter E5\r\n"),
    ("md-x-refused", b"md greeting x\r\n"),
    ("mg-opaque-31", b"mg greeting O" + b"o" * 31 + b"\r\n"),
    ("raw-mg-opaque-32-refused", b"mg greeting O" + b"o" * 32 + b"\r\n"),
    ("raw-ms-bad-data-chunk", b"ms greeting 3\r\nhello\r\nmn\r\n"),
    ("raw-ms-too-large", b"ms big 2000000 T0\r\n" + b"z" * 2000000 + b"\r\nmn\r\n"),
    ("raw-mg-base64-unpadded", b"mg AAEC/w b v\r\n"),
    (
        "pipelined",
        b"mg greeting v O10 q\r\nmg missing v O11 q\r\nms p 1 O12 q\r\n1\r\n"
        b"ms greeting 1 ME O13 q\r\nx\r\nmd p O14 q\r\nma counter v O15 q\r\nmn\r\n",
    ),
]


def start_memcached(tmp):
    port_file = os.path.join(tmp, "port")
    args = ["memcached", "-p", "-1", "-U", "0", "-l", "127.0.0.1", "-m", "16"]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    env = dict(os.environ, MEMCACHED_PORT_FILENAME=port_file)
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(port_file) as f:
                for line in f:
                    if line.startswith("TCP INET:"):
                        return proc, int(line.split(":")[1])
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            sys.exit(f"memcached exited with status {proc.returncode}")
        time.sleep(0.01)
    proc.kill()
    sys.exit("memcached did not report its port within 5 s")


def exchange(sock, request, quiet=0.15):
    """Sends `request` and returns everything memcached answers until it falls quiet."""
    sock.sendall(request)
    chunks = []
    sock.settimeout(2)
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        chunks.append(chunk)
        sock.settimeout(quiet)
    reply = b"".join(chunks)
    if not reply:
        sys.exit(f"no reply to {request[:60]!r}")
    return reply


def main():
    if shutil.which("memcached") is None:
        sys.exit("memcached is not on PATH (apt-get install memcached)")
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_memcached(tmp)
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            replies = [(name, request, exchange(sock, request)) for name, request in SCRIPT]
        finally:
            proc.kill()
            proc.wait()

    dirs = {
        d: os.path.join(HERE, d) for d in ("meta_replies", "meta_requests", "parse_meta_reply")
    }
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for name, request, reply in replies:
        print(f"{name}\n  > {request[:120]!r}\n  < {reply!r}")
        with open(os.path.join(dirs["meta_replies"], name), "wb") as f:
            f.write(reply)
        if not name.startswith("raw-"):
            with open(os.path.join(dirs["meta_requests"], name), "wb") as f:
                f.write(request)
        with open(os.path.join(dirs["parse_meta_reply"], name), "wb") as f:
            f.write(LIMIT.to_bytes(2, "little") + reply)
        if b"VA " in reply:
            with open(os.path.join(dirs["parse_meta_reply"], f"{name}-small-limit"), "wb") as f:
                f.write(SMALL_LIMIT.to_bytes(2, "little") + reply)
    # The whole session as one stream: the richest seed for frame-after-frame decoding.
    session = b"".join(reply for _, _, reply in replies)
    with open(os.path.join(dirs["parse_meta_reply"], "session"), "wb") as f:
        f.write(LIMIT.to_bytes(2, "little") + session)
    print(f"wrote {len(replies)} replies to {HERE}/{{meta_replies,meta_requests,parse_meta_reply}}")


if __name__ == "__main__":
    main()
