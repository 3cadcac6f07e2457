# bench/tls/py_tls.py: the Python side of bench/tls, the ssl module as
# its documentation shows it (create_default_context, wrap_socket). Same
# modes and output as bench/tls/c_tls.c.
import socket
import ssl
import sys
import time


def cpu():
    return time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID)


def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(socket.SOMAXCONN)
    print("port %d" % s.getsockname()[1], flush=True)
    return s


def server_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def client_ctx(ca):
    return ssl.create_default_context(cafile=ca)


def bulk_recv(cert, key):
    ctx = server_ctx(cert, key)
    lst = listener()
    conn, _ = lst.accept()
    s = ctx.wrap_socket(conn, server_side=True)
    total = calls = 0
    w0, c0 = time.monotonic(), cpu()
    while True:
        b = s.recv(65536)
        if not b:
            break
        total += len(b)
        calls += 1
    print("result bytes=%d calls=%d wall=%.6f cpu=%.6f"
          % (total, calls, time.monotonic() - w0, cpu() - c0), flush=True)


def bulk_send(port, nbytes, chunk, ca):
    ctx = client_ctx(ca)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                        server_hostname="localhost")
    buf = b"x" * chunk
    sent = 0
    w0, c0 = time.monotonic(), cpu()
    while sent < nbytes:
        n = min(chunk, nbytes - sent)
        s.sendall(buf if n == chunk else buf[:n])
        sent += n
    wall, c = time.monotonic() - w0, cpu() - c0
    try:
        s.unwrap()  # our close_notify; the C receiver closes without its own
    except (ssl.SSLError, OSError):
        pass
    print("result bytes=%d wall=%.6f cpu=%.6f" % (sent, wall, c), flush=True)


def hs_server(cert, key, count):
    ctx = server_ctx(cert, key)
    lst = listener()
    done = 0
    w0 = c0 = 0
    while done < count:
        conn, _ = lst.accept()
        if done == 0:
            w0, c0 = time.monotonic(), cpu()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(conn, server_side=True)
        b = s.recv(1)
        s.sendall(b)
        s.close()
        done += 1
    print("result count=%d wall=%.6f cpu=%.6f" % (done, time.monotonic() - w0, cpu() - c0),
          flush=True)


def hs_client(port, count, ca):
    ctx = client_ctx(ca)
    w0, c0 = time.monotonic(), cpu()
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"x")
        s.recv(1)
        s.close()
    print("result count=%d wall=%.6f cpu=%.6f" % (count, time.monotonic() - w0, cpu() - c0),
          flush=True)


def main():
    a = sys.argv[1:]
    if a[0] == "bulk-recv":
        bulk_recv(a[1], a[2])
    elif a[0] == "bulk-send":
        bulk_send(int(a[1]), int(a[2]), int(a[3]), a[4])
    elif a[0] == "hs-server":
        hs_server(a[1], a[2], int(a[3]))
    elif a[0] == "hs-client":
        hs_client(int(a[1]), int(a[2]), a[3])
    else:
        sys.exit("usage: see bench/tls/c_tls.c")


main()
