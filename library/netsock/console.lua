---@meta netsock.console
-- LuaCATS annotations for `netsock.console` (lua/netsock/console.lua):
-- the console endpoint a terminal attaches to with `netsock console PATH`.

---@class netsock.console
local console = {}

---A console endpoint (`netsock.console.listen`).
---@class netsock.consoleendpoint
---@field path string
---@field socket netsock.socket the listening Unix-domain socket
local endpoint = {}

---Closes the endpoint and removes the socket file it made (if that file
---is still there, unchanged); attached sessions go on.
---@return true
function endpoint:close() end

---Opens a console endpoint on a Unix-domain socket: mode 0600, and only
---this user is let in (SO_PEERCRED). `netsock console PATH` attaches.
---Only a dead socket file of this user at `path` is replaced; anything
---else there gives `nil, message, "EADDRINUSE"`. Options are checked at
---the call (an unknown one raises).
---@param path string
---@param options? netsock.consoleoptions
---@return netsock.consoleendpoint? endpoint
---@return string? message
---@return string? code
function console.listen(path, options) end

---@class netsock.consoleoptions
---@field env? table the chunks' globals (default: the program's `_G`)

---The terminal's side of `netsock console PATH`: attaches this terminal
---(only to an endpoint run by this user or root; its output is shown with
---control sequences escaped) and returns the exit status when it detaches.
---@param path string
---@return integer status
function console.attach(path) end

---The `netsock` command: `args` as in `arg`; returns the exit status.
---@param args? string[]
---@return integer status
function console.main(args) end

---A session over a terminal object (`read`, `write`, `history`, `abandon`).
---@param term table
---@param opts? {env?: table, progname?: string, print?: function, interrupt_hook?: boolean, watchfd?: integer}
---@return table session
function console.session(term, opts) end

return console
