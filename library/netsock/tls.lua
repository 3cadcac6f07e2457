---@meta netsock.tls
-- LuaCATS annotations for `require "netsock.tls"` (also `netsock.tls`).
-- docs/api.md, "TLS", is the reference.

---The options of `netsock.tls.context`.
---@class netsock.tls.options
---@field mode? "client"|"server" default "client"
---@field cafile? string trusted CA certificates, a PEM file
---@field capath? string a hashed directory of them
---@field cadata? string PEM text of them
---@field certfile? string our certificate chain, PEM
---@field keyfile? string our key, PEM (default: certfile)
---@field cert? string our certificate chain as PEM text
---@field key? string our key as PEM text
---@field password? string for an encrypted key
---@field alpn? string[] protocol names, most preferred first
---@field min_version? "tls1"|"tls1.1"|"tls1.2"|"tls1.3" default "tls1.2"
---@field max_version? "tls1"|"tls1.1"|"tls1.2"|"tls1.3"
---@field ciphers? string OpenSSL's cipher list (TLS 1.2)
---@field ciphersuites? string TLS 1.3 suites
---@field verify? boolean check the peer's chain (client default true)
---@field check_hostname? boolean check the peer's name (client default: verify)
---@field verify_client? "none"|"optional"|"require" server: client certificates
---@field suppress_ragged_eofs? boolean a missing close_notify reads as the end of stream (default false: "tls_eof")
---@field sni? table<string, netsock.tls.context>|fun(name: string): netsock.tls.context? server

---The options of `netsock.tls.connect`.
---@class netsock.tls.connectoptions
---@field timeout? number one deadline for connect and handshake (stays on the socket)
---@field context? netsock.tls.context default `tls.default_context()`
---@field server_hostname? string|false default: host
---@field alpn? string[]
---@field session? netsock.tls.session
---@field source_host? string
---@field source_port? netsock.port

---An immutable TLS context (`netsock.tls.context`).
---@class netsock.tls.context
local context = {}

---The context's mode and checks as made.
---@return {mode: "client"|"server", verify: boolean, check_hostname: boolean, suppress_ragged_eofs: boolean, sessions: integer, session_cache_size: integer}
---@nodiscard
function context:info() end

---A TLS session to resume (`s:tlssession()`).
---@class netsock.tls.session
local session = {}

---Whether the session can be resumed.
---@return boolean
---@nodiscard
function session:resumable() end

---@class netsock.tls
---@field OPENSSL_VERSION string the OpenSSL version netsock runs on
local tls = {}

---A context; `nil, message, code` when OpenSSL refuses a file, key or list.
---@param options netsock.tls.options
---@return netsock.tls.context? ctx
---@return string? message
---@return string? code
---@nodiscard
function tls.context(options) end

---The shared client context: system store, host name checked, TLS 1.2+.
---@return netsock.tls.context? ctx
---@return string? message
---@return string? code
function tls.default_context() end

---`create_connection` + `starttls` under one deadline.
---@param host string
---@param port netsock.port
---@param opts? netsock.tls.connectoptions
---@return netsock.socket? s
---@return string? message
---@return string? code
function tls.connect(host, port, opts) end

---The serve{tls = ctx} hook: a handler that runs `conn:starttls(ctx)` first.
---@param ctx netsock.tls.context
---@param handler fun(conn: netsock.socket, ...)
---@param onerror? fun(conn: netsock.socket, message: string, code: string)
---@return fun(conn: netsock.socket, ...)
function tls.wraphandler(ctx, handler, onerror) end

---`netsock.tls`, when netsock was built with OpenSSL (nil otherwise).
---@class netsock
---@field tls netsock.tls
local netsock = {}

---The TLS methods of sockets (present when netsock was built with OpenSSL).
---@class netsock.socket
local socket = {}

---Upgrades this connected stream socket to TLS in place and runs the handshake
---under its timeout: `s`, or `nil, message, code`.
---@param ctx netsock.tls.context
---@param opts? {server_hostname?: string|false, alpn?: string[], session?: netsock.tls.session, handshake?: boolean}
---@return netsock.socket? s
---@return string? message
---@return string? code "timeout", "tls", "tls_verify", "tls_eof", an errno name
function socket:starttls(ctx, opts) end

---Runs (or finishes) the handshake: `s`, or `nil, message, code`.
---@return netsock.socket? s
---@return string? message
---@return string? code
function socket:handshake() end

---Once the handshake is done: version, cipher, alpn, sni, session_reused, server.
---@return {version: string, cipher: string, alpn: string?, sni: string?, session_reused: boolean, server: boolean}?
---@nodiscard
function socket:tlsinfo() end

---The peer's certificate as a table, its DER bytes (`der` true), or nil.
---@param der? boolean
---@return {subject: string, issuer: string, san: string[], notBefore: integer, notAfter: integer, fingerprint: string, serial: string}|string|nil
---@nodiscard
function socket:getpeercertificate(der) end

---The session, for `starttls(ctx, {session = ...})` later.
---@return netsock.tls.session?
---@nodiscard
function socket:tlssession() end

---close_notify both ways; the socket is plain again: `s`, or `nil, message, code`.
---@return netsock.socket? s
---@return string? message
---@return string? code
function socket:unwrap() end

---"r" or "w": what the last TLS call that could not finish waits for; nil if nothing.
---@return "r"|"w"|nil
---@nodiscard
function socket:tlswant() end

return tls
