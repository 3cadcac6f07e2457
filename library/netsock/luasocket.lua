---@meta netsock.luasocket
-- LuaCATS annotations for `netsock.luasocket` (lua/netsock/luasocket.lua):
-- LuaSocket 3.1's socket / socket.core / socket.unix API on netsock.
-- `require("netsock.luasocket").install()` makes `require "socket"` this
-- module (docs/luasocket.md). Results and errors are LuaSocket's: `1.0`
-- (a float) on success, `nil, message` on failure.

---@alias netsock.luasocket.pattern "*l"|"*a"|number

---@class netsock.luasocket
---@field BLOCKSIZE integer 2048, the block size of socket.source
local socket = {}

---Registers the module as `socket`, `socket.core` and `socket.unix` in
---package.loaded, and ignores SIGPIPE for the process (as LuaSocket does).
---@return netsock.luasocket
function socket.install() end

---A TCP master object whose descriptor is made at bind or connect time.
---@return netsock.luasocket.tcp? tcp
---@return string? message
function socket.tcp() end
---A TCP master object on IPv4.
---@return netsock.luasocket.tcp? tcp
---@return string? message
function socket.tcp4() end
---A TCP master object on IPv6 (IPv6 only).
---@return netsock.luasocket.tcp? tcp
---@return string? message
function socket.tcp6() end
---A UDP object whose descriptor is made at first use.
---@return netsock.luasocket.udp? udp
---@return string? message
function socket.udp() end
---A UDP object on IPv4.
---@return netsock.luasocket.udp? udp
---@return string? message
function socket.udp4() end
---A UDP object on IPv6 (IPv6 only).
---@return netsock.luasocket.udp? udp
---@return string? message
function socket.udp6() end

---A connected tcp{client}.
---@param address string
---@param port string|integer
---@param locaddr? string
---@param locport? string|integer
---@param family? "inet"|"inet6"|"unspec"
---@return netsock.luasocket.tcp? client
---@return string? message
function socket.connect(address, port, locaddr, locport, family) end
---socket.connect on IPv4.
---@return netsock.luasocket.tcp? client
---@return string? message
function socket.connect4(address, port, locaddr, locport) end
---socket.connect on IPv6.
---@return netsock.luasocket.tcp? client
---@return string? message
function socket.connect6(address, port, locaddr, locport) end
---A listening tcp{server} with reuseaddr.
---@param host string
---@param port string|integer
---@param backlog? integer
---@return netsock.luasocket.tcp? server
---@return string? message
function socket.bind(host, port, backlog) end

---The objects of recvt ready to read and of sendt ready to write, each
---table both an array and a map object -> index; "timeout" third when none.
---@param recvt? table
---@param sendt? table
---@param timeout? number
---@return table readable
---@return table writable
---@return string? err
function socket.select(recvt, sendt, timeout) end

---Wall-clock seconds since the epoch.
---@return number
function socket.gettime() end
---Sleeps (inside a netsock task, only the task).
---@param seconds number
function socket.sleep(seconds) end
---The arguments after the first d.
---@param d integer
---@return any ...
function socket.skip(d, ...) end
---A try function: returns its arguments when the first is true, else
---calls finalizer and raises the second for protect to catch.
---@param finalizer? function
---@return function
function socket.newtry(finalizer) end
---f in a protected call: an error raised by a try becomes nil, message.
---@param f function
---@return function
function socket.protect(f) end
---socket.newtry() with no finalizer.
---@return any ...
function socket.try(...) end
---A function (name, a, b) calling t[name](a, b).
---@param t table
---@return function
function socket.choose(t) end
---An ltn12 sink over a socket: "keep-open" (default) or "close-when-done".
---@return table sink
function socket.sink(mode, sock) end
---An ltn12 source over a socket: "until-closed" (default) or "by-length".
---@return table source
function socket.source(mode, sock, length) end

---The sink factories by name ("close-when-done", "keep-open", "default").
---@class netsock.luasocket.sinkt
local sinkt = {}
---The default sink ("keep-open").
---@return table sink
function sinkt.default(sock) end

---The source factories by name ("by-length", "until-closed", "default").
---@class netsock.luasocket.sourcet
local sourcet = {}
---The default source ("until-closed").
---@return table source
function sourcet.default(sock, length) end

---@class netsock.luasocket.dns
local dns = {}
---The first IPv4 address of a name, and {name=, alias=, ip=}.
---@param name string
---@return string? ip
---@return table|string details or message
function dns.toip(name) end
---The name of an address, and {name=, alias=, ip=}.
---@param address string
---@return string? name
---@return table|string details or message
function dns.tohostname(address) end
---{ {family = "inet"|"inet6", addr = ip}, ... }
---@param host string
---@return table? infos
---@return string? message
function dns.getaddrinfo(host) end
---The names of host, and the service name of port when given.
---@param host? string
---@param port? string|integer
---@return table? names
---@return string? service or message
function dns.getnameinfo(host, port) end
---This host's name.
---@return string
function dns.gethostname() end

---@class netsock.luasocket.unix
local unix = {}
---A unixstream{master} object (also socket.unix() and unix.tcp()).
---@return netsock.luasocket.unixstream? stream
---@return string? message
function unix.stream() end
---Another name of unix.stream.
---@return netsock.luasocket.unixstream? stream
---@return string? message
function unix.tcp() end
---A unixdgram{unconnected} object.
---@return netsock.luasocket.unixdgram? dgram
---@return string? message
function unix.dgram() end
---Another name of unix.dgram.
---@return netsock.luasocket.unixdgram? dgram
---@return string? message
function unix.udp() end

---A TCP object: tcp{master}, tcp{client} or tcp{server} (its `class`).
---@class netsock.luasocket.tcp
---@field class string
local tcp = {}
---@return netsock.luasocket.tcp? client
---@return string? message
function tcp:accept() end
---@return number? ok
---@return string? message
function tcp:bind(address, port) end
---@return number ok
function tcp:close() end
---@return number? ok
---@return string? message
function tcp:connect(address, port) end
---Whether bytes are buffered unread.
---@return boolean
function tcp:dirty() end
---@return "inet4"|"inet6"
function tcp:getfamily() end
---The descriptor (a float), -1 when there is none.
---@return number
function tcp:getfd() end
---@return any value
---@return string? message
function tcp:getoption(name) end
---@return string? address
---@return number|string|nil port or message
---@return string? family
function tcp:getpeername() end
---@return string? address
---@return string|nil port or message
---@return string? family
function tcp:getsockname() end
---Bytes received, bytes sent, age in seconds.
---@return number received
---@return number sent
---@return number age
function tcp:getstats() end
---The block and total timeouts (-1: none).
---@return number block
---@return number total
function tcp:gettimeout() end
---@return number? ok
---@return string? message
function tcp:listen(backlog) end
---A line ("*l", default), everything ("*a") or n bytes; nil, err, partial.
---@param pattern? netsock.luasocket.pattern
---@param prefix? string
---@return string? data
---@return string? err
---@return string? partial
function tcp:receive(pattern, prefix) end
---Sends data:sub(i, j): the index of the last byte sent, or nil, err, last.
---@return number? last
---@return string? err
---@return number? lastsent
function tcp:send(data, i, j) end
----1 lets go of the descriptor without closing it.
function tcp:setfd(fd) end
---@return number? ok
---@return string? message
function tcp:setoption(name, value) end
---tcp:connect.
---@return number? ok
---@return string? message
function tcp:setpeername(address, port) end
---tcp:bind.
---@return number? ok
---@return string? message
function tcp:setsockname(address, port) end
---@return number ok
function tcp:setstats(received, sent, age) end
---@param value? number seconds; nil or negative: none
---@param mode? "b"|"t"
---@return number ok
function tcp:settimeout(value, mode) end
---@param how? "both"|"send"|"receive"
---@return number ok
function tcp:shutdown(how) end

---A UDP object: udp{unconnected} or udp{connected}.
---@class netsock.luasocket.udp
---@field class string
local udp = {}
---@return number ok
function udp:close() end
---@return boolean
function udp:dirty() end
---@return "inet4"|"inet6"
function udp:getfamily() end
---@return number
function udp:getfd() end
---@return any value
---@return string? message
function udp:getoption(name) end
---@return string? address
---@return number|string|nil port or message
---@return string? family
function udp:getpeername() end
---@return string? address
---@return string|nil port or message
---@return string? family
function udp:getsockname() end
---@return number block
---@return number total
function udp:gettimeout() end
---One datagram (at most size bytes).
---@return string? data
---@return string? message
function udp:receive(size) end
---One datagram and its sender.
---@return string? data
---@return string? address or message
---@return integer? port
function udp:receivefrom(size) end
---@return number? sent
---@return string? message
function udp:send(data) end
---@return number? sent
---@return string? message
function udp:sendto(data, ip, port) end
function udp:setfd(fd) end
---@return number? ok
---@return string? message
function udp:setoption(name, value) end
---Connects; "*" disconnects.
---@return number? ok
---@return string? message
function udp:setpeername(address, port) end
---@return number? ok
---@return string? message
function udp:setsockname(address, port) end
---@return number ok
function udp:settimeout(value, mode) end

---A Unix stream object: unixstream{master}, {client} or {server}.
---@class netsock.luasocket.unixstream
---@field class string
local unixstream = {}
---@return netsock.luasocket.unixstream? client
---@return string? message
function unixstream:accept() end
---@return number? ok
---@return string? message
function unixstream:bind(path) end
---@return number ok
function unixstream:close() end
---@return number? ok
---@return string? message
function unixstream:connect(path) end
---@return boolean
function unixstream:dirty() end
---@return number
function unixstream:getfd() end
---@return string? path
---@return string? message
function unixstream:getsockname() end
---@return number received
---@return number sent
---@return number age
function unixstream:getstats() end
---@return number? ok
---@return string? message
function unixstream:listen(backlog) end
---@return string? data
---@return string? err
---@return string? partial
function unixstream:receive(pattern, prefix) end
---@return number? last
---@return string? err
---@return number? lastsent
function unixstream:send(data, i, j) end
function unixstream:setfd(fd) end
---@return number? ok
---@return string? message
function unixstream:setoption(name, value) end
---@return number? ok
---@return string? message
function unixstream:setpeername(path) end
---@return number? ok
---@return string? message
function unixstream:setsockname(path) end
---@return number ok
function unixstream:setstats(received, sent, age) end
---@return number ok
function unixstream:settimeout(value, mode) end
---@return number ok
function unixstream:shutdown(how) end

---A Unix datagram object: unixdgram{unconnected} or {connected}.
---@class netsock.luasocket.unixdgram
---@field class string
local unixdgram = {}
---@return number? ok
---@return string? message
function unixdgram:bind(path) end
---@return number ok
function unixdgram:close() end
---@return number? ok
---@return string? message
function unixdgram:connect(path) end
---@return boolean
function unixdgram:dirty() end
---@return number
function unixdgram:getfd() end
---@return string? path
---@return string? message
function unixdgram:getsockname() end
---@return number block
---@return number total
function unixdgram:gettimeout() end
---@return string? data
---@return string? message
function unixdgram:receive(size) end
---@return string? data
---@return string? path or message
function unixdgram:receivefrom(size) end
---@return number? sent
---@return string? message
function unixdgram:send(data) end
---@return number? sent
---@return string? message
function unixdgram:sendto(data, path) end
function unixdgram:setfd(fd) end
---@return number? ok
---@return string? message
function unixdgram:setoption(name, value) end
---@return number? ok
---@return string? message
function unixdgram:setpeername(path) end
---@return number? ok
---@return string? message
function unixdgram:setsockname(path) end
---@return number ok
function unixdgram:settimeout(value, mode) end
