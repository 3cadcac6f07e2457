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
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "builtin",
  modules = {
    ["netsock.core"] = {
      sources = {
        "src/core.c", "src/socket.c", "src/addr.c", "src/buffer.c",
        "src/poll.c", "src/errors.c", "src/options.c", "src/dgram.c",
        "src/resolve.c",
      },
      defines = { "_GNU_SOURCE" },
      libraries = { "pthread" },
      incdirs = { "src" },
    },
    ["netsock"] = "lua/netsock.lua",
    ["netsock.tasks"] = "lua/netsock/tasks.lua",
    ["netsock.serve"] = "lua/netsock/serve.lua",
  },
}
-- installed beside the modules (luarocks show --rock-dir netsock):
-- the docs, the examples, and library/, the LuaCATS annotations for
-- lua-language-server (see README.md, "Editor support")
build.copy_directories = { "docs", "examples", "library" }
test_dependencies = { "busted" }
test = { type = "busted" }
