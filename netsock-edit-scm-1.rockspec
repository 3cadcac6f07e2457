rockspec_format = "3.0"
package = "netsock-edit"
version = "scm-1"
source = {
  url = "git+file:///dev/null",  -- built from the checkout: luarocks make netsock-edit-scm-1.rockspec
}
description = {
  summary = "Line editing and history for the netsock console, through libedit",
  detailed = [[
The netsock.edit module: the `netsock` console's line editor, built on
libedit (BSD licence). Without it the console reads plain lines.]],
  license = "MIT",
}
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
