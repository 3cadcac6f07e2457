# bench/impl/py.py: the Python side of the benchmarks, Python's socket
# module as its tutorials use it (blocking sockets, recv, sendall).
# Modes and output as in bench/impl/c.c.
# BENCH_SOCK_TIMEOUT=S (the timed variants): every socket gets
# s.settimeout(S) where it is made or accepted, as users write it.
import os
import socket
import sys
import time

TIMEOUT = float(os.environ["BENCH_SOCK_TIMEOUT"]) if os.environ.get("BENCH_SOCK_TIMEOUT") else None


def timed(s):
    if TIMEOUT is not None:
        s.settimeout(TIMEOUT)
    return s

WALL = time.monotonic
CPU = time.process_time  # user+sys of this process


def bound(kind):
    s = timed(socket.socket(socket.AF_INET, kind))
    s.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        s.listen(socket.SOMAXCONN)
    print("port", s.getsockname()[1], flush=True)
    return s


def result(**kw):
    print("result " + " ".join("%s=%s" % (k, v) for k, v in kw.items()), flush=True)


def readn(c, n):
    data = c.recv(n)
    if not data:
        return None
    while len(data) < n:
        more = c.recv(n - len(data))
        if not more:
            raise SystemExit("short message")
        data += more
    return data


def bulk_recv():
    srv = bound(socket.SOCK_STREAM)
    c, _ = srv.accept()
    timed(c)
    w0, c0 = WALL(), CPU()
    total = calls = 0
    recv = c.recv
    while True:
        data = recv(65536)
        if not data:
            break
        total += len(data)
        calls += 1
    result(bytes=total, calls=calls, wall="%.6f" % (WALL() - w0), cpu="%.6f" % (CPU() - c0))


def bulk_send(port, nbytes, chunk):
    c = timed(socket.create_connection(("127.0.0.1", port)))
    buf = b"x" * chunk
    w0, c0 = WALL(), CPU()
    sent = 0
    while sent < nbytes:
        n = min(chunk, nbytes - sent)
        c.sendall(buf if n == chunk else buf[:n])
        sent += n
    c.close()
    result(bytes=sent, wall="%.6f" % (WALL() - w0), cpu="%.6f" % (CPU() - c0))


def pp_server(size):
    srv = bound(socket.SOCK_STREAM)
    c, _ = srv.accept()
    timed(c)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    w0, c0 = WALL(), CPU()
    count = 0
    while True:
        data = readn(c, size)
        if data is None:
            break
        c.sendall(data)
        count += 1
    result(count=count, wall="%.6f" % (WALL() - w0), cpu="%.6f" % (CPU() - c0))


def pp_client(port, count, size):
    c = timed(socket.create_connection(("127.0.0.1", port)))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"p" * size
    w0, c0 = WALL(), CPU()
    for _ in range(count):
        c.sendall(msg)
        if readn(c, size) is None:
            raise SystemExit("closed")
    result(count=count, wall="%.6f" % (WALL() - w0), cpu="%.6f" % (CPU() - c0))
    c.close()


def udp_recv(count):
    # blocking, no timeout; stop at COUNT or at an end mark (1 byte); no
    # clock per datagram
    s = bound(socket.SOCK_DGRAM)
    got = 0
    w0 = c0 = 0.0
    recvfrom = s.recvfrom
    while got < count:
        data, addr = recvfrom(65536)
        if len(data) == 1:
            break
        if got == 0:
            w0, c0 = WALL(), CPU()
        got += 1
    result(count=got, wall="%.6f" % (WALL() - w0), cpu="%.6f" % (CPU() - c0))


def udp_send(port, count, size):
    s = timed(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    msg = b"D" * size
    addr = ("127.0.0.1", port)
    sendto = s.sendto
    w0, c0 = WALL(), CPU()
    for _ in range(count):
        try:
            sendto(msg, addr)
        except OSError:
            pass  # ENOBUFS: counted as lost
    result(count=count, wall="%.6f" % (WALL() - w0), cpu="%.6f" % (CPU() - c0))
    for _ in range(50):
        time.sleep(0.002)
        sendto(b"E", addr)


def udp_drain():
    # bench/udp's drain table: the socket bench/udp made and pre-filled
    # (descriptor 3); per line N on stdin recvfrom N datagrams, then
    # "drained"; "end": the result. Only the draining is timed.
    s = socket.socket(fileno=3)
    recvfrom = s.recvfrom
    got = 0
    wall = cpu = 0.0
    while True:
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            raise SystemExit("stdin closed")
        if line.strip() == "end":
            break
        n = int(line)
        w0, c0 = WALL(), CPU()
        for _ in range(n):
            data, addr = recvfrom(65536)
        wall += WALL() - w0
        cpu += CPU() - c0
        got += n
        print("drained")
    result(count=got, wall="%.6f" % wall, cpu="%.6f" % cpu)


def accept_server(count, batch):
    # per line on stdin (the client filled the accept queue), batch times:
    # accept, read 1 byte, write it back, close; only the batches are timed
    srv = bound(socket.SOCK_STREAM)
    wall = cpu = 0.0
    done = 0
    while done < count:
        if not sys.stdin.readline():
            raise SystemExit("stdin closed")
        n = min(batch, count - done)
        w0, c0 = WALL(), CPU()
        for _ in range(n):
            c, _ = srv.accept()
            timed(c)
            b = c.recv(1)
            if b:
                c.sendall(b)
            c.close()
        wall += WALL() - w0
        cpu += CPU() - c0
        done += n
    result(count=done, wall="%.6f" % wall, cpu="%.6f" % cpu)


def main():
    mode, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    {
        "bulk-recv": bulk_recv, "bulk-send": bulk_send,
        "pp-server": pp_server, "pp-client": pp_client,
        "udp-recv": udp_recv, "udp-send": udp_send, "udp-drain": udp_drain,
        "accept-server": accept_server,
    }[mode](*args)


main()
