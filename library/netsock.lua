---@meta netsock
-- LuaCATS annotations for lua-language-server: what `require "netsock"`
-- gives. Nothing here runs; docs/api.md is the reference. Point
-- .luarc.json's "workspace.library" at this directory (see README.md).
-- spec/meta/annotations_spec.lua checks that every public function, method
-- and field of the module is named here, and nothing else.

---@alias netsock.family "inet"|"inet6"|"unix"|"unspec"|integer
---@alias netsock.socktype "stream"|"dgram"|"seqpacket"|"raw"|integer
---@alias netsock.port integer|string a number 0..65535, a numeric string or a service name ("http")
---@alias netsock.how "r"|"w"|"rw"|integer
---@alias netsock.events "r"|"w"|"rw"
---@alias netsock.optionname
---| "reuseaddr"
---| "reuseport"
---| "keepalive"
---| "keepidle"
---| "keepintvl"
---| "keepcnt"
---| "broadcast"
---| "sndbuf"
---| "rcvbuf"
---| "linger"
---| "nodelay"
---| "ipv6only"
---| "ttl"
---| "multicast_ttl"
---| "multicast_loop"
---| "multicast_if"
---| "add_membership"
---| "drop_membership"
---@alias netsock.readformat "l"|"L"|"a"|"*l"|"*L"|"*a"|integer
---A table with a `__call` metamethod: spawn and run take one as they take a function.
---@alias netsock.callable table
---@alias netsock.waitable netsock.socket|netsock.file|integer|{fileno: fun(self): integer}

---The options of `create_server` (and of `serve`).
---@class netsock.serveroptions
---@field backlog? integer the listen backlog (default SOMAXCONN)
---@field family? "inet"|"inet6"|integer
---@field reuse_port? boolean set SO_REUSEPORT
---@field dualstack? boolean an IPv6 socket that accepts IPv4 clients too

---The options of `serve`: those of `create_server` and these.
---@class netsock.serveoptions: netsock.serveroptions
---@field limit? integer the most clients served at once
---@field timeout? number the timeout every connection starts with
---@field idle? number close a connection waited on this long with nothing received
---@field onerror? fun(err: any, conn: netsock.socket, traceback: string) when a handler raises
---@field workers? integer|"auto" serve from this many worker processes
---@field grace? number with workers: the stop timeout on SIGTERM (default 10)
---@field tls? netsock.tls.context serve TLS: each client's handshake runs first, in its handler's task
---@field log? fun(line: string, info: table) with workers: each worker's exit and restart (default: onerror, else stderr)

---One entry of `getaddrinfo`'s answer.
---@class netsock.addrinfo
---@field family "inet"|"inet6"|string
---@field type "stream"|"dgram"|string
---@field proto integer
---@field host string numeric address text
---@field port integer
---@field canonname? string with AI_CANONNAME, on the first entry

---The value of the "linger" option.
---@class netsock.linger
---@field on boolean
---@field timeout integer seconds

---@class netsock
---@field _VERSION string "netsock 0.3.0"
---@field version {major: integer, minor: integer, patch: integer} the release as numbers
---@field has_ipv6 boolean true when this system can make IPv6 sockets
---@field errorcode table<integer, string> errno numbers to names ([111] = "ECONNREFUSED")
---@field gaierrorcode table<integer, string> resolver error numbers to names
---@field socketmethods table<string, function> the socket method table, for extensions
---@field AF_INET integer
---@field AF_INET6 integer
---@field AF_UNIX integer
---@field AF_UNSPEC integer
---@field AI_ADDRCONFIG integer
---@field AI_ALL integer
---@field AI_CANONNAME integer
---@field AI_NUMERICHOST integer
---@field AI_NUMERICSERV integer
---@field AI_PASSIVE integer
---@field AI_V4MAPPED integer
---@field EAI_ADDRFAMILY integer
---@field EAI_AGAIN integer
---@field EAI_BADFLAGS integer
---@field EAI_FAIL integer
---@field EAI_FAMILY integer
---@field EAI_MEMORY integer
---@field EAI_NODATA integer
---@field EAI_NONAME integer
---@field EAI_OVERFLOW integer
---@field EAI_SERVICE integer
---@field EAI_SOCKTYPE integer
---@field EAI_SYSTEM integer
---@field IPPROTO_IP integer
---@field IPPROTO_IPV6 integer
---@field IPPROTO_TCP integer
---@field IPPROTO_UDP integer
---@field IPV6_JOIN_GROUP integer
---@field IPV6_LEAVE_GROUP integer
---@field IPV6_MULTICAST_HOPS integer
---@field IPV6_MULTICAST_IF integer
---@field IPV6_MULTICAST_LOOP integer
---@field IPV6_UNICAST_HOPS integer
---@field IPV6_V6ONLY integer
---@field IP_ADD_MEMBERSHIP integer
---@field IP_DROP_MEMBERSHIP integer
---@field IP_MULTICAST_IF integer
---@field IP_MULTICAST_LOOP integer
---@field IP_MULTICAST_TTL integer
---@field IP_TOS integer
---@field IP_TTL integer
---@field MSG_DONTWAIT integer
---@field MSG_NOSIGNAL integer
---@field MSG_OOB integer
---@field MSG_PEEK integer
---@field MSG_TRUNC integer
---@field MSG_WAITALL integer
---@field NI_DGRAM integer
---@field NI_MAXHOST integer
---@field NI_MAXSERV integer
---@field NI_NAMEREQD integer
---@field NI_NOFQDN integer
---@field NI_NUMERICHOST integer
---@field NI_NUMERICSERV integer
---@field SHUT_RD integer
---@field SHUT_RDWR integer
---@field SHUT_WR integer
---@field SOCK_DGRAM integer
---@field SOCK_RAW integer
---@field SOCK_SEQPACKET integer
---@field SOCK_STREAM integer
---@field SOL_SOCKET integer
---@field SOMAXCONN integer
---@field SO_ACCEPTCONN integer
---@field SO_BROADCAST integer
---@field SO_DOMAIN integer
---@field SO_DONTROUTE integer
---@field SO_ERROR integer
---@field SO_KEEPALIVE integer
---@field SO_LINGER integer
---@field SO_OOBINLINE integer
---@field SO_PROTOCOL integer
---@field SO_RCVBUF integer
---@field SO_RCVLOWAT integer
---@field SO_RCVTIMEO integer
---@field SO_REUSEADDR integer
---@field SO_REUSEPORT integer
---@field SO_SNDBUF integer
---@field SO_SNDLOWAT integer
---@field SO_SNDTIMEO integer
---@field SO_TYPE integer
---@field TCP_KEEPCNT integer
---@field TCP_KEEPIDLE integer
---@field TCP_KEEPINTVL integer
---@field TCP_NODELAY integer
local netsock = {}

-- {====== Creating sockets ======

---A new socket, with the default timeout. Fails with `nil, message, code`.
---@param family? netsock.family default "inet"
---@param type? netsock.socktype default "stream"
---@param proto? integer
---@return netsock.socket? sock
---@return string? message
---@return string? code
---@nodiscard
function netsock.socket(family, type, proto) end

---A stream socket: `socket(family or "inet", "stream")`.
---@param family? netsock.family
---@return netsock.socket? sock
---@return string? message
---@return string? code
---@nodiscard
function netsock.tcp(family) end

---A datagram socket: `socket(family or "inet", "dgram")`.
---@param family? netsock.family
---@return netsock.socket? sock
---@return string? message
---@return string? code
---@nodiscard
function netsock.udp(family) end

---Two connected sockets ("unix", "stream" by default).
---@param family? netsock.family
---@param type? netsock.socktype
---@param proto? integer
---@return netsock.socket|nil a or nil, message
---@return netsock.socket|string b or the message
---@return string? code
---@nodiscard
function netsock.socketpair(family, type, proto) end

---A socket on a duplicate of descriptor `fd`, which stays the caller's.
---@param fd integer
---@param family netsock.family
---@param type netsock.socktype
---@param proto? integer
---@return netsock.socket? sock
---@return string? message
---@return string? code
---@nodiscard
function netsock.fromfd(fd, family, type, proto) end

---A connected stream socket: tries every address of `host` in order.
---`timeout` bounds each attempt and stays set on the socket.
---@param host string
---@param port netsock.port
---@param timeout? number seconds (default: the default timeout)
---@param source_host? string bind here first
---@param source_port? netsock.port
---@return netsock.socket? sock
---@return string? message
---@return string? code
---@nodiscard
function netsock.create_connection(host, port, timeout, source_host, source_port) end

---A listening stream socket with SO_REUSEADDR. `host` "", "*" or nil is every address.
---@param host? string
---@param port netsock.port
---@param options? netsock.serveroptions
---@return netsock.socket? server
---@return string? message
---@return string? code
---@nodiscard
function netsock.create_server(host, port, options) end

-- }======

-- {====== Name resolution and helpers ======

---Every address for `host`/`port`.
---@param host? string nil, "" or "*": the any address
---@param port? netsock.port
---@param family? netsock.family
---@param type? netsock.socktype
---@param proto? integer
---@param flags? integer AI_* values
---@return netsock.addrinfo[]? infos
---@return string? message
---@return string? code an EAI_* name
---@nodiscard
function netsock.getaddrinfo(host, port, family, type, proto, flags) end

---The name and service of an address.
---@param host string
---@param port netsock.port
---@param flags? integer NI_* values
---@return string? hostname or nil, message
---@return string? service or the message
---@return string? code
---@nodiscard
function netsock.getnameinfo(host, port, flags) end

---This host's name.
---@return string? name
---@return string? message
---@return string? code
---@nodiscard
function netsock.gethostname() end

---A fully qualified name for `name` (default: this host), as Python's; never fails.
---@param name? string
---@return string
---@nodiscard
function netsock.getfqdn(name) end

---The first IPv4 address of `name`, as text.
---@param name string
---@return string? address
---@return string? message
---@return string? code
---@nodiscard
function netsock.gethostbyname(name) end

---The primary name, its aliases and its IPv4 addresses.
---@param name string
---@return string? hostname or nil, message
---@return string[]|string|nil aliases or the message
---@return string[]|string|nil addresses or the code
---@nodiscard
function netsock.gethostbyname_ex(name) end

---The name of an address: primary name, aliases, addresses.
---@param ip string
---@return string? hostname or nil, message
---@return string[]|string|nil aliases or the message
---@return string[]|string|nil addresses or the code
---@nodiscard
function netsock.gethostbyaddr(ip) end

---The port number of a service.
---@param name string
---@param proto? "tcp"|"udp"
---@return integer? port
---@return string? message
---@return string? code
---@nodiscard
function netsock.getservbyname(name, proto) end

---The service name of a port.
---@param port integer
---@param proto? "tcp"|"udp"
---@return string? name
---@return string? message
---@return string? code
---@nodiscard
function netsock.getservbyport(port, proto) end

---The number of a protocol ("tcp" is 6).
---@param name string
---@return integer? number
---@return string? message
---@return string? code
---@nodiscard
function netsock.getprotobyname(name) end

---Address text to packed bytes in network order.
---@param family netsock.family "inet" or "inet6"
---@param text string
---@return string? packed
---@return string? message
---@return string? code
---@nodiscard
function netsock.inet_pton(family, text) end

---Packed bytes (4 or 16) to address text.
---@param family netsock.family "inet" or "inet6"
---@param packed string
---@return string text
---@nodiscard
function netsock.inet_ntop(family, packed) end

---IPv4 text (classic forms too: "127.1") to 4 packed bytes.
---@param text string
---@return string? packed
---@return string? message
---@return string? code
---@nodiscard
function netsock.inet_aton(text) end

---4 packed bytes to dotted IPv4 text.
---@param packed string
---@return string text
---@nodiscard
function netsock.inet_ntoa(packed) end

---@param n integer 0..65535
---@return integer
---@nodiscard
function netsock.htons(n) end

---@param n integer 0..65535
---@return integer
---@nodiscard
function netsock.ntohs(n) end

---@param n integer 0..4294967295
---@return integer
---@nodiscard
function netsock.htonl(n) end

---@param n integer 0..4294967295
---@return integer
---@nodiscard
function netsock.ntohl(n) end

-- }======

-- {====== Timeouts, clock, waiting ======

---The timeout new sockets start with; nil is for ever.
---@return number?
---@nodiscard
function netsock.getdefaulttimeout() end

---Sets the timeout new (and accepted) sockets start with; nil is for ever.
---@param seconds number?
---@return true
function netsock.setdefaulttimeout(seconds) end

---Wall-clock seconds since the epoch.
---@return number
---@nodiscard
function netsock.gettime() end

---Monotonic seconds.
---@return number
---@nodiscard
function netsock.monotime() end

---Suspends the task (inside a task) or blocks the process for `seconds`.
---@param seconds number
function netsock.sleep(seconds) end

---The objects ready now among `readers` and `writers`; on timeout two
---empty arrays and "timeout".
---@generic T
---@param readers? T[]
---@param writers? T[]
---@param timeout? number seconds; nil waits for ever
---@return T[] readable
---@return T[] writable
---@return "timeout"? timedout
function netsock.select(readers, writers, timeout) end

---An epoll set.
---@return netsock.poller? poller
---@return string? message
---@return string? code
---@nodiscard
function netsock.poller() end

---Raises the soft RLIMIT_NOFILE to `n` (default and at most the hard limit).
---@param n? integer
---@return integer? soft or nil, message
---@return integer|string|nil hard or the message
---@return string? code
function netsock.setrlimit_nofile(n) end

-- }======

-- {====== Tasks ======

---Starts `fn(...)` as a task of the loop; returns the task.
---@param fn function|netsock.callable
---@param ... any
---@return thread task
function netsock.spawn(fn, ...) end

---Spawns `fn(...)` if given, then runs the loop until no task is left or `stop()`.
---@param fn? function|netsock.callable
---@param ... any
---@return true
function netsock.run(fn, ...) end

---Makes `run` return after the current step.
function netsock.stop() end

---One turn of the loop: runs the ready tasks, waits for I/O at most
---`timeout` seconds (default 0), fires due timers. True while tasks are left.
---@param timeout? number
---@return boolean tasksleft
function netsock.step(timeout) end

---`create_server` plus a task that accepts for ever and runs
---`handler(conn, host, port)` in a task per client.
---@param host? string
---@param port netsock.port
---@param handler fun(conn: netsock.socket, host: string, port?: integer)
---@param options? netsock.serveoptions
---@return (netsock.server|netsock.supervisor)? server a supervisor with `workers`
---@return string? message
---@return string? code
function netsock.serve(host, port, handler, options) end

---What `serve` returns: the listener (`.socket`) and the tasks serving it.
---@class netsock.server
---@field socket netsock.socket the listening socket
local server = {}

---The listener's address.
---@return string|integer ...
function server:getsockname() end

---The listener's descriptor, -1 once closed.
---@return integer
function server:fileno() end

---Closes the listener: no more accepting; running handlers go on.
---@return true
function server:close() end

---Stops accepting, lets running handlers finish for at most `timeout`
---seconds, closes the connections still open, returns.
---@param timeout? number
---@return true
function server:stop(timeout) end

---How many handlers run now.
---@return integer
function server:connections() end

---True once `stop` has begun (a keep-alive handler answers "Connection: close").
---@return boolean
function server:stopping() end

---What `serve` returns with `workers`: the supervisor of the worker processes.
---@class netsock.supervisor
---@field socket netsock.socket the first listener
---@field n integer the number of workers
local supervisor = {}

---The listeners' address.
---@return string|integer ...
function supervisor:getsockname() end

---The first listener's descriptor, -1 once closed.
---@return integer
function supervisor:fileno() end

---Tells every worker to stop (no time limit), closes the listeners; does not wait.
---@return true
function supervisor:close() end

---Stops every worker gracefully (see server:stop) and returns once all have exited.
---@param timeout? number
---@return true
function supervisor:stop(timeout) end

---A rolling restart: each worker in turn is replaced by a new one.
---@return boolean started
function supervisor:restart() end

---The pids of the workers running now.
---@return integer[]
function supervisor:pids() end

---True once `stop`, `close` or SIGTERM has begun (in a worker: once it stops).
---@return boolean
function supervisor:stopping() end

---One live task, as `netsock.tasks()` lists it.
---@class netsock.taskinfo
---@field task thread
---@field state "running"|"ready"|"waiting"|"parked"
---@field label? string a name: "console", "serve 127.0.0.1:8080", "signals"...
---@field call? string the netsock call it waits in ("socket:recv", "netsock.sleep")
---@field fd? integer the descriptor it waits on
---@field events? "r"|"w"|"rw"
---@field socket? string `tostring` of the socket or file waited on
---@field timeout? number seconds left before its deadline
---@field where? string `file:line` where it waits
---@field runs? string `file:line` of the function it runs
---@field created? string `file:line` of its spawn (while tracking: the console turns it on)
---@field daemon? true one of the loop's own (does not keep `run` going)

---The live tasks in spawn order; `tostring` of the array is a listing.
---@return netsock.taskinfo[]
function netsock.tasks() end

---Ends a task: its coroutine is closed (its pending call never returns,
---its to-be-closed variables close). True, or false when it had ended.
---@param task thread
---@return boolean
function netsock.cancel(task) end

-- {====== Working together (docs/concurrency.md, "Working together") ======

---Waits for a task (of `spawn` or a group) to end: `true, ...` its
---function's results; `false, err` the error it raised; `false, "cancelled"`;
---`nil, "timeout", "timeout"`. Outside tasks it runs the loop meanwhile.
---Joining twice returns the same results.
---@param task thread
---@param timeout? number
---@return boolean|nil ok
---@return any ...
function netsock.join(task, timeout) end

---A group of tasks that end together: the first raise cancels the others.
---`local g <close> = netsock.group()` cancels what is left when the scope ends.
---@return netsock.group
function netsock.group() end

---A FIFO queue of values for tasks; `capacity` (a positive integer) bounds it.
---@param capacity? integer
---@return netsock.queue
function netsock.queue(capacity) end

---A semaphore with `n` units (an integer >= 0).
---@param n integer
---@return netsock.semaphore
function netsock.semaphore(n) end

---An event: `set` wakes every waiter, later waits return at once until `clear`.
---@return netsock.event
function netsock.event() end

---Runs `fn(...)` in the calling task with a deadline over every wait inside
---it (the earliest deadline wins): `true, ...` fn's results, or
---`nil, "timeout", "timeout"` once the deadline has passed. Errors pass through.
---@param seconds number
---@param fn function
---@param ... any
---@return true|nil ok
---@return any ...
function netsock.timeout(seconds, fn, ...) end

---Tasks that end together (`netsock.group`).
---@class netsock.group
local group = {}

---Starts `fn(...)` as a task of the group; returns it.
---@param fn function
---@param ... any
---@return thread task
function group:spawn(fn, ...) end

---Waits until every task of the group has ended: `true`; after the first
---raise (the others cancelled) `false, err`; on timeout (all cancelled)
---`nil, "timeout", "timeout"`.
---@param timeout? number
---@return boolean|nil ok
---@return any err
---@return string? code
function group:wait(timeout) end

---Cancels every task of the group (but the running one).
---@return true
function group:cancel() end

---A FIFO of values (`netsock.queue`); `#q` is how many are queued.
---@class netsock.queue
local queue = {}

---Puts `v` (not nil), waiting while the queue is full: `true`, or
---`nil, "timeout", "timeout"`, or `nil, "closed", "closed"`.
---@param v any
---@param timeout? number
---@return true|nil ok
---@return string? message
---@return string? code
function queue:put(v, timeout) end

---The oldest value, waiting while the queue is empty; `nil, "timeout",
---"timeout"`; once closed and drained `nil, "closed", "closed"`.
---@param timeout? number
---@return any value
---@return string? message
---@return string? code
function queue:get(timeout) end

---No more puts; waiting putters and getters wake with "closed". Returns true.
---@return true
function queue:close() end

---Units for at most n tasks at once (`netsock.semaphore`).
---@class netsock.semaphore
local semaphore = {}

---Takes a unit, waiting in line for one: `true`, or `nil, "timeout", "timeout"`.
---@param timeout? number
---@return true|nil ok
---@return string? message
---@return string? code
function semaphore:acquire(timeout) end

---Gives a unit back (to the longest waiter, if any).
---@return true
function semaphore:release() end

---A flag tasks wait for (`netsock.event`).
---@class netsock.event
local event = {}

---Sets the flag and wakes every waiter.
---@return true
function event:set() end

---Clears the flag.
---@return true
function event:clear() end

---`true` at once when set, else when it is set; `nil, "timeout", "timeout"`.
---@param timeout? number
---@return true|nil ok
---@return string? message
---@return string? code
function event:wait(timeout) end

---Whether the flag is set.
---@return boolean
function event:isset() end

-- }======

---`fn(name)` runs as a task each time the signal arrives while the loop
---runs; `fn` nil removes it and restores the old disposition. Returns
---the previous handler.
---@param sig "SIGINT"|"SIGTERM"|"SIGHUP"|"SIGUSR1"|"SIGUSR2"|"SIGCHLD"|"SIGQUIT"|"SIGALRM"|"SIGPIPE"|"SIGWINCH"|string|integer
---@param fn? fun(name: string)
---@return function? previous
---@return string? message
---@return string? code
function netsock.onsignal(sig, fn) end

---This process's real user id.
---@return integer
function netsock.getuid() end

---This process's effective user id.
---@return integer
function netsock.geteuid() end

-- }======

-- {====== Socket objects ======

---A socket (`"netsock.socket"`). Methods raise on misuse; run-time
---failures return `nil, message, code`.
---@class netsock.socket
local socket = {}

---@param host string|nil a host, or a Unix path as the only argument
---@param port? netsock.port
---@return true? ok
---@return string? message
---@return string? code
function socket:bind(host, port) end

---@param backlog? integer default SOMAXCONN
---@return true? ok
---@return string? message
---@return string? code
function socket:listen(backlog) end

---Waits for a client: `conn, host, port` (or `conn, path`).
---@return netsock.socket? conn or nil, message
---@return string? host or the message, or a Unix path
---@return integer|string|nil port or the code
---@nodiscard
function socket:accept() end

---@param host string a host, or a Unix path as the only argument
---@param port? netsock.port
---@return true? ok
---@return string? message
---@return string? code
function socket:connect(host, port) end

---As connect, but returns 0 or the errno number.
---@param host string
---@param port? netsock.port
---@return integer? errno
---@return string? message
---@return string? code
function socket:connect_ex(host, port) end

---Sends `data:sub(i, j)`; returns the bytes sent, possibly fewer.
---@param data string
---@param i? integer
---@param j? integer
---@return integer? sent
---@return string? message
---@return string? code
function socket:send(data, i, j) end

---Sends all of `data:sub(i, j)`; on failure also the bytes that went out.
---@param data string
---@param i? integer
---@param j? integer
---@return true? ok
---@return string? message
---@return string? code
---@return integer? sent
function socket:sendall(data, i, j) end

---Sends a file (a Lua file handle or a path); returns the bytes sent.
---@param file file*|string
---@param offset? integer
---@param count? integer
---@return integer? sent
---@return string? message
---@return string? code
---@return integer? sent_before_failure
function socket:sendfile(file, offset, count) end

---1..bufsize bytes; nil, "closed", "closed" at end of stream.
---@param bufsize integer
---@param flags? integer MSG_* values
---@return string? data
---@return string? message
---@return string? code
---@nodiscard
function socket:recv(bufsize, flags) end

---Sends one datagram to `host, port` (or a Unix `path`).
---@param data string
---@param host string
---@param port? netsock.port
---@return integer? sent
---@return string? message
---@return string? code
function socket:sendto(data, host, port) end

---One datagram: `data, host, port` (`data, path` on Unix); a fourth `true` when it was cut.
---@param bufsize integer
---@param flags? integer
---@return string? data or nil
---@return string? host or the message, or a Unix path
---@return integer|string|nil port or the code
---@return true? truncated
---@nodiscard
function socket:recvfrom(bufsize, flags) end

---Up to `n` datagrams in one call (recvmmsg): waits for the first, then takes
---what is queued. Three arrays of the same length: datagrams, hosts, ports
---(a Unix socket: datagrams, paths); a fourth value, `cut[i] = true`, for
---datagrams longer than `bufsize` (default 2048).
---@param n integer 1 to 1024
---@param bufsize? integer 1 to 65536
---@return string[]? datagrams or nil
---@return string[]|string|nil hosts (Unix: paths), or the message
---@return integer[]|string|nil ports, or the code
---@return table<integer, true>? cut
---@nodiscard
function socket:recvmany(n, bufsize) end

---Sends every string of `datagrams` as one datagram (sendmmsg), to `host,
---port` (a Unix `path`; none: the connected peer). The number sent, or nil,
---message, code and how many went before the failure.
---@param datagrams string[]
---@param host? string
---@param port? netsock.port
---@return integer? sent
---@return string? message
---@return string? code
---@return integer? sent_before_failure
function socket:sendmany(datagrams, host, port) end

---A datagram socket forgets its peer (connect with AF_UNSPEC): it then
---sends only with sendto and receives from anyone.
---@return true? ok
---@return string? message
---@return string? code
function socket:disconnect() end

---Bytes buffered by a file object's read-ahead and not yet read.
---@return integer
---@nodiscard
function socket:pending() end

---@param seconds number? nil is for ever, 0 never waits
---@return true
function socket:settimeout(seconds) end

---@return number? seconds nil for ever
---@nodiscard
function socket:gettimeout() end

---`false` is settimeout(0), `true` settimeout(nil).
---@param flag boolean
---@return true
function socket:setblocking(flag) end

---@return boolean
---@nodiscard
function socket:getblocking() end

---By number.
---@param level integer
---@param option integer
---@param value boolean|integer|string
---@return true? ok
---@return string? message
---@return string? code
function socket:setsockopt(level, option, value) end

---By number; with `buflen` the raw bytes.
---@param level integer
---@param option integer
---@param buflen? integer 1..1024
---@return integer|string|nil value
---@return string? message
---@return string? code
---@nodiscard
function socket:getsockopt(level, option, buflen) end

---By name.
---@param name netsock.optionname
---@param value boolean|integer|string|netsock.linger|table|false
---@param interface? string|integer for add_membership/drop_membership
---@return true? ok
---@return string? message
---@return string? code
function socket:setoption(name, value, interface) end

---@param name netsock.optionname
---@return boolean|integer|string|netsock.linger|nil value
---@return string? message
---@return string? code
---@nodiscard
function socket:getoption(name) end

---`host, port`, or a Unix `path`.
---@return string? host or nil, or a path
---@return integer|string|nil port or the message
---@return string? code
---@nodiscard
function socket:getsockname() end

---The process at the other end of a connected Unix-domain stream
---socket, as the kernel saw it at connect time (SO_PEERCRED).
---@return integer? pid or nil
---@return integer|string|nil uid or the message
---@return integer|string|nil gid or the code
---@nodiscard
function socket:getpeercred() end

---`host, port`, or a Unix `path`.
---@return string? host or nil, or a path
---@return integer|string|nil port or the message
---@return string? code
---@nodiscard
function socket:getpeername() end

---@param how? netsock.how default "rw"
---@return true? ok
---@return string? message
---@return string? code
function socket:shutdown(how) end

---Closes; a second close returns true too.
---@return true
function socket:close() end

---The descriptor, -1 once closed.
---@return integer
---@nodiscard
function socket:fileno() end

---The descriptor, which the socket no longer owns.
---@return integer
function socket:detach() end

---A buffered file object over this socket.
---@param mode? "r"|"w"|"rw"|"rb"|"wb"|"rwb" default "rw"
---@param bufsize? integer 0 unbuffered, 1 line, larger that size
---@return netsock.file
---@nodiscard
function socket:makefile(mode, bufsize) end

-- }======

-- {====== File objects (makefile) ======

---A buffered file object (`"netsock.file"`) sharing its socket's receive buffer.
---@class netsock.file
local file = {}

---One value per format, as io.read; a failure ends the values with `nil, message, code`.
---@param ... netsock.readformat default "l"
---@return string|nil ...
---@nodiscard
function file:read(...) end

---An iterator over `f:read(...)`; raises failures other than end of stream.
---@param ... netsock.readformat default "l"
---@return fun(): string?
function file:lines(...) end

---Buffers strings and numbers; returns the file.
---@param ... string|number
---@return netsock.file? file
---@return string? message
---@return string? code
function file:write(...) end

---Sends the buffered bytes; on failure also the count still buffered.
---@return netsock.file? file
---@return string? message
---@return string? code
---@return integer? remaining
function file:flush() end

---@param mode "no"|"line"|"full"
---@param size? integer
---@return true
function file:setvbuf(mode, size) end

---The longest line "l"/"L" accept, counting its "\n".
---@param n integer
---@return true
function file:setlimit(n) end

---Flushes and releases the file; the socket stays open.
---@return true? ok
---@return string? message
---@return string? code
---@return integer? remaining
function file:close() end

---Received bytes buffered and not yet read.
---@return integer
---@nodiscard
function file:pending() end

---The socket's descriptor, -1 once closed.
---@return integer
---@nodiscard
function file:fileno() end

-- }======

-- {====== The poller ======

---An epoll set (`"netsock.poller"`).
---@class netsock.poller
local poller = {}

---@param obj netsock.waitable
---@param events netsock.events
---@return true? ok
---@return string? message
---@return string? code
function poller:add(obj, events) end

---@param obj netsock.waitable
---@param events netsock.events
---@return true? ok
---@return string? message
---@return string? code
function poller:modify(obj, events) end

---@param obj netsock.waitable
---@return true? ok
---@return string? message
---@return string? code
function poller:remove(obj) end

---The objects ready and their events; on timeout two empty arrays and "timeout".
---@param timeout? number
---@return netsock.waitable[] ready
---@return netsock.events[] events
---@return "timeout"? timedout
function poller:wait(timeout) end

---@return true
function poller:close() end

---The epoll descriptor, -1 once closed.
---@return integer
---@nodiscard
function poller:fileno() end

-- }======

return netsock
