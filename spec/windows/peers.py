# spec/windows/peers.py: the Linux peers of the Windows lane's specs.
# A program under wine cannot start Linux programs, so this agent (run
# on Linux by tools/windows-test, or by the spec itself under busted on
# Linux) starts them when a spec asks. It makes the spec certificates
# (spec/tls/mkcerts.sh) in a temporary directory, listens on
# 127.0.0.1 at an ephemeral port and prints "port N" and "certs DIR".
# Each request is one line on a connection of its own; the reply is a
# first line, then for a client the program's output, then EOF:
#   s_server        openssl s_server -rev on 127.0.0.1:0 with leaf.pem
#                   (one connection): "port N"
#   s_client PORT   openssl s_client verifying localhost against the
#                   spec CA, sending "hello from linux": "exit N", output
#   curl PORT       curl https://localhost:PORT/ with the spec CA:
#                   "exit N", the body
#   quit            ends the agent
# Every program it starts is bounded (20 s) and stopped by its PID at
# the end; the agent itself ends after 300 s without a request.
# usage: python3 spec/windows/peers.py
import os, re, shutil, signal, socket, subprocess, sys, tempfile, threading

LIMIT = 20
procs = []
tmp = tempfile.mkdtemp(prefix="netsock-winpeers-")
certs = os.path.join(tmp, "certs")


def cleanup(*_):
    for p in procs:
        if p.poll() is None:
            p.terminate()   # timeout(1) passes SIGTERM on to its program
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    os._exit(0)


signal.signal(signal.SIGTERM, cleanup)
here = os.path.dirname(os.path.abspath(__file__))
out = subprocess.run(["sh", os.path.join(here, "..", "tls", "mkcerts.sh"), certs],
                     capture_output=True, text=True)
if "ok" not in out.stdout:
    print("peers: mkcerts failed (Debian: openssl): " + out.stdout + out.stderr, flush=True)
    sys.exit(1)


def path(name):
    return os.path.join(certs, name)


def s_server():
    p = subprocess.Popen(["timeout", str(LIMIT), "openssl", "s_server", "-accept", "127.0.0.1:0",
                          "-naccept", "1", "-rev", "-cert", path("leaf.pem"), "-key", path("leaf.key")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    procs.append(p)
    for line in p.stdout:
        m = re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
        if m:
            # drain the rest so s_server never blocks on a full pipe
            threading.Thread(target=p.stdout.read, daemon=True).start()
            return "port " + m.group(1)
    return "error s_server did not start"


def client(argv, stdin):
    p = subprocess.Popen(["timeout", str(LIMIT)] + argv, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    procs.append(p)
    data, _ = p.communicate(stdin)
    return "exit %d\n" % p.returncode, data


def handle(conn):
    with conn:
        conn.settimeout(LIMIT + 10)
        f = conn.makefile("rb")
        req = f.readline().decode().split()
        if not req:
            return
        if req[0] == "quit":
            conn.sendall(b"bye\n")
            cleanup()
        if req[0] == "s_server":
            conn.sendall((s_server() + "\n").encode())
        elif req[0] == "s_client" and len(req) == 2:
            head, data = client(["openssl", "s_client", "-connect", "127.0.0.1:" + req[1],
                                 "-CAfile", path("ca.pem"), "-servername", "localhost",
                                 "-verify_hostname", "localhost", "-verify_return_error",
                                 "-quiet"], b"hello from linux\n")
            conn.sendall(head.encode() + data)
        elif req[0] == "curl" and len(req) == 2:
            head, data = client(["curl", "-sS", "--max-time", str(LIMIT), "--cacert", path("ca.pem"),
                                 "--resolve", "localhost:%s:127.0.0.1" % req[1],
                                 "https://localhost:%s/" % req[1]], b"")
            conn.sendall(head.encode() + data)
        else:
            conn.sendall(b"error unknown request\n")


ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
ls.settimeout(300)
print("port %d" % ls.getsockname()[1], flush=True)
print("certs %s" % certs, flush=True)
try:
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
except socket.timeout:
    pass
cleanup()
