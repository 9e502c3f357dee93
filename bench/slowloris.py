#!/usr/bin/env python3
"""Holds COUNT slowloris connections open against an HTTP listener, for bench/slowloris.sh.

Two connections in three send the start of a request ("POST PATH HTTP/1.1", a Host line) and then one more
byte of a header line every second, never finishing the header section; the third sends a whole header
section announcing a 60000-byte body and then one byte of body every second (a slow body). A connection
the server closes (header_timeout, body_timeout or min_body_rate, a refusal at max_connections) is opened
again at once, so COUNT stay held for as long as the helper runs. On a loopback HOST the connections come
from 127.0.0.2 up, 64 to an address, so that max_connections_per_address does not refuse them. Prints "held COUNT" once all are open, then runs until SIGTERM or SIGINT and prints one
summary line: connections opened, closed by the server, and how many of those were closed within 1 s of
opening (refused rather than timed out).

Usage: slowloris.py HOST PORT COUNT [PATH]
"""
import errno
import resource
import selectors
import signal
import socket
import sys
import time


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/hooks/bench"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()
    body_head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 60000\r\n\r\n".encode()
    loopback = host.startswith("127.")

    sel = selectors.DefaultSelector()
    opened = closed = refused = 0
    lifetimes = []
    stop = False

    def on_signal(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def open_one():
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if loopback:
            s.bind((f"127.0.0.{2 + (opened // 64) % 250}", 0))
        s.connect((host, port))
        s.setblocking(False)
        try:
            s.send(body_head if opened % 3 == 2 else head)
        except OSError:
            pass
        opened += 1
        sel.register(s, selectors.EVENT_READ, time.monotonic())

    for _ in range(count):
        open_one()
    print(f"held {count}", flush=True)

    next_trickle = time.monotonic() + 1.0
    while not stop:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # an answer (e.g. 408/431): keep reading until the server closes
            life = time.monotonic() - key.data
            lifetimes.append(life)
            if life < 1.0:
                refused += 1
            closed += 1
            sel.unregister(s)
            s.close()
            if not stop:
                open_one()
        now = time.monotonic()
        if now >= next_trickle:
            next_trickle = now + 1.0
            for key in list(sel.get_map().values()):
                try:
                    key.fileobj.send(b"a")
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
                        raise
    held = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    lives = f", after {min(lifetimes):.2f}..{max(lifetimes):.2f} s" if lifetimes else ""
    print(f"slowloris: {opened} connections opened, {closed} closed by the server{lives} "
          f"({refused} within 1 s of opening), {held} held at the end", flush=True)


if __name__ == "__main__":
    main()
