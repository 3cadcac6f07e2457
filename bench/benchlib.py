# bench/benchlib.py: what the socket benchmarks (bench/bulk, pingpong,
# udp, accept) share: the four implementations, building the C side,
# running a server and a client as child processes with a time bound,
# alternating the implementations, medians, ratios and the table.
#
# Every program under bench/impl prints "port N" once it listens and a
# line "result key=value ..." at the end with the wall time and its own
# CPU time (user+sys) over the measured part, so interpreter start-up
# is left out of both.
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bench")
LUA = os.environ.get("LUA", "lua5.4")
PYTHON = os.environ.get("PYTHON", sys.executable or "python3")

# "netsock.luasocket": LuaSocket's own program (bench/impl/luasocket.lua)
# unchanged, run under require("netsock.luasocket").install()
IMPLS = ["C", "netsock", "netsock.luasocket", "LuaSocket", "Python", "netsock batch"]
# "netsock batch": s:recvmany(32) / s:sendmany of 32 (bench/udp only)
BATCH = "netsock batch"
LAYER = "netsock.luasocket"
# BENCH_BASE=DIR (another checkout, built): "netsock base" runs the same
# netsock program on DIR's core and Lua parts, beside this tree's, to
# compare two versions in one run (make && BENCH_BASE=/tmp/main ...)
BASE = os.environ.get("BENCH_BASE")
if BASE:
    IMPLS.insert(2, "netsock base")

# The timed variant of an implementation ("netsock timed"): the same
# program with BENCH_SOCK_TIMEOUT=30 in its environment, so that every
# socket it makes gets a 30 s timeout as its users write it (netsock and
# LuaSocket settimeout(30), Python settimeout(30), C SO_RCVTIMEO and
# SO_SNDTIMEO set once on each descriptor). BENCH_TIMED=0: untimed only.
SOCK_TIMEOUT = 30
TIMED = " timed"


def timed(impl):
    return impl + TIMED


def untimed(impl):
    return impl[:-len(TIMED)] if impl.endswith(TIMED) else impl


def variants(impls):
    """impls, then their timed variants unless BENCH_TIMED=0."""
    if os.environ.get("BENCH_TIMED", "1") == "0":
        return list(impls)
    return list(impls) + [timed(i) for i in impls]


def split_timed(med):
    """impl -> medians into (untimed, timed), both keyed by plain names."""
    a = {k: v for k, v in med.items() if not k.endswith(TIMED)}
    b = {untimed(k): v for k, v in med.items() if k.endswith(TIMED)}
    return a, b


def env_float(name, default):
    v = os.environ.get(name)
    return float(v) if v not in (None, "") else default


SCALE = env_float("BENCH_SCALE", 1.0)
REPS = int(env_float("BENCH_REPS", 3))  # see reps() for a test's own default
TIMEOUT = env_float("BENCH_TIMEOUT", 120.0)


def size(name, full, minimum=1):
    """A size: $NAME if set, else the full size times BENCH_SCALE."""
    v = os.environ.get(name)
    if v not in (None, ""):
        return int(float(v))
    return max(minimum, int(full * SCALE))


def selected_impls():
    want = os.environ.get("BENCH_IMPLS")
    if not want:
        return [i for i in IMPLS if i != BATCH]
    names = {n.lower(): n for n in IMPLS}
    return [names[w.strip().lower()] for w in want.split(",") if w.strip()]


def build_c():
    """build/bench/c from bench/impl/c.c with -O2 (when out of date)."""
    src = os.path.join(ROOT, "bench", "impl", "c.c")
    out = os.path.join(BUILD, "c")
    os.makedirs(BUILD, exist_ok=True)
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        cc = os.environ.get("CC", "cc")
        subprocess.check_call([cc, "-O2", "-std=c99", "-D_GNU_SOURCE",
                               "-Wall", "-Wextra", "-o", out, src])
    return out


def base_env():
    """argv prefix running netsock from BENCH_BASE (servers "base", "base_t")."""
    if not BASE:
        raise RuntimeError("the base servers need BENCH_BASE=DIR (a second checkout, built)")
    return ["env", "LUA_PATH=%s/lua/?.lua;%s/lua/?/init.lua;;" % (BASE, BASE),
            "LUA_CPATH=%s/build/?.so;;" % BASE]


def lua_env():
    env = dict(os.environ)
    env["LUA_PATH"] = "%s/lua/?.lua;%s/lua/?/init.lua;;" % (ROOT, ROOT)
    env["LUA_CPATH"] = "%s/build/?.so;;" % ROOT
    return env


def command(impl, *args):
    """argv running 'impl' in the given mode."""
    args = [str(a) for a in args]
    if impl.endswith(TIMED):
        return ["env", "BENCH_SOCK_TIMEOUT=%d" % SOCK_TIMEOUT] + command(untimed(impl), *args)
    if impl == "C":
        return [os.path.join(BUILD, "c")] + args
    if impl == "netsock":
        return [LUA, os.path.join(ROOT, "bench", "impl", "netsock.lua")] + args
    if impl == BATCH:  # the batch mode of a udp test (bench/udp)
        return [LUA, os.path.join(ROOT, "bench", "impl", "netsock.lua"),
                args[0] + "-many"] + args[1:]
    if impl == "netsock base":
        return ["env", "LUA_PATH=%s/lua/?.lua;%s/lua/?/init.lua;;" % (BASE, BASE),
                "LUA_CPATH=%s/build/?.so;;" % BASE,
                LUA, os.path.join(ROOT, "bench", "impl", "netsock.lua")] + args
    if impl == "LuaSocket":
        return [LUA, os.path.join(ROOT, "bench", "impl", "luasocket.lua")] + args
    if impl == LAYER:
        return [LUA, "-e", 'require("netsock.luasocket").install()',
                os.path.join(ROOT, "bench", "impl", "luasocket.lua")] + args
    if impl == "Python":
        return [PYTHON, os.path.join(ROOT, "bench", "impl", "py.py")] + args
    raise ValueError(impl)


def check_tools():
    """Stop with a clear message when a needed program is missing."""
    missing = [t for t in (LUA, "taskset") if shutil.which(t) is None]
    if missing:
        sys.exit("bench: missing %s (make deps-bench installs them)" % ", ".join(missing))
    r = subprocess.run([LUA, "-e", 'require "socket"'], capture_output=True)
    if r.returncode != 0:
        sys.exit("bench: LuaSocket is missing (apt-get install lua-socket)")
    if not os.path.exists(os.path.join(ROOT, "build", "netsock", "core.so")):
        sys.exit("bench: build/netsock/core.so is missing: run make first")


class Proc:
    """A child process with its stdout read line by line, bounded in time."""

    def __init__(self, argv, pin=None, stdin=False, stderr=None):
        if pin is not None:
            argv = ["taskset", "-c", str(pin)] + argv
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stderr=stderr, env=lua_env(), text=True)
        self.buf = ""
        self.lines = []

    def _fill(self, deadline):
        while "\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return False
            chunk = os.read(self.p.stdout.fileno(), 65536).decode()
            if chunk == "":
                return False
            self.buf += chunk
        return True

    def line(self, deadline):
        if not self._fill(deadline):
            return None
        line, self.buf = self.buf.split("\n", 1)
        return line

    def result(self, deadline, relay=None):
        """
        The 'result' line as a dict of floats, or None. With 'relay' (a
        Proc), every "ready" line this one prints sends "go" to relay's
        stdin (bench/accept: the client has filled the accept queue).
        """
        while True:
            line = self.line(deadline)
            if line is None:
                return None
            if relay is not None and line.startswith("ready"):
                relay.p.stdin.write("go\n")
                relay.p.stdin.flush()
            if line.startswith("result "):
                out = {}
                for kv in line.split()[1:]:
                    k, v = kv.split("=", 1)
                    out[k] = float(v)
                return out

    def wait(self, deadline):
        try:
            return self.p.wait(max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()  # by its own pid
            self.p.wait()
        for f in (self.p.stdout, self.p.stdin, self.p.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass


def run_pair(server_argv, client_argv, pin=None, client_pin=None, relay=False):
    """
    Start the server, read its port, start the client with it
    (client_argv: a function of the port), and return both results
    (dicts), or raise RuntimeError. Bounded by BENCH_TIMEOUT. 'pin' puts
    the server (and the client, unless client_pin is given) on that CPU.
    relay: the client's "ready" lines become "go" on the server's stdin.
    """
    deadline = time.monotonic() + TIMEOUT
    if client_pin is None:
        client_pin = pin
    srv = Proc(server_argv, pin, stdin=relay)
    cli = None
    try:
        line = srv.line(time.monotonic() + 15)
        if line is None or not line.startswith("port "):
            raise RuntimeError("%s did not listen" % " ".join(server_argv))
        port = int(line.split()[1])
        cli = Proc(client_argv(port), client_pin)
        rc = cli.result(deadline, srv if relay else None)
        rs = srv.result(deadline)
        if rs is None or rc is None:
            raise RuntimeError("no result from %s (timeout %.0f s?)"
                               % (" ".join((srv if rs is None else cli).argv), TIMEOUT))
        if cli.wait(deadline) != 0 or srv.wait(deadline) != 0:
            raise RuntimeError("a child failed: %s" % " ".join(server_argv))
        return rs, rc
    finally:
        srv.kill()
        if cli is not None:
            cli.kill()


def reps(default=3):
    """BENCH_REPS if set, else this test's default."""
    v = os.environ.get("BENCH_REPS")
    return int(float(v)) if v not in (None, "") else default


def alternate(impls, one_run, label="", nreps=None):
    """
    Run one_run(impl) -> dict of metrics nreps times (BENCH_REPS, 3) for
    every impl, in rotating order (A B C D, B C D A, ...), so that drift
    of the machine hits every implementation alike. Returns impl -> [dicts].
    """
    out = {i: [] for i in impls}
    for rep in range(nreps or REPS):
        order = impls[rep % len(impls):] + impls[:rep % len(impls)]
        for impl in order:
            try:
                m = one_run(impl)
            except RuntimeError as e:
                print("  %s %s: FAILED: %s" % (label, impl, e), file=sys.stderr)
                continue
            out[impl].append(m)
            if os.environ.get("BENCH_VERBOSE"):
                print("  %s rep %d %-9s %s" % (label, rep + 1, impl,
                      " ".join("%s=%.4g" % kv for kv in sorted(m.items()))),
                      file=sys.stderr)
    return out


def medians(runs):
    """impl -> [dict] to impl -> dict of medians (missing impls dropped)."""
    med = {}
    for impl, rs in runs.items():
        if rs:
            med[impl] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
    return med


def fmt_num(x):
    if x is None:
        return "-"
    if x >= 100:
        return "{:,.0f}".format(x)
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def ratio(a, b):
    if a is None or not b:
        return "-"
    return "%.2f" % (a / b)


def table(title, med, rate, rate_unit, cpu, cpu_unit, extra=None, nreps=None, ref=None):
    """
    Print one table: per implementation the median rate and CPU per
    operation, each with its ratio to C and to LuaSocket. 'rate' and
    'cpu' are keys in the median dicts; 'extra' a list of (key, header,
    formatter) columns added at the end. 'ref': the medians whose C row
    the ratios to C use (a timed table: blocking C of the same run);
    by default 'med' itself.
    Returns the rows as dicts (for the summary).
    """
    extra = extra or []
    hdr = ["impl", rate_unit, "xC", "xLuaSocket", cpu_unit, "xC", "xLuaSocket"]
    hdr += [h for _, h, _ in extra]
    rows = []
    c = (ref if ref is not None else med).get("C", {})
    ls = med.get("LuaSocket", {})
    out = []
    for impl in IMPLS:
        if impl not in med:
            continue
        m = med[impl]
        r, u = m.get(rate), m.get(cpu)
        row = [impl, fmt_num(r), ratio(r, c.get(rate)), ratio(r, ls.get(rate)),
               fmt_num(u), ratio(u, c.get(cpu)), ratio(u, ls.get(cpu))]
        row += [f(m.get(k)) for k, _, f in extra]
        out.append(row)
        rows.append({"impl": impl, "rate": r, "cpu": u,
                     "rate_vs_c": None if not c.get(rate) else r / c[rate],
                     "cpu_vs_c": None if not c.get(cpu) else u / c[cpu],
                     "extra": {k: m.get(k) for k, _, _ in extra}})
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *out)]
    print("\n" + title)
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(hdr, widths)))
    print(line)
    print("-" * len(line))
    for row in out:
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w)
                        for i, (x, w) in enumerate(zip(row, widths))))
    sys.stdout.flush()
    print("(load average %.2f)" % loadavg())
    return {"title": title, "rate_unit": rate_unit, "cpu_unit": cpu_unit,
            "extra_headers": {k: h for k, h, _ in extra}, "load": loadavg(),
            "rows": rows, "reps": nreps or REPS, "scale": SCALE}


def save(name, tables):
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, name + ".json"), "w") as f:
        json.dump(tables, f, indent=1)


# {====== Servers measured from outside: CPU per request from /proc ======
#
# bench/http and bench/echo run servers they did not write (nginx) and
# servers that fork (serve's workers, nginx's workers), so the CPU a
# server spends is read from /proc: every process in the tree under the
# server's pid, every thread of each, the scheduler's run time in
# nanoseconds (/proc/PID/task/TID/schedstat, user and system together),
# plus what the root has reaped of children that ended. CPU per request
# is the difference over the load run divided by the requests done.

def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _proc_cpu(pid):
    """One process's CPU seconds: its threads' run time."""
    total = 0.0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0]) / 1e9
            except OSError:
                pass
    except OSError:
        pass
    return total


def _reaped(pid):
    """CPU seconds of the children 'pid' has waited for (cutime+cstime)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_cpu(pid):
    """CPU seconds so far of process 'pid' and all its descendants."""
    total, seen, todo = _reaped(pid), set(), [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _proc_cpu(p)
        todo += _children(p)
    return total


def loadavg():
    """The 1-minute load average now (written beside every figure)."""
    return os.getloadavg()[0]


def wait_port(port, seconds=10):
    """True once something accepts on 127.0.0.1:port."""
    import socket
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    """A port nobody listens on now (the kernel's pick, released)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop(p, seconds=5):
    """SIGTERM to our child p (its own pid), then SIGKILL if it lingers."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(seconds)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

# }======


# {====== Server benchmarks (bench/http, bench/echo) ======

def server_rounds(servers, conns, one_run, label):
    """
    For every connection count, BENCH_REPS rounds in which every server
    of 'servers' runs once, in rotating order. one_run(server, n) ->
    dict with at least rate, cpu (per request) and load, or raises
    RuntimeError. Returns {(server, n): [dicts]}.
    """
    out = {}
    nreps = reps(3)
    for n in conns:
        for rep in range(nreps):
            order = servers[rep % len(servers):] + servers[:rep % len(servers)]
            for s in order:
                try:
                    m = one_run(s, n)
                except RuntimeError as e:
                    print("  %s %s c=%d: FAILED: %s" % (label, s, n, e), file=sys.stderr)
                    continue
                out.setdefault((s, n), []).append(m)
                if os.environ.get("BENCH_VERBOSE"):
                    print("  %s c=%d rep %d %-11s %s" % (label, n, rep + 1, s,
                          " ".join("%s=%.4g" % kv for kv in sorted(m.items()))),
                          file=sys.stderr)
    return out


def server_table(title, runs, servers, conns, ref, rate_unit, cpu_unit,
                 extra=None, ratio_to=None):
    """
    Print one table per run of server benchmarks, CPU per request first:
    for each connection count and server the medians of CPU per request,
    rate, the extra columns (key, header, formatter) and the load average,
    with the CPU and rate ratios to server 'ref' at the same count.
    ratio_to(server) may name another reference for a row (a timed
    variant against its untimed self). Returns the JSON-able table.
    """
    extra = extra or []
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items() if v}
    hdr = ["conns", "server", cpu_unit, "x " + ref, rate_unit, "x " + ref] + \
          [h for _, h, _ in extra] + ["load"]
    rows, out = [], []
    for n in conns:
        base = med.get((ref, n), {})
        for s in servers:
            m = med.get((s, n))
            if not m:
                continue
            r = ratio_to(s) if ratio_to else None
            rb = med.get((r, n), {}) if r else None
            row = {"impl": s, "conns": n, "rate": m["rate"], "cpu": m["cpu"],
                   "load": m.get("load"),
                   "cpu_vs_c": m["cpu"] / base["cpu"] if base.get("cpu") else None,
                   "rate_vs_c": m["rate"] / base["rate"] if base.get("rate") else None,
                   "extra": {k: m.get(k) for k, _, _ in extra}}
            if rb and rb.get("cpu"):
                row["cpu_vs_untimed"] = m["cpu"] / rb["cpu"]
            rows.append(row)
            out.append([str(n), s, fmt_num(m["cpu"]), ratio(m["cpu"], base.get("cpu")),
                        fmt_num(m["rate"]), ratio(m["rate"], base.get("rate"))] +
                       [f(m.get(k)) for k, _, f in extra] +
                       ["%.2f" % m["load"] if m.get("load") is not None else "-"])
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *out)]
    print("\n" + title)
    line = "  ".join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(hdr, widths)))
    print(line)
    print("-" * len(line))
    for row in out:
        print("  ".join(x.rjust(w) if i > 1 else x.ljust(w) for i, (x, w) in enumerate(zip(row, widths))))
    timed = [r for r in rows if "cpu_vs_untimed" in r]
    for r in timed:
        print("  %s at %d connections: CPU per request %.2f x its untimed self"
              % (r["impl"], r["conns"], r["cpu_vs_untimed"]))
    sys.stdout.flush()
    return {"title": title, "rate_unit": rate_unit, "cpu_unit": cpu_unit, "ref": ref,
            "conns": list(conns), "servers": list(servers),
            "extra_headers": {k: h for k, h, _ in extra}, "rows": rows,
            "reps": reps(3), "scale": SCALE}

# }======
