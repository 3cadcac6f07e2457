-- netsock.tls: TLS on the same sockets (OpenSSL 3). See docs/api.md.
--
--   local tls = require "netsock.tls"
--   local s = assert(tls.connect("example.org", 443))       -- verified
--   local ctx = assert(tls.context{ mode = "server",
--                                   certfile = "c.pem", keyfile = "k.pem" })
--   conn:starttls(ctx)                                       -- in place
--
-- The C side (src/tls.c) makes contexts and adds the socket methods
-- (starttls, handshake, tlsinfo, getpeercertificate, tlssession, unwrap,
-- tlswant); this file adds connect and the shared default client context.

local core = require "netsock.core"
local check = require "netsock.check"

local pairs, type, tostring = pairs, type, tostring
local package, require = package, require

local C = core._tls
if not C then
  error("netsock.tls: this netsock was built without OpenSSL " ..
        "(install libssl-dev and rebuild: make)", 2)
end

local monotime = core.monotime
local _ENV = nil

local M = {
  context = C.context,
  OPENSSL_VERSION = C.OPENSSL_VERSION,
}

local default_client

-- tls.default_context(): the client context connect uses when given
-- none: verify against the system store (SSL_CERT_FILE, SSL_CERT_DIR
-- honoured), check the host name, TLS 1.2 or later. Made once.
function M.default_context()
  if not default_client then
    local ctx, msg, code = C.context{ mode = "client" }
    if not ctx then return nil, msg, code end
    default_client = ctx
  end
  return default_client
end

local connect_opts = {
  timeout = true, context = true, server_hostname = true, alpn = true,
  session = true, source_host = true, source_port = true,
}

-- tls.connect(host, port [, opts]): create_connection + starttls under
-- one deadline (opts.timeout, else the default timeout). opts: timeout,
-- context, server_hostname (default host), alpn, session, source_host,
-- source_port. The socket keeps opts.timeout afterwards.
function M.connect(host, port, opts)
  check.host("connect", 1, host)
  opts = check.opttable("connect", 3, opts)
  for k in pairs(opts) do
    if not connect_opts[k] then
      check.argerror("connect", 3, ("unknown option '%s'"):format(tostring(k)))
    end
  end
  local timeout = opts.timeout
  if timeout ~= nil and (type(timeout) ~= "number" or not (timeout >= 0)) then
    check.argerror("connect", 3, "timeout: a non-negative number expected")
  end
  -- what starttls would refuse, refused before anything connects
  local sh = opts.server_hostname
  if sh ~= nil and sh ~= false and type(sh) ~= "string" then
    check.argerror("connect", 3, "server_hostname: string or false expected, got " .. check.typename(sh))
  end
  if opts.session ~= nil and check.typename(opts.session) ~= "netsock.tls.session" then
    check.argerror("connect", 3, "session: a session from s:tlssession() expected, got " ..
      check.typename(opts.session))
  end
  local alpn = opts.alpn
  if alpn ~= nil then
    if type(alpn) ~= "table" or #alpn == 0 then
      check.argerror("connect", 3, "alpn: a non-empty list of protocol names expected")
    end
    for i = 1, #alpn do
      if type(alpn[i]) ~= "string" or #alpn[i] == 0 or #alpn[i] > 255 then
        check.argerror("connect", 3, ("alpn[%d]: 1 to 255 bytes expected"):format(i))
      end
    end
  end
  local ctx = opts.context
  if ctx ~= nil and C.contextmode(ctx) ~= "client" then
    check.argerror("connect", 3, "context: a client context expected, got " ..
      (C.contextmode(ctx) and "a server context" or check.typename(ctx)))
  end
  if ctx == nil then
    local msg, code
    ctx, msg, code = M.default_context()
    if not ctx then return nil, msg, code end
  end
  local ns = package.loaded.netsock or require "netsock"
  if timeout == nil then timeout = ns.getdefaulttimeout() end
  local start = monotime()
  local s, msg, code = ns.create_connection(host, port, timeout,
                                            opts.source_host, opts.source_port)
  if not s then return nil, msg, code end
  if timeout then
    local left = timeout - (monotime() - start)
    s:settimeout(left > 0 and left or 0)
  end
  local server_hostname = opts.server_hostname
  if server_hostname == nil then server_hostname = host end
  local ok
  ok, msg, code = s:starttls(ctx, { server_hostname = server_hostname,
                                     alpn = opts.alpn, session = opts.session })
  if not ok then
    s:close()
    if code == "timeout" then msg = "timeout" end
    return nil, msg, code
  end
  s:settimeout(timeout)
  return s
end

-- serve's tls option: raises (at level, from the caller) unless ctx is
-- a server context; anything else would serve plaintext or fail later
function M._checkserver(fname, argn, ctx, level)
  local mode = C.contextmode(ctx)
  if mode ~= "server" then
    check.argerror(fname, argn, "tls: a server context expected, got " ..
      (mode and "a client context" or check.typename(ctx)), (level or 2) + 1)
  end
  return ctx
end

-- the serve hook: handler(conn, ...) runs after conn:starttls(ctx), in
-- the handler's own task; a failed handshake ends that client alone.
-- Every callable handler is wrapped (a function, a table with __call).
function M.wraphandler(ctx, handler, onerror)
  M._checkserver("serve", 4, ctx, 3)
  return function(conn, ...)
    local ok, msg, code = conn:starttls(ctx)
    if not ok then
      if onerror then onerror(conn, msg, code) end
      return
    end
    return handler(conn, ...)
  end
end

return M
