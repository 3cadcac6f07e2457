rockspec_format = "3.0"
package = "netsock-edit"
version = "scm-1"
source = {
  -- built from the checkout's top folder (its paths are relative to it):
  -- luarocks --lua-version 5.4 make rocks/netsock-edit-scm-1.rockspec
  -- Kept out of the top folder so that `luarocks make` and `luarocks test`
  -- there find one rockspec, whatever the checkout's folder is called.
  url = "git+file:///dev/null",
}
description = {
  summary = "Line editing and history for the netsock console, through libedit",
  detailed = [[
The netsock.edit module: the `netsock` console's line editor, built on
libedit (BSD licence). Without it the console reads plain lines.]],
  license = "MIT",
}
supported_platforms = { "linux", "macosx", "freebsd", "openbsd", "netbsd" }
dependencies = {
  "lua >= 5.4, < 5.5",
  "netsock",
}
external_dependencies = {
  EDIT = { header = "histedit.h", library = "edit" },
}
build = {
  type = "builtin",
  modules = {
    ["netsock.edit"] = {
      sources = { "src/edit/edit.c" },
      libraries = { "edit" },
      incdirs = { "$(EDIT_INCDIR)" },
      libdirs = { "$(EDIT_LIBDIR)" },
    },
  },
}
