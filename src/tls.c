/*
** tls.c: netsock.tls on OpenSSL 3. Built only when pkg-config finds
** openssl (the Makefile defines NS_HAVE_TLS); without it this file is
** empty and netsock.core has no _tls table.
**
** Contexts (netsock.tls.context{...}) are userdata over an SSL_CTX,
** immutable once made. A socket upgraded with s:starttls keeps its
** object, timeout and file objects: it gains an nsTls (s->tls) and the
** socket's data paths call ns_tls_fill / ns_tls_write instead of
** recv(2) / send(2).
**
** The invariant that keeps select, the poller and s:pending() honest:
** after every TLS operation no complete record waits inside OpenSSL or
** inside our BIO. The BIO (ours, not OpenSSL's socket BIO) reads the
** descriptor into its own input buffer at most once per pass; each fill
** then decrypts every complete record into the socket's shared receive
** buffer. What stays behind is at most a partial record, which needs
** more bytes from the descriptor, so the descriptor's readiness tells
** the truth.
**
** Writes: the BIO sends with ns_sys_send (never SIGPIPE); what the
** kernel does not take stays in the BIO's output buffer (one write's
** worth at most) and goes out before anything else, waiting for the
** descriptor to be writable.
** OpenSSL therefore never sees a failed write and never asks for an
** SSL_write to be retried with the same arguments.
*/
#if defined(NS_HAVE_TLS)

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "netsock.h"
#include "tls.h"
#include "tlsint.h"

/* {====== Socket methods ====== */

static nsTls *checktls (lua_State *L, int idx, nsSocket **ps) {
  nsSocket *s = ns_checkopen(L, idx);
  if (s->tls == NULL)
    luaL_error(L, "socket has no TLS (call starttls first)");
  if (s->tls->L != NULL)   /* OpenSSL is inside this handshake */
    luaL_error(L, "the socket is in its handshake (called from the sni lookup)");
  if (ps) *ps = s;
  return s->tls;
}


/*
** Free the TLS state. 'notify': send close_notify first if the
** handshake completed, without ever waiting (close and __gc call this).
** No Lua call happens here (safe in __gc).
*/
void ns_tls_free (lua_State *L, nsSocket *s, int notify) {
  nsTls *t = s->tls;
  if (t == NULL) return;
  if (t->L != NULL) {
    /* inside SSL_do_handshake (the sni lookup closed the socket): the
       SSL object is in use below us, so the handshake step frees it
       once OpenSSL returns; the socket speaks no TLS from here */
    s->tls = NULL;
    t->dead = 1;
    return;
  }
  if (notify && s->fd >= 0 && t->done && !t->syserr) {
    t->ioflags = MSG_DONTWAIT;
    t->callL = NULL;
    t->budget = 0;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    if (t->outhead < t->outtail) ns_tls_flushout(s);
    ERR_clear_error();
  }
  if (notify && s->fd >= 0) {
    /* what has arrived unread (TLS 1.3 session tickets a client never
       read) would make close(2) reset the connection, and the peer
       lose the data still in flight to it: read it and drop it first,
       without waiting, as close would have dropped it anyway */
    char junk[4096];
    int i;
    for (i = 0; i < 256; i++) {
      ssize_t n = recv(s->fd, junk, sizeof junk, MSG_DONTWAIT);
      if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    }
  }
  s->tls = NULL;
  ns_tls_release(L, t);
}






/* stack: 1 socket, 2 ctx, 3 opts, 4 deadline (starttls and handshake) */
static int handshake_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  nsResult r;
  (void)status;
  if (s == NULL) return ns_closed(L);
  if (s->tls == NULL) return ns_closed(L);
  for (;;) {
    if (ns_tls_handshake_step(L, s) == 1) {
      lua_pushvalue(L, 1);
      return 1;
    }
    if (s->tls == NULL || s->fd < 0) return ns_closed(L);
    if (errno != EAGAIN) return ns_fail(L, errno);
    r = ns_block(L, s, ns_tls_events(s), lua_tonumber(L, 4), ctx, handshake_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
}


/* opts.server_hostname, or the name the socket connected to */
static const char *hostopt (lua_State *L, nsSocket *s) {
  const char *h = NULL;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "server_hostname");
    if (lua_type(L, -1) == LUA_TSTRING) h = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
      ns_argerror(L, 2, "starttls", "server_hostname: "
                    "string expected, got %s", luaL_typename(L, -1));
    else if (lua_isboolean(L, -1) && lua_toboolean(L, -1))
      ns_argerror(L, 2, "starttls", "server_hostname: "
                    "string or false expected");
    else if (lua_isboolean(L, -1)) { lua_pop(L, 1); return NULL; }
    lua_pop(L, 1);   /* opts keeps it alive */
  }
  if (h == NULL) {   /* the name create_connection or connect was given */
    lua_getfield(L, LUA_REGISTRYINDEX, NS_TLSHOSTS);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) == LUA_TSTRING) {
      lua_remove(L, -2);   /* the string stays on the stack (starttls
                              copies it, then resets the stack) */
      return lua_tostring(L, -1);
    }
    lua_pop(L, 2);
  }
  (void)s;
  return h;
}


static void checkopts (lua_State *L) {
  static const char *const known[] = {
    "server_hostname", "alpn", "session", "handshake", NULL
  };
  if (lua_isnoneornil(L, 3)) return;
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (i = 0; known[i] && !ok; i++)
        ok = strcmp(known[i], lua_tostring(L, -1)) == 0;
    if (!ok)
      ns_argerror(L, 2, "starttls", "unknown option '%s'",
                 luaL_tolstring(L, -1, NULL));
  }
  lua_getfield(L, 3, "session");
  if (!lua_isnil(L, -1) && luaL_testudata(L, -1, NS_TLSSESSION) == NULL)
    ns_argerror(L, 2, "starttls", "session: a session from "
                  "s:tlssession() expected");
  lua_pop(L, 1);
  lua_getfield(L, 3, "handshake");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    ns_argerror(L, 2, "starttls", "handshake: boolean "
                  "expected");
  lua_pop(L, 1);
}


/* bytes buffered before TLS belong to the handshake: into the BIO's
   input; 0 without memory */
static int takeahead (nsSocket *s, nsTls *t) {
  size_t n = ns_pending(s);
  if (n == 0) return 1;
  t->in = (char *)malloc(n > NS_TLS_INBUF ? n : NS_TLS_INBUF);
  if (t->in == NULL) return 0;
  memcpy(t->in, s->rbuf + s->rhead, n);
  t->inhead = 0;
  t->intail = n;
  s->rhead = s->rtail = 0;
  return 1;
}


/*
** A client's peer name: SNI for a name, and the name or address the
** certificate must match when the context checks it. 0 on failure
** (OpenSSL's error queue says why).
*/
static int setpeername (nsTls *t, const nsCtxData *d, const char *host) {
  int ip = ns_isnumerichost(host);
  if (!ip && !SSL_set_tlsext_host_name(t->ssl, t->host)) return 0;
  if (d->verify && d->check_hostname) {
    if (ip) {
      X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
      if (!X509_VERIFY_PARAM_set1_ip_asc(vp, host)) return 0;
    }
    else {
      if (!SSL_set1_host(t->ssl, host)) return 0;
      SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
  }
  return 1;
}


/* starttls's alpn and session options (table at 3); 0 on failure */
static int setsessionopts (lua_State *L, nsTls *t) {
  int ok = 1;
  lua_getfield(L, 3, "alpn");
  if (!lua_isnil(L, -1)) {
    unsigned int len;
    unsigned char *w = ns_tls_alpnwire(L, lua_gettop(L), &len, "starttls", 2);
    ok = SSL_set_alpn_protos(t->ssl, w, len) == 0;
    free(w);
  }
  lua_pop(L, 1);
  if (!ok) return 0;
  lua_getfield(L, 3, "session");
  if (!lua_isnil(L, -1)) {
    nsSession *p = (nsSession *)lua_touserdata(L, -1);
    if (p->sess && !SSL_set_session(t->ssl, p->sess)) ok = 0;
  }
  lua_pop(L, 1);
  return ok;
}


/* a server context's starttls options (table at 3): a client's option
   fails closed, it is never ignored */
static void checkserveropts (lua_State *L) {
  static const char *const clientonly[] = {"server_hostname", "alpn",
                                           "session", NULL};
  int i;
  if (!lua_istable(L, 3)) return;
  for (i = 0; clientonly[i] != NULL; i++) {
    int isnil = lua_getfield(L, 3, clientonly[i]) == LUA_TNIL;
    lua_pop(L, 1);
    if (!isnil)
      ns_argerror(L, 2, "starttls", "%s is for client contexts; a server "
                  "context was given", clientonly[i]);
  }
}


/*
** s:starttls(ctx [, opts]): the same socket object from now on speaks
** TLS. Bytes already in the receive buffer (read ahead by a file
** object, or a pipelined command) become the start of the handshake's
** input: they are never handed out as plaintext.
*/
static int sock_starttls (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  nsTlsCtx *c = ns_tls_checkctx(L, 2);
  nsCtxData *d = ns_tls_ctxdata(c->ctx);
  nsTls *t;
  BIO *bio;
  BIO_METHOD *biometh;
  const char *host = NULL;
  int defer = 0;
  lua_settop(L, 3);
  checkopts(L);
  if (d->server) checkserveropts(L);
  if (s->type != SOCK_STREAM)
    return ns_argerror(L, 1, "starttls", "a stream socket "
                         "expected");
  if (s->tls != NULL)
    return ns_failmsg(L, "starttls: the socket already speaks TLS", "tls");
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "handshake");
    defer = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (!d->server) {
    host = hostopt(L, s);
    if (host != NULL && *host == '\0') host = NULL;
    if (host == NULL && d->verify && d->check_hostname)
      return ns_failmsg(L, "starttls: no host name to check (give "
                           "server_hostname, or make the context with "
                           "check_hostname = false)", "tls");
  }
  biometh = ns_tls_getbiometh(L);
  if (biometh == NULL) return luaL_error(L, "not enough memory");
  t = (nsTls *)calloc(1, sizeof *t);
  if (t == NULL) return luaL_error(L, "not enough memory");
  t->ctxref = LUA_NOREF;
  t->s = s;
  ERR_clear_error();
  t->ssl = SSL_new(c->ctx);
  bio = t->ssl ? BIO_new(biometh) : NULL;
  if (bio == NULL || (host && (t->host = strdup(host)) == NULL)) {
    int code = ns_tls_takeerror("starttls");
    if (t->ssl) SSL_free(t->ssl);
    free(t->host);
    free(t);
    return ns_fail(L, code);
  }
  lua_settop(L, 3);   /* hostopt's string is copied into t->host */
  host = t->host;
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio);
  SSL_set_ex_data(t->ssl, ns_tls_sslindex, t);
  s->tls = t;   /* from here ns_tls_free cleans up on every path */
  if (d->server) SSL_set_accept_state(t->ssl);
  else {
    SSL_set_connect_state(t->ssl);
    if (host != NULL && !setpeername(t, d, host)) goto fail;
  }
  if (lua_istable(L, 3) && !setsessionopts(L, t)) goto fail;
  if (!takeahead(s, t)) {
    ns_tls_free(L, s, 0);
    return luaL_error(L, "not enough memory");
  }
  lua_pushvalue(L, 2);
  t->ctxref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (defer) {
    lua_pushvalue(L, 1);
    return 1;
  }
  lua_pushnumber(L, ns_deadline(s->timeout));
  return handshake_k(L, LUA_OK, 0);
fail:
  {
    int code = ns_tls_takeerror("starttls");
    ns_tls_free(L, s, 0);
    return ns_fail(L, code);
  }
}


/* s:handshake(): run (or finish) the handshake; the socket or a failure */
static int sock_handshake (lua_State *L) {
  nsSocket *s;
  checktls(L, 1, &s);
  lua_settop(L, 3);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return handshake_k(L, LUA_OK, 0);
}


/* s:tlswant(): "r" or "w" while the last TLS call waits, else nil */
static int sock_tlswant (lua_State *L) {
  nsSocket *s = ns_checksocket(L, 1);
  if (s->fd < 0 || s->tls == NULL) { lua_pushnil(L); return 1; }
  if (s->tls->outhead < s->tls->outtail) lua_pushliteral(L, "w");
  else if (!s->tls->done || s->tls->want)
    lua_pushstring(L, ns_tls_events(s) == NS_WRITE ? "w" : "r");
  else lua_pushnil(L);
  return 1;
}


static void setfieldstr (lua_State *L, const char *k, const char *v) {
  if (v == NULL) lua_pushnil(L);
  else lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}


/* s:tlsinfo(): version, cipher, alpn, sni, session_reused; nil before
   the handshake is done */
static int sock_tlsinfo (lua_State *L) {
  nsSocket *s = ns_checksocket(L, 1);
  nsTls *t = s->fd >= 0 ? s->tls : NULL;
  const unsigned char *alpn;
  unsigned int alen;
  if (t == NULL || !t->done) { lua_pushnil(L); return 1; }
  lua_createtable(L, 0, 6);
  setfieldstr(L, "version", SSL_get_version(t->ssl));
  setfieldstr(L, "cipher", SSL_get_cipher_name(t->ssl));
  SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
  if (alen > 0) lua_pushlstring(L, (const char *)alpn, alen);
  else lua_pushnil(L);
  lua_setfield(L, -2, "alpn");
  setfieldstr(L, "sni", SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name));
  lua_pushboolean(L, SSL_session_reused(t->ssl));
  lua_setfield(L, -2, "session_reused");
  lua_pushboolean(L, SSL_is_server(t->ssl));
  lua_setfield(L, -2, "server");
  return 1;
}


static void pushname (lua_State *L, X509_NAME *n) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  long len;
  if (b == NULL) { lua_pushnil(L); return; }
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  len = BIO_get_mem_data(b, &p);
  lua_pushlstring(L, p, (size_t)len);
  BIO_free(b);
}


static void pushtime (lua_State *L, const ASN1_TIME *tm) {
  struct tm t;
  if (tm != NULL && ASN1_TIME_to_tm(tm, &t))
    lua_pushinteger(L, (lua_Integer)ns_sys_timegm(&t));
  else lua_pushnil(L);
}


/* s:getpeercertificate([der]): a table, the DER bytes, or nil */
static int sock_getpeercert (lua_State *L) {
  nsSocket *s;
  nsTls *t = checktls(L, 1, &s);
  int der = lua_toboolean(L, 2);
  X509 *x;
  if (!t->done) return ns_failmsg(L, "handshake not done", "tls");
  x = SSL_get1_peer_certificate(t->ssl);
  if (x == NULL) { lua_pushnil(L); return 1; }
  if (der) {
    unsigned char *buf = NULL;
    int len = i2d_X509(x, &buf);
    if (len < 0) { X509_free(x); return luaL_error(L, "not enough memory"); }
    lua_pushlstring(L, (const char *)buf, (size_t)len);
    OPENSSL_free(buf);
    X509_free(x);
    return 1;
  }
  lua_createtable(L, 0, 8);
  pushname(L, X509_get_subject_name(x));
  lua_setfield(L, -2, "subject");
  pushname(L, X509_get_issuer_name(x));
  lua_setfield(L, -2, "issuer");
  pushtime(L, X509_get0_notBefore(x));
  lua_setfield(L, -2, "notBefore");
  pushtime(L, X509_get0_notAfter(x));
  lua_setfield(L, -2, "notAfter");
  {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char hex[EVP_MAX_MD_SIZE * 3 + 1];
    if (X509_digest(x, EVP_sha256(), md, &mdlen)) {
      for (i = 0; i < mdlen; i++)
        snprintf(hex + 3 * i, 4, "%02X:", md[i]);
      hex[mdlen ? 3 * mdlen - 1 : 0] = '\0';
      lua_pushstring(L, hex);
      lua_setfield(L, -2, "fingerprint");
    }
  }
  {
    ASN1_INTEGER *sn = X509_get_serialNumber(x);
    BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
    char *h = bn ? BN_bn2hex(bn) : NULL;
    setfieldstr(L, "serial", h);
    OPENSSL_free(h);
    BN_free(bn);
  }
  {
    GENERAL_NAMES *gens = (GENERAL_NAMES *)
        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i, n = gens ? sk_GENERAL_NAME_num(gens) : 0, k = 0;
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
      const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
      if (g->type == GEN_DNS) {
        lua_pushfstring(L, "DNS:%s", (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        lua_rawseti(L, -2, ++k);
      }
      else if (g->type == GEN_IPADD) {
        char buf[64];
        int l = ASN1_STRING_length(g->d.iPAddress);
        const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
        if ((l == 4 && inet_ntop(AF_INET, p, buf, sizeof buf)) ||
            (l == 16 && inet_ntop(AF_INET6, p, buf, sizeof buf))) {
          lua_pushfstring(L, "IP:%s", buf);
          lua_rawseti(L, -2, ++k);
        }
      }
      else if (g->type == GEN_EMAIL) {
        lua_pushfstring(L, "email:%s", (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
        lua_rawseti(L, -2, ++k);
      }
    }
    GENERAL_NAMES_free(gens);
    lua_setfield(L, -2, "san");
  }
  X509_free(x);
  return 1;
}


/* s:tlssession(): the session to resume with (opts.session), or nil */
static int sock_tlssession (lua_State *L) {
  nsSocket *s;
  nsTls *t = checktls(L, 1, &s);
  nsSession *p;
  SSL_SESSION *sess;
  if (!t->done) { lua_pushnil(L); return 1; }
  p = (nsSession *)lua_newuserdatauv(L, sizeof *p, 0);
  p->sess = NULL;
  luaL_setmetatable(L, NS_TLSSESSION);
  sess = SSL_get1_session(t->ssl);
  if (sess == NULL) { lua_pushnil(L); return 1; }
  p->sess = sess;
  return 1;
}


/* stack: 1 socket, 2 deadline */
static int unwrap_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  nsTls *t;
  int r;
  nsResult w;
  (void)status;
  if (s == NULL || s->tls == NULL) return ns_closed(L);
  t = s->tls;
  ns_tls_setflags(L, s);
  for (;;) {
    if (t->outhead < t->outtail) {
      if (ns_tls_flushout(s) < 0) {
        if (errno != EAGAIN) return ns_fail(L, errno);
        goto wait;
      }
    }
    t->budget = 1;
    ERR_clear_error();
    r = SSL_shutdown(t->ssl);
    if (r == 1 && t->outhead == t->outtail) {
      /* plain bytes the peer sent after its close_notify come back */
      size_t n = t->intail - t->inhead;
      if (n > 0) {
        if (!ns_buf_reserve(s, n)) return luaL_error(L, "not enough memory");
        memcpy(s->rbuf + s->rtail, t->in + t->inhead, n);
        s->rtail += n;
      }
      ns_tls_free(L, s, 0);
      lua_pushvalue(L, 1);
      return 1;
    }
    if (r == 1) continue;
    if (r == 0) {
      /* ours is out; read (and drop) records until the peer's arrives */
      char junk[4096];
      t->budget = 1;
      r = SSL_read(t->ssl, junk, sizeof junk);
      if (r > 0) continue;
    }
    {
      int err = ns_tls_sslerror(t, r, "unwrap");
      if (err == 0) continue;   /* close_notify arrived: shutdown again */
      if (err != EAGAIN) return ns_fail(L, err);
    }
  wait:
    w = ns_block(L, s, ns_tls_events(s), lua_tonumber(L, 2), ctx, unwrap_k);
    if (w != NS_AGAIN) return ns_pushresult(L, w, errno);
    ns_tls_setflags(L, s);
  }
}


/* s:unwrap(): close_notify both ways, then the socket is plain again */
static int sock_unwrap (lua_State *L) {
  nsSocket *s;
  checktls(L, 1, &s);
  lua_settop(L, 1);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return unwrap_k(L, LUA_OK, 0);
}


/*
** s:connect(host, port): a string host on an inet or inet6 stream
** socket is the name s:starttls checks by default (create_connection,
** which connects to numeric addresses, records its name itself).
*/
void ns_tls_remember (lua_State *L) {
  nsSocket *s = ns_tosocket(L, 1);
  if (s == NULL || s->type != SOCK_STREAM || lua_type(L, 2) != LUA_TSTRING ||
      (s->family != AF_INET && s->family != AF_INET6))
    return;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_TLSHOSTS);
  if (lua_istable(L, -1)) {
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}


/* s:_sethostname(name): the name starttls checks by default
   (create_connection records the name it was given) */
static int sock_sethostname (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  (void)s;
  luaL_optstring(L, 2, NULL);
  lua_getfield(L, LUA_REGISTRYINDEX, NS_TLSHOSTS);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_rawset(L, -3);
  return 0;
}

/* }====== */


static const luaL_Reg sock_methods[] = {
  {"starttls", sock_starttls},
  {"handshake", sock_handshake},
  {"tlswant", sock_tlswant},
  {"tlsinfo", sock_tlsinfo},
  {"getpeercertificate", sock_getpeercert},
  {"tlssession", sock_tlssession},
  {"unwrap", sock_unwrap},
  {"_sethostname", sock_sethostname},
  {NULL, NULL}
};

/* _tls.contextmode(v): "client" or "server" for a context, else nil */
static int ctx_mode (lua_State *L) {
  nsTlsCtx *c = (nsTlsCtx *)luaL_testudata(L, 1, NS_TLSCTX);
  if (c == NULL || c->ctx == NULL) lua_pushnil(L);
  else lua_pushstring(L, ns_tls_ctxdata(c->ctx)->server ? "server" : "client");
  return 1;
}

static const luaL_Reg funcs[] = {
  {"context", ns_tls_context},
  {"contextmode", ctx_mode},
  {NULL, NULL}
};


/*
** With the core's table on top: adds core._tls (context, and
** OPENSSL_VERSION) and the TLS methods to core._socketmethods.
*/
void ns_tls_open (lua_State *L) {
  ns_newweak(L);   /* the host names sockets connected to */
  lua_setfield(L, LUA_REGISTRYINDEX, NS_TLSHOSTS);
  ns_tls_ctxopen(L);   /* the context and session classes */
  ns_tls_bioopen(L);   /* our BIO's method table */
  lua_getfield(L, -1, "_socketmethods");
  luaL_setfuncs(L, sock_methods, 0);
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_setfuncs(L, funcs, 0);
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "OPENSSL_VERSION");
  lua_setfield(L, -2, "_tls");
}

#else

/* without OpenSSL: nothing (ISO C wants a declaration in every file) */
typedef int ns_tls_absent;

#endif
