rockspec_format = "3.0"
package = "netsock"
version = "scm-1"
source = {
  url = "git+file:///dev/null",  -- built from the checkout: luarocks make
}
description = {
  summary = "BSD sockets for Lua 5.4: TCP, UDP, IPv6, Unix, files, select, tasks",
  detailed = [[
netsock gives Lua what Python's socket module gives Python: TCP and UDP
over IPv4, IPv6 and Unix-domain sockets, timeouts, a buffered makefile
reader, select and an epoll poller, name resolution, and coroutine
tasks for many clients in one process.]],
  license = "MIT",
}
-- Linux (CI runs both builds there: make test, make test PORTABLE=1);
-- macOS and the BSDs build the same generic seams (src/sys_posix.c,
-- src/ready_poll.c), which this project's CI does not run there (README,
-- "Platforms"); Windows builds src/win/ (CI cross-builds it with mingw-w64
-- and runs it under wine, never on real Windows: README, "Windows")
supported_platforms = { "linux", "macosx", "freebsd", "openbsd", "netbsd", "windows" }
dependencies = {
  "lua >= 5.4, < 5.5",
}
-- netsock.tls: OpenSSL 3 (Debian: libssl-dev)
external_dependencies = {
  OPENSSL = { header = "openssl/ssl.h", library = "ssl" },
}
build = {
  type = "builtin",
  modules = {
    ["netsock.core"] = {
      sources = {
        "src/sys_posix.c", "src/ready_poll.c", "src/errors.c", "src/aux.c",
        "src/buffer.c", "src/addr.c", "src/signal_posix.c", "src/signal.c", "src/process.c",
        "src/sched.c", "src/wait.c", "src/loop.c", "src/pool.c", "src/resolve.c", "src/select.c",
        "src/tlsctx.c", "src/tlsrec.c", "src/tls.c", "src/io.c",
        "src/socket.c", "src/connect.c", "src/file.c", "src/dgram.c",
        "src/mmsg.c", "src/sendfile.c", "src/options.c", "src/lsutil.c",
        "src/lsstream.c", "src/luasocket.c", "src/core.c",
      },
      defines = { "NS_HAVE_TLS" },
      libraries = { "pthread", "ssl", "crypto" },
      incdirs = { "src", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)" },
    },
    ["netsock"] = "lua/netsock.lua",
    ["netsock.tasks"] = "lua/netsock/tasks.lua",
    ["netsock.sync"] = "lua/netsock/sync.lua",
    ["netsock.check"] = "lua/netsock/check.lua",
    ["netsock.luasocket"] = "lua/netsock/luasocket.lua",
    ["netsock.luasocket.sock"] = "lua/netsock/luasocket/sock.lua",
    ["netsock.luasocket.helpers"] = "lua/netsock/luasocket/helpers.lua",
    ["netsock.luasocket.unix"] = "lua/netsock/luasocket/unix.lua",
    ["netsock.tls"] = "lua/netsock/tls.lua",
    ["netsock.console"] = "lua/netsock/console.lua",
    ["netsock.serve"] = "lua/netsock/serve.lua",
    ["netsock.workers"] = "lua/netsock/workers.lua",
  },
  -- The seams: the generic POSIX ones above (each takes the better call
  -- where the system's headers define it: SO_NOSIGPIPE, LOCAL_PEERCRED,
  -- SO_REUSEPORT_LB...); Linux's own on Linux. The Makefile chooses by
  -- compiling probes (tools/probe); LuaRocks' builtin build cannot, so
  -- the per-platform lists stand in for them. No -D_GNU_SOURCE but on
  -- Linux.
  platforms = {
    linux = {
      modules = {
        ["netsock.core"] = {
          sources = {
            -- the generic list, index for index, but the two seams:
            -- LuaRocks merges a platform's list into the other by index
            "src/sys_linux.c", "src/ready_epoll.c", "src/errors.c", "src/aux.c",
            "src/buffer.c", "src/addr.c", "src/signal_posix.c", "src/signal.c", "src/process.c",
            "src/sched.c", "src/wait.c", "src/loop.c", "src/pool.c", "src/resolve.c", "src/select.c",
            "src/tlsctx.c", "src/tlsrec.c", "src/tls.c", "src/io.c",
            "src/socket.c", "src/connect.c", "src/file.c", "src/dgram.c",
            "src/mmsg.c", "src/sendfile.c", "src/options.c", "src/lsutil.c",
            "src/lsstream.c", "src/luasocket.c", "src/core.c",
          },
          defines = { "_GNU_SOURCE", "NS_HAVE_TLS" },
        },
      },
    },
    -- Windows (LuaRocks' "windows" platform, mingw or MSVC): Winsock 2
    -- (src/win/, README "Windows"), the module netsock\core.dll. The list
    -- is the generic one index for index with the Windows files in the
    -- places of the POSIX seams, signal_posix.c and process.c, and one
    -- more at the end; src/win/include first, where the POSIX headers the
    -- core includes lead to Winsock. Tested with mingw-w64 under wine by
    -- make windows (the Makefile's build); the rock on Windows is not run
    -- by this project's CI.
    windows = {
      modules = {
        ["netsock.core"] = {
          sources = {
            "src/win/sys_win.c", "src/win/ready_win.c", "src/errors.c", "src/aux.c",
            "src/buffer.c", "src/addr.c", "src/win/signal_win.c", "src/signal.c",
            "src/win/process_win.c",
            "src/sched.c", "src/wait.c", "src/loop.c", "src/pool.c", "src/resolve.c", "src/select.c",
            "src/tlsctx.c", "src/tlsrec.c", "src/tls.c", "src/io.c",
            "src/socket.c", "src/connect.c", "src/file.c", "src/dgram.c",
            "src/mmsg.c", "src/sendfile.c", "src/options.c", "src/lsutil.c",
            "src/lsstream.c", "src/luasocket.c", "src/core.c", "src/win/netdb_win.c",
          },
          defines = { "NS_HAVE_TLS", "_FILE_OFFSET_BITS=64" },
          -- OpenSSL's static libraries need crypt32 and gdi32 (its
          -- Configure's mingw64 EX_LIBS); winpthreads for pthread.h
          libraries = { "ssl", "crypto", "ws2_32", "iphlpapi", "crypt32", "gdi32", "pthread" },
          incdirs = { "src/win/include", "src", "$(OPENSSL_INCDIR)" },
        },
      },
    },
  },
  -- macOS: LuaRocks links a module with its LIBFLAG for the platform,
  -- "-bundle -undefined dynamic_lookup -all_load" (the interpreter
  -- provides Lua's symbols); nothing to add here
  -- the console; line editing comes with the netsock-edit rock (libedit):
  -- luarocks --lua-version 5.4 make rocks/netsock-edit-scm-1.rockspec
  install = { bin = { netsock = "bin/netsock" } },
  -- installed beside the modules (luarocks show --rock-dir netsock):
  -- the docs, the examples, and library/, the LuaCATS annotations for
  -- lua-language-server (see README.md, "Editor support")
  copy_directories = { "docs", "examples", "library" },
}
-- luarocks --lua-version 5.4 test [-- SPEC...]: builds (make), then runs
-- the specs with the busted on PATH. No test_dependencies: LuaRocks would
-- insist on a busted *rock* and download one even where Debian's
-- lua-busted is installed (tools/rocktest says why and what to install).
test = { type = "command", command = "sh tools/rocktest" }
