#!/usr/bin/env python3
# bench/tls/tls.py: TLS over loopback, netsock.tls beside C (OpenSSL used
# directly: the limit), Python's ssl and LuaSec over LuaSocket, one run.
# Certificates: spec/tls/mkcerts.sh (EC P-256), made in build/bench/tls.
# Tables:
#   TLS bulk receive: BENCH_TLS_BYTES (256 MiB) from the C sender in 64 KiB
#     SSL_writes (TLS 1.3, AES-256-GCM), received with 64 KiB reads; the
#     receiver's MiB/s and CPU per MiB. Receiver on CPU 1, sender on CPU 0.
#   TLS bulk both ends: the implementation on both sides.
#   TLS handshakes, server: BENCH_TLS_HS (1000) full handshakes (no
#     resumption; one byte each way) from the C client; server's rate.
#   TLS handshakes, client: the same against the C server; client's rate.
# usage: python3 bench/tls/tls.py  (env: BENCH_SCALE, BENCH_REPS, BENCH_IMPLS)
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib as B

ROOT = B.ROOT
IMPLS = ["C", "netsock", "LuaSec", "Python"]
CERTS = os.path.join(B.BUILD, "tls")
MiB = 1 << 20


def build():
    os.makedirs(B.BUILD, exist_ok=True)
    src = os.path.join(ROOT, "bench", "tls", "c_tls.c")
    out = os.path.join(B.BUILD, "c_tls")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "openssl"], text=True).split()
        subprocess.check_call([os.environ.get("CC", "cc"), "-O2", "-std=c99", "-D_GNU_SOURCE",
                               "-Wall", "-Wextra", "-o", out, src] + flags)
    if not os.path.exists(os.path.join(CERTS, "leaf.pem")):
        subprocess.check_call(["sh", os.path.join(ROOT, "spec", "tls", "mkcerts.sh"), CERTS],
                              stdout=subprocess.DEVNULL)
    r = subprocess.run([B.LUA, "-e", 'require "ssl"'], capture_output=True)
    if r.returncode != 0:
        sys.exit("bench/tls: LuaSec is missing (apt-get install lua-sec; make deps-bench)")


def command(impl, *args):
    args = [str(a) for a in args]
    if impl == "C":
        return [os.path.join(B.BUILD, "c_tls")] + args
    if impl == "netsock":
        return [B.LUA, os.path.join(ROOT, "bench", "tls", "netsock_tls.lua")] + args
    if impl == "LuaSec":
        return [B.LUA, os.path.join(ROOT, "bench", "tls", "luasec_tls.lua")] + args
    if impl == "Python":
        return [B.PYTHON, os.path.join(ROOT, "bench", "tls", "py_tls.py")] + args
    raise ValueError(impl)


def selected():
    want = os.environ.get("BENCH_IMPLS")
    if not want:
        return list(IMPLS)
    names = {n.lower(): n for n in IMPLS}
    return [names[w.strip().lower()] for w in want.split(",") if w.strip().lower() in names]


B.check_tools()
build()
cert, key, ca = (os.path.join(CERTS, f) for f in ("leaf.pem", "leaf.key", "ca.pem"))
nbytes = B.size("BENCH_TLS_BYTES", 256 << 20, 1 << 20)
nhs = B.size("BENCH_TLS_HS", 1000, 20)
PIN = (1, 0) if os.cpu_count() >= 2 else (None, None)
REPS = B.reps(3)


def table(title, med, unit, cpu_unit):
    """One table: rate and CPU per operation, each as a ratio to C and to LuaSec."""
    c, ls = med.get("C", {}), med.get("LuaSec", {})
    hdr = ["impl", unit, "xC", "xLuaSec", cpu_unit, "xC", "xLuaSec"]
    out, rows = [], []
    for impl in IMPLS:
        if impl not in med:
            continue
        r, u = med[impl]["rate"], med[impl]["cpu"]
        out.append([impl, B.fmt_num(r), B.ratio(r, c.get("rate")), B.ratio(r, ls.get("rate")),
                    B.fmt_num(u), B.ratio(u, c.get("cpu")), B.ratio(u, ls.get("cpu"))])
        rows.append({"impl": impl, "rate": r, "cpu": u,
                     "rate_vs_c": r / c["rate"] if c.get("rate") else None,
                     "cpu_vs_c": u / c["cpu"] if c.get("cpu") else None, "extra": {}})
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *out)]
    print("\n" + title)
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(hdr, widths)))
    print(line)
    print("-" * len(line))
    for row in out:
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(row, widths))))
    sys.stdout.flush()
    return {"title": title, "rate_unit": unit, "cpu_unit": cpu_unit, "extra_headers": {},
            "rows": rows, "reps": REPS, "scale": B.SCALE}



def bulk(receiver, sender):
    rs, rc = B.run_pair(command(receiver, "bulk-recv", cert, key),
                        lambda port: command(sender, "bulk-send", port, nbytes, 65536, ca), *PIN)
    if rs["bytes"] != nbytes:
        raise RuntimeError("received %d of %d bytes" % (rs["bytes"], nbytes))
    mib = rs["bytes"] / MiB
    return {"rate": mib / rs["wall"], "cpu": rs["cpu"] / mib * 1e6}


def hs_server(impl):
    rs, rc = B.run_pair(command(impl, "hs-server", cert, key, nhs),
                        lambda port: command("C", "hs-client", port, nhs, ca), *PIN)
    return {"rate": rs["count"] / rs["wall"], "cpu": rs["cpu"] / rs["count"] * 1e6}


def hs_client(impl):
    rs, rc = B.run_pair(command("C", "hs-server", cert, key, nhs),
                        lambda port: command(impl, "hs-client", port, nhs, ca), *PIN)
    return {"rate": rc["count"] / rc["wall"], "cpu": rc["cpu"] / rc["count"] * 1e6}


impls = selected()
tables = [
    table("TLS bulk receive: %d MiB from the C sender, 64 KiB writes, AES-GCM (median of %d)"
            % (nbytes // MiB, REPS),
            B.medians(B.alternate(impls, lambda i: bulk(i, "C"), "tls bulk recv", REPS)),
            "MiB/s", "recv us/MiB"),
    table("TLS bulk both ends: %d MiB, 64 KiB writes (median of %d)" % (nbytes // MiB, REPS),
            B.medians(B.alternate(impls, lambda i: bulk(i, i), "tls bulk", REPS)),
            "MiB/s", "recv us/MiB"),
    table("TLS handshakes, server: %d full handshakes from the C client (median of %d)" % (nhs, REPS),
            B.medians(B.alternate(impls, hs_server, "tls hs server", REPS)),
            "hs/s", "us/hs"),
    table("TLS handshakes, client: %d full handshakes to the C server (median of %d)" % (nhs, REPS),
            B.medians(B.alternate(impls, hs_client, "tls hs client", REPS)),
            "hs/s", "us/hs"),
]
B.save("tls", tables)
