#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A misbehaving NBD server for tests/e2e/75-nbd-garbage.sh.

    nbd-bad-server.py SOCKET MODE [SIZE]

Listens on unix socket SOCKET and serves an export of SIZE bytes (default
64 MiB, all zeros, writes thrown away) correctly: fixed newstyle,
structured replies, NBD_OPT_GO, one connection at a time, any number of
them.  A read of the last MiB of the export gets a broken reply instead,
as MODE says:

    magic      a reply header with a bad magic
    cookie     a reply to a cookie that was never sent
    oversized  a data chunk longer than the read
    short      a structured reply that leaves part of the read uncovered
    hangup     the connection closed halfway through the data
    greeting   (at connect) a greeting that is not NBD at all
    silent     (at connect) nothing at all: the client must time out
    wmagic, wcookie  magic or cookie, but to a write of the last MiB
                     (reads of it are served)

Each broken reply is logged to stderr.
"""
import os
import socket
import struct
import sys

NBD_MAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCT_MAGIC = 0x668E33EF


def recv_all(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError
        buf += d
    return buf


def opt_reply(s, opt, rtype, data=b""):
    s.sendall(struct.pack(">QIII", REP_MAGIC, opt, rtype, len(data)) + data)


def handshake(s, size):
    s.sendall(struct.pack(">QQH", NBD_MAGIC, IHAVEOPT, 3))
    recv_all(s, 4)                                  # client flags
    structured = False
    while True:
        magic, opt, length = struct.unpack(">QII", recv_all(s, 16))
        data = recv_all(s, length)
        if magic != IHAVEOPT:
            raise EOFError
        if opt == 8:                                # STRUCTURED_REPLY
            structured = True
            opt_reply(s, opt, 1)
        elif opt == 7:                              # GO
            flags = 1 | (1 << 2)                    # HAS_FLAGS, SEND_FLUSH
            opt_reply(s, opt, 3, struct.pack(">HQH", 0, size, flags))
            opt_reply(s, opt, 3, struct.pack(">HIII", 3, 1, 4096, 1 << 20))
            opt_reply(s, opt, 1)
            return structured
        elif opt == 2:                              # ABORT
            opt_reply(s, opt, 1)
            raise EOFError
        else:
            opt_reply(s, opt, (1 << 31) | 1)        # ERR_UNSUP


def chunk(cookie, ctype, payload, done=True):
    return struct.pack(">IHHQI", STRUCT_MAGIC, 1 if done else 0, ctype,
                       cookie, len(payload)) + payload


def reply_ok(s, structured, cookie, cmd, offset, length):
    if cmd == 0 and structured:
        s.sendall(chunk(cookie, 1, struct.pack(">Q", offset) + bytes(length)))
    elif cmd == 0:
        s.sendall(struct.pack(">IIQ", SIMPLE_MAGIC, 0, cookie) + bytes(length))
    else:
        s.sendall(struct.pack(">IIQ", SIMPLE_MAGIC, 0, cookie))


def misbehave(s, mode, cookie, offset, length):
    log("sending a broken reply (%s) to the request at %d" % (mode, offset))
    if mode == "magic":
        s.sendall(struct.pack(">IIQ", 0x12345678, 0, cookie))
    elif mode == "cookie":
        s.sendall(struct.pack(">IIQ", SIMPLE_MAGIC, 0, cookie ^ 0x5A5A0000))
    elif mode == "oversized":
        s.sendall(chunk(cookie, 1, struct.pack(">Q", offset) +
                        bytes(length + 4096)))
    elif mode == "short":
        s.sendall(chunk(cookie, 1, struct.pack(">Q", offset) +
                        bytes(length // 2)))
    elif mode == "hangup":
        s.sendall(chunk(cookie, 1, struct.pack(">Q", offset) +
                        bytes(length // 2), done=False)[:-(length // 4)])
        raise EOFError


def serve(s, mode, size):
    if mode == "greeting":
        s.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        return
    if mode == "silent":
        s.recv(1)
        return
    structured = handshake(s, size)
    while True:
        magic, flags, cmd, cookie, offset, length = struct.unpack(
            ">IHHQQI", recv_all(s, 28))
        if magic != REQ_MAGIC or cmd == 2:          # junk, or DISC
            return
        if cmd == 1:                                # WRITE: throw it away
            recv_all(s, length)
        # the last MiB: reads get the broken reply, or writes ("w" modes)
        if offset >= size - (1 << 20) and cmd == (1 if mode[0] == "w" else 0):
            misbehave(s, mode.lstrip("w"), cookie, offset, length)
            continue
        reply_ok(s, structured, cookie, cmd, offset, length)


def log(msg):
    sys.stderr.write("nbd-bad-server: %s\n" % msg)
    sys.stderr.flush()


def main():
    path, mode = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 64 << 20
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        try:
            serve(conn, mode, size)
        except (EOFError, OSError):
            pass
        conn.close()


if __name__ == "__main__":
    main()
