# spec/ptyconsole.py: drive a real command through a pseudo-terminal, as a
# person types. Used by spec/console_spec.lua (python3, no extra modules).
#
#   c = Console(["lua5.4", "bin/netsock"])      # started in a new pty
#   c.expect(r"> $")                            # waits (bounded) for a regex
#   c.send("x = 1\r")                           # types
#   c.intr()                                    # Ctrl-C (the tty sends SIGINT)
#   c.eof()                                     # Ctrl-D
#   c.close()                                   # waits for the exit status
import os, pty, re, select, signal, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ)
ENV["LUA_PATH"] = ROOT + "/lua/?.lua;" + ROOT + "/lua/?/init.lua;;"
# the core from NETSOCK_CPATH (build/asan/ under make sanitize), netsock.edit
# from build/ where only that one is built
ENV["LUA_CPATH"] = ";".join(dict.fromkeys([os.environ.get("NETSOCK_CPATH") or (ROOT + "/build/?.so"),
                                           ROOT + "/build/?.so"])) + ";;"
ENV["TERM"] = "xterm"
ENV.pop("LD_PRELOAD", None)
ENV["HOME"] = "/nonexistent"   # no ~/.editrc
# under make sanitize the spec passes the ASan runtime as argv[1] ("-" for
# none): the console loads the sanitized core and needs it preloaded
if len(sys.argv) > 1 and sys.argv[1] not in ("", "-"):
    ENV["LD_PRELOAD"] = sys.argv[1]
    ENV["ASAN_OPTIONS"] = "detect_leaks=0"
HAS_EDIT = os.path.exists(ROOT + "/build/netsock/edit.so") and not os.environ.get("NETSOCK_NOEDIT")


class Timeout(Exception):
    pass


class Console:
    def __init__(self, argv, env=None, cwd=ROOT, rows=24, cols=200):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env or ENV)
            finally:
                os._exit(127)
        import fcntl, struct, termios
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.buf = ""     # everything read so far
        self.pos = 0      # where the next expect starts
        self.status = None

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            raise EOFError("the console closed its terminal")
        self.buf += data.decode("utf-8", "replace")
        return True

    def expect(self, pattern, timeout=10):
        """wait for regex 'pattern' after the last match; returns the match"""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no %r within %ss; output so far:\n%s"
                              % (pattern, timeout, self.buf))
            try:
                self._read(left)
            except EOFError:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise Timeout("ended without %r; output:\n%s" % (pattern, self.buf))

    def send(self, text):
        os.write(self.fd, text.encode())

    def line(self, text, prompt=r"> "):
        """type one line (Enter) after the prompt"""
        self.send(text + "\r")

    def intr(self):
        self.send("\x03")

    def eof(self):
        self.send("\x04")

    def drain(self, seconds=0.2):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self._read(max(0, end - time.monotonic()))
            except EOFError:
                break

    def close(self, timeout=10):
        """the exit status once the command ended (kills it after timeout)"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._read(0.05)
            except EOFError:
                pass
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                os.close(self.fd)
                return self.status
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise Timeout("the console did not end; output:\n" + self.buf)


def console(*args):
    return Console(["lua5.4", ROOT + "/bin/netsock"] + list(args))
