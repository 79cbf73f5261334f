#!/usr/bin/env python3
"""Captures real memcached replies as fuzz seeds.

Starts a private memcached on a free loopback port, sends it a fixed script of commands, and
saves what it answers:

- seeds/replies/<name>      the raw reply bytes (read by tests/codec_vectors.rs too)
- seeds/parse_reply/<name>  2-byte little-endian max_value_len + the reply
- seeds/parse_split/<name>  the same + 1 byte choosing the cut points + the reply

A few replies memcached only sends under conditions a script cannot set up cheaply
(`ERROR Too many open connections`, `SERVER_ERROR out of memory storing object`) are added by
hand, marked `synthetic-`. Run it again after changing the script; the output is
deterministic except for the stats values, cas values and version.

Usage: fuzz/capture_seeds.py   (needs memcached on PATH)
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")

# The max_value_len the seeds carry: above every value below, so the seeds decode cleanly; a
# few copies also carry a tiny limit, to start the fuzzer on the ValueTooLong path.
LIMIT = 4096
SMALL_LIMIT = 3


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


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def exchange(self, request, quiet=0.15):
        """Sends `request` and returns everything memcached answers until it falls quiet."""
        self.sock.sendall(request)
        chunks = []
        self.sock.settimeout(2)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            self.sock.settimeout(quiet)
        reply = b"".join(chunks)
        if not reply:
            sys.exit(f"no reply to {request[:60]!r}")
        return reply


KEY_250 = b"k" * 250
HIGH_KEY = "ключ".encode() + b"\x80\xff"
TRICKY = b"a\r\nEND\r\nVALUE x 0 1\r\n\r\n"


def script(c):
    """(name, reply) pairs; the commands run in order on one connection."""
    out = []

    def keep(name, request):
        out.append((name, c.exchange(request)))

    c.exchange(b"flush_all\r\n")
    keep("get-miss", b"get nothing-here\r\n")
    keep("set-stored", b"set greeting 0 0 5\r\nhello\r\n")
    keep("get-hit", b"get greeting\r\n")
    keep("gets-hit", b"gets greeting\r\n")
    c.exchange(b"set flagged 4294967295 0 3\r\nabc\r\n")
    keep("get-max-flags", b"get flagged\r\n")
    c.exchange(b"set empty 0 0 0\r\n\r\n")
    keep("get-empty-value", b"get empty\r\n")
    c.exchange(b"set tricky 7 0 %d\r\n%s\r\n" % (len(TRICKY), TRICKY))
    keep("get-data-with-line-ends", b"get tricky\r\n")
    c.exchange(b"set " + KEY_250 + b" 0 0 2\r\nok\r\n")
    keep("get-key-250", b"get " + KEY_250 + b"\r\n")
    c.exchange(b"set " + HIGH_KEY + b" 0 0 4\r\n\x00\xff\r\n\r\n")
    keep("get-high-byte-key", b"get " + HIGH_KEY + b"\r\n")
    keep("multi-get", b"get greeting missing empty tricky flagged\r\n")
    keep("multi-gets", b"gets greeting missing tricky " + KEY_250 + b"\r\n")
    keep("gat-hit", b"gat 100 greeting\r\n")
    keep("gats-multi", b"gats 0 greeting empty missing\r\n")
    keep("add-not-stored", b"add greeting 0 0 1\r\nx\r\n")
    keep("replace-not-stored", b"replace missing 0 0 1\r\nx\r\n")
    keep("append-stored", b"append greeting 0 0 1\r\n!\r\n")
    keep("cas-exists", b"cas greeting 0 0 1 1\r\nx\r\n")
    keep("cas-not-found", b"cas missing 0 0 1 1\r\nx\r\n")
    keep("delete-deleted", b"delete empty\r\n")
    keep("delete-not-found", b"delete empty\r\n")
    keep("touch-touched", b"touch greeting 100\r\n")
    keep("touch-not-found", b"touch missing 100\r\n")
    c.exchange(b"set counter 0 0 3\r\n100\r\n")
    keep("incr", b"incr counter 18446744073709551000\r\n")
    keep("incr-wraps", b"incr counter 1000\r\n")
    c.exchange(b"set counter 0 0 3\r\n100\r\n")
    keep("decr-space-padded", b"decr counter 95\r\n")
    keep("get-space-padded", b"get counter\r\n")
    keep("decr-to-zero", b"decr counter 1000\r\n")
    keep("incr-not-found", b"incr missing 1\r\n")
    keep("incr-non-numeric", b"incr greeting 1\r\n")
    keep("incr-invalid-delta", b"incr counter abc\r\n")
    keep("unknown-command", b"bogus\r\n")
    keep("empty-line", b"\r\n")
    keep("bad-data-chunk", b"set greeting 0 0 1\r\nxyz\r\n")
    keep("too-large", b"set big 0 0 2000000\r\n" + b"z" * 2000000 + b"\r\n")
    keep("key-too-long", b"get " + b"k" * 251 + b"\r\n")
    keep("version", b"version\r\n")
    keep("verbosity-ok", b"verbosity 0\r\n")
    keep("stats", b"stats\r\n")
    keep("stats-settings", b"stats settings\r\n")
    keep("stats-items", b"stats items\r\n")
    keep("stats-slabs", b"stats slabs\r\n")
    keep("stats-sizes", b"stats sizes\r\n")
    keep("stats-conns", b"stats conns\r\n")
    keep("stats-unknown", b"stats nonsense\r\n")
    keep("stats-extstore-off", b"stats extstore\r\n")
    keep("stats-cachedump", b"stats cachedump 1 0\r\n")
    keep("stats-cachedump-bad-class", b"stats cachedump 99 1\r\n")
    keep("stats-detail-on", b"stats detail on\r\n")
    c.exchange(b"set user:1 0 0 1\r\nx\r\nget user:1 user:2\r\ndelete user:1\r\nget :lead\r\n")
    keep("stats-detail-dump", b"stats detail dump\r\n")
    keep("stats-detail-off", b"stats detail off\r\n")
    keep("stats-detail-usage", b"stats detail\r\n")
    keep("stats-reset", b"stats reset\r\n")
    keep("flush-all-ok", b"flush_all\r\n")
    # A pipelined batch: several replies in one read, as a reader sees them.
    keep(
        "pipelined",
        b"set a 1 0 1\r\n1\r\nset b 2 0 2\r\n22\r\nget a b c\r\ngets a\r\n"
        b"incr b 1\r\ndelete a\r\ndelete a\r\nversion\r\n",
    )
    return out


SYNTHETIC = [
    ("synthetic-too-many-connections", b"ERROR Too many open connections\r\n"),
    ("synthetic-out-of-memory", b"SERVER_ERROR out of memory storing object\r\n"),
    ("synthetic-value-with-cas-u64-max", b"VALUE k 0 1 18446744073709551615\r\nx\r\nEND\r\n"),
    ("synthetic-stat-value-with-spaces", b"STAT note a b  c\r\nSTAT empty \r\nEND\r\n"),
]


def main():
    if shutil.which("memcached") is None:
        sys.exit("memcached is not on PATH (apt-get install memcached)")
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_memcached(tmp)
        try:
            replies = script(Conn(port))
        finally:
            proc.kill()
            proc.wait()
    replies += SYNTHETIC
    # The whole session, one stream: the split target's richest seed.
    replies.append(("session", b"".join(r for _, r in replies)))

    dirs = {d: os.path.join(SEEDS, d) for d in ("replies", "parse_reply", "parse_split")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for i, (name, reply) in enumerate(replies):
        with open(os.path.join(dirs["replies"], name), "wb") as f:
            f.write(reply)
        with open(os.path.join(dirs["parse_reply"], name), "wb") as f:
            f.write(LIMIT.to_bytes(2, "little") + reply)
        with open(os.path.join(dirs["parse_split"], name), "wb") as f:
            # Cut modes vary across seeds: 0 feeds byte by byte, others in chunks.
            f.write(LIMIT.to_bytes(2, "little") + bytes([i % 32]) + reply)
        if name.startswith("get-") or name.startswith("multi-"):
            small = f"{name}-small-limit"
            with open(os.path.join(dirs["parse_reply"], small), "wb") as f:
                f.write(SMALL_LIMIT.to_bytes(2, "little") + reply)
    print(f"wrote {len(replies)} replies to {SEEDS}/{{replies,parse_reply,parse_split}}")


if __name__ == "__main__":
    main()
