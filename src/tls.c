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

#define NS_TLSCTX     "netsock.tls.context"
#define NS_TLSSESSION "netsock.tls.session"
#define NS_TLSHOSTS   "netsock.tls.hosts"   /* weak: socket -> host name */

/* ciphertext the BIO reads from the descriptor at a time */
#if !defined(NS_TLS_INBUF)
#define NS_TLS_INBUF  (64 * 1024)
#endif

/* plaintext handed to one SSL_write */
#if !defined(NS_TLS_WCHUNK)
#define NS_TLS_WCHUNK  (64 * 1024)
#endif


/* {====== Errors ====== */

/*
** The message of the last TLS failure: the failing code paths fill it
** and return errno NS_ETLS, NS_ETLSVERIFY or NS_ETLSEOF (values no
** system errno takes); ns_fail (errors.c, which owns the buffer) reads
** it. One buffer suffices: Lua runs one call at a time and ns_fail
** reads it before anything else can fail.
*/
#define tlsmsg  ns_reason

static void setmsg (const char *prefix, const char *reason) {
  if (prefix != NULL && *prefix)
    snprintf(tlsmsg, sizeof tlsmsg, "%s: %s", prefix, reason);
  else
    snprintf(tlsmsg, sizeof tlsmsg, "%s", reason);
}


/*
** The reason of OpenSSL's oldest queued error into tlsmsg; clears the
** queue. Returns the errno-like code for it: a system error's errno,
** NS_ETLSVERIFY for a failed certificate check, else NS_ETLS.
*/
static int takeerror (const char *prefix) {
  unsigned long e = ERR_get_error();
  int code = NS_ETLS;
  if (e == 0)
    setmsg(prefix, "unknown TLS error");
  else {
    const char *r = ERR_reason_error_string(e);
    char buf[128];
    if (r == NULL) {
      ERR_error_string_n(e, buf, sizeof buf);
      r = buf;
    }
    if (ERR_SYSTEM_ERROR(e)) {
      code = ERR_GET_REASON(e);
      setmsg(prefix, strerror(code));
    }
    else {
      setmsg(prefix, r);
      if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        code = NS_ETLSVERIFY;
    }
  }
  ERR_clear_error();
  return code;
}


/* push nil, message, code for the last failure (takeerror's result) */
static int pushtlsfail (lua_State *L, int code) {
  return ns_fail(L, code);
}

/* }====== */


/* {====== Contexts ====== */

/*
** What the SSL_CTX's callbacks need, owned by the SSL_CTX through
** ex_data (freed with it), so a context switched to by SNI stays whole
** however long the Lua object lives.
*/
typedef struct nsCtxData {
  int server;
  int verify;           /* client: check the peer's chain */
  int check_hostname;   /* client: and its name */
  unsigned char *alpn;  /* wire format, or NULL */
  unsigned int alpnlen;
} nsCtxData;

typedef struct nsTlsCtx {
  SSL_CTX *ctx;
} nsTlsCtx;

static int ctxindex = -1;   /* SSL_CTX ex_data index of nsCtxData */
static int sslindex = -1;   /* SSL ex_data index of nsTls */


static void freectxdata (void *parent, void *ptr, CRYPTO_EX_DATA *ad,
                         int idx, long argl, void *argp) {
  nsCtxData *d = (nsCtxData *)ptr;
  (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
  if (d != NULL) {
    free(d->alpn);
    free(d);
  }
}


static nsCtxData *ctxdata (const SSL_CTX *ctx) {
  return (nsCtxData *)SSL_CTX_get_ex_data(ctx, ctxindex);
}


static nsTlsCtx *checkctx (lua_State *L, int idx) {
  nsTlsCtx *c = (nsTlsCtx *)luaL_checkudata(L, idx, NS_TLSCTX);
  if (c->ctx == NULL) luaL_argerror(L, idx, "context not initialised");
  return c;
}


static int ctx_gc (lua_State *L) {
  nsTlsCtx *c = (nsTlsCtx *)luaL_checkudata(L, 1, NS_TLSCTX);
  if (c->ctx != NULL) {
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
  }
  return 0;
}


static int ctx_tostring (lua_State *L) {
  nsTlsCtx *c = (nsTlsCtx *)luaL_checkudata(L, 1, NS_TLSCTX);
  nsCtxData *d = c->ctx ? ctxdata(c->ctx) : NULL;
  lua_pushfstring(L, "tls.context (%s): %p",
                  d && d->server ? "server" : "client", (void *)c);
  return 1;
}


/* the field 'name' of the options table (at 1) as a string or nil */
static const char *optstring (lua_State *L, const char *name, size_t *len) {
  const char *v = NULL;
  lua_getfield(L, 1, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "bad argument #1 to 'context' (field '%s': string "
                    "expected, got %s)", name, luaL_typename(L, -1));
    v = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1);   /* the table still holds the string */
  return v;
}


static int optbool (lua_State *L, const char *name, int def) {
  int v = def;
  lua_getfield(L, 1, name);
  if (!lua_isnil(L, -1)) {
    if (!lua_isboolean(L, -1))
      luaL_error(L, "bad argument #1 to 'context' (field '%s': boolean "
                    "expected, got %s)", name, luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}


static int optchoice (lua_State *L, const char *name, const char *def,
                      const char *const list[]) {
  const char *v = optstring(L, name, NULL);
  int i;
  if (v == NULL) v = def;
  for (i = 0; list[i] != NULL; i++)
    if (strcmp(list[i], v) == 0) return i;
  return luaL_error(L, "bad argument #1 to 'context' (field '%s': invalid "
                       "value '%s')", name, v);
}


static const char *const knownopts[] = {
  "mode", "cafile", "capath", "cadata", "certfile", "keyfile", "cert", "key",
  "password", "alpn", "min_version", "max_version", "ciphers",
  "ciphersuites", "verify", "check_hostname", "verify_client", "sni", NULL
};


static void checkknown (lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (i = 0; knownopts[i] != NULL && !ok; i++)
        ok = strcmp(k, knownopts[i]) == 0;
    }
    if (!ok)
      luaL_error(L, "bad argument #1 to 'context' (unknown option '%s')",
                 luaL_tolstring(L, -1, NULL));
  }
}


/*
** The alpn option (a list of protocol names) in wire format: each name
** prefixed by its length. Raises on a bad list.
*/
static unsigned char *alpnwire (lua_State *L, int idx, unsigned int *len,
                                const char *fname, int arg) {
  size_t total = 0, n, i;
  unsigned char *w, *p;
  if (lua_type(L, idx) != LUA_TTABLE)
    luaL_error(L, "bad argument #%d to '%s' (alpn: table expected, got %s)",
               arg, fname, luaL_typename(L, idx));
  n = (size_t)luaL_len(L, idx);
  if (n == 0)
    luaL_error(L, "bad argument #%d to '%s' (alpn: empty list)", arg, fname);
  for (i = 1; i <= n; i++) {
    size_t l;
    if (lua_geti(L, idx, (lua_Integer)i) != LUA_TSTRING)
      luaL_error(L, "bad argument #%d to '%s' (alpn[%d]: string expected)",
                 arg, fname, (int)i);
    lua_tolstring(L, -1, &l);
    if (l == 0 || l > 255)
      luaL_error(L, "bad argument #%d to '%s' (alpn[%d]: 1 to 255 bytes)",
                 arg, fname, (int)i);
    total += l + 1;
    lua_pop(L, 1);
  }
  if (total > 65535)
    luaL_error(L, "bad argument #%d to '%s' (alpn list too long)", arg, fname);
  w = p = (unsigned char *)malloc(total);
  if (w == NULL) luaL_error(L, "not enough memory");
  for (i = 1; i <= n; i++) {
    size_t l;
    const char *s;
    lua_geti(L, idx, (lua_Integer)i);
    s = lua_tolstring(L, -1, &l);
    *p++ = (unsigned char)l;
    memcpy(p, s, l);
    p += l;
    lua_pop(L, 1);
  }
  *len = (unsigned int)total;
  return w;
}


/* server: pick the first of our protocols the client offers */
static int alpnselect (SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  nsCtxData *d = ctxdata(SSL_get_SSL_CTX(ssl));
  unsigned char *sel;
  (void)arg;
  if (d == NULL || d->alpn == NULL) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_select_next_proto(&sel, outlen, d->alpn, d->alpnlen, in, inlen)
      != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;  /* no protocol in common */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}


static int versionnum (const char *v) {
  static const struct { const char *name; int num; } vs[] = {
    {"tls1", TLS1_VERSION}, {"tls1.0", TLS1_VERSION},
    {"tls1.1", TLS1_1_VERSION}, {"tls1.2", TLS1_2_VERSION},
    {"tls1.3", TLS1_3_VERSION}, {NULL, 0}
  };
  int i;
  for (i = 0; vs[i].name != NULL; i++)
    if (strcmp(vs[i].name, v) == 0) return vs[i].num;
  return -1;
}


static int checkversion (lua_State *L, const char *name, const char *def) {
  const char *v = optstring(L, name, NULL);
  int n;
  if (v == NULL) v = def;
  if (v == NULL) return 0;
  n = versionnum(v);
  if (n < 0)
    luaL_error(L, "bad argument #1 to 'context' (field '%s': invalid "
                  "version '%s', expected tls1, tls1.1, tls1.2 or tls1.3)",
               name, v);
  return n;
}


/* the password callback: the password option, kept as userdata arg */
typedef struct { const char *pw; } nsPassword;

static int passwordcb (char *buf, int size, int rwflag, void *u) {
  const char *pw = u ? ((const nsPassword *)u)->pw : NULL;
  size_t len;
  (void)rwflag;
  if (pw == NULL) return 0;
  len = strlen(pw);
  if (len > (size_t)size) len = (size_t)size;
  memcpy(buf, pw, len);
  return (int)len;
}


/* PEM certificates in a string into the context's trust store */
static int loadcadata (SSL_CTX *ctx, const char *pem, size_t len) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  X509_STORE *st = SSL_CTX_get_cert_store(ctx);
  X509 *x;
  int count = 0;
  if (b == NULL) return 0;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    int ok = X509_STORE_add_cert(st, x);
    X509_free(x);
    if (!ok) { BIO_free(b); return 0; }
    count++;
  }
  BIO_free(b);
  if (count == 0) return 0;
  ERR_clear_error();   /* the end of the PEM data */
  return 1;
}


/* a certificate chain and key in PEM strings */
static int loadcertkey (SSL_CTX *ctx, const char *cert, size_t clen,
                        const char *key, size_t klen, nsPassword *pw) {
  BIO *b = BIO_new_mem_buf(cert, (int)clen);
  X509 *x;
  EVP_PKEY *pk;
  int ok;
  if (b == NULL) return 0;
  x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  if (x == NULL) { BIO_free(b); return 0; }
  ok = SSL_CTX_use_certificate(ctx, x);
  X509_free(x);
  while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
    if (!SSL_CTX_add0_chain_cert(ctx, x)) { X509_free(x); ok = 0; }
  BIO_free(b);
  if (!ok) return 0;
  ERR_clear_error();
  b = BIO_new_mem_buf(key, (int)klen);
  if (b == NULL) return 0;
  pk = PEM_read_bio_PrivateKey(b, NULL, passwordcb, pw);
  BIO_free(b);
  if (pk == NULL) return 0;
  ok = SSL_CTX_use_PrivateKey(ctx, pk);
  EVP_PKEY_free(pk);
  return ok;
}


/* fail while making a context: nil, message, code; frees the SSL_CTX */
static int ctxfail (lua_State *L, SSL_CTX *ctx, const char *what) {
  int code = takeerror(what);
  SSL_CTX_free(ctx);
  if (!ns_istlserr(code)) {  /* a file's system error: its errno's name */
    ns_fail(L, code);
    lua_pushstring(L, tlsmsg);   /* the message names the file */
    lua_replace(L, -3);
    return 3;
  }
  return pushtlsfail(L, code);
}


/* SNI on a server: a table name -> context, or a function(name) */
static int snicb (SSL *ssl, int *alert, void *arg);

/*
** netsock.tls.context(options): see docs/api.md. Misuse (types,
** unknown options or values) raises; a file, key or list that OpenSSL
** refuses returns nil, message, code. The context userdata keeps the
** sni table or function in its user value.
*/
static int ctx_new (lua_State *L) {
  static const char *const modes[] = {"client", "server", NULL};
  static const char *const vclient[] = {"none", "optional", "require", NULL};
  nsTlsCtx *c;
  SSL_CTX *ctx;
  nsCtxData *d;
  int server, verify, vc, minv, maxv;
  const char *cafile, *capath, *cadata, *certfile, *keyfile, *cert, *key;
  const char *pw, *ciphers, *suites;
  size_t cadatalen = 0, certlen = 0, keylen = 0;
  nsPassword pwbox;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  checkknown(L);
  server = optchoice(L, "mode", "client", modes);
  cafile = optstring(L, "cafile", NULL);
  capath = optstring(L, "capath", NULL);
  cadata = optstring(L, "cadata", &cadatalen);
  certfile = optstring(L, "certfile", NULL);
  keyfile = optstring(L, "keyfile", NULL);
  cert = optstring(L, "cert", &certlen);
  key = optstring(L, "key", &keylen);
  pw = optstring(L, "password", NULL);
  pwbox.pw = pw;
  ciphers = optstring(L, "ciphers", NULL);
  suites = optstring(L, "ciphersuites", NULL);
  vc = optchoice(L, "verify_client", "none", vclient);
  minv = checkversion(L, "min_version", "tls1.2");
  maxv = checkversion(L, "max_version", NULL);
  verify = optbool(L, "verify", !server);
  if (keyfile != NULL && certfile == NULL)
    luaL_error(L, "bad argument #1 to 'context' (keyfile without certfile)");
  if ((cert != NULL) != (key != NULL))
    luaL_error(L, "bad argument #1 to 'context' (cert and key go together)");
  if (cert != NULL && certfile != NULL)
    luaL_error(L, "bad argument #1 to 'context' (cert and certfile both given)");
  if (server && cert == NULL && certfile == NULL)
    luaL_error(L, "bad argument #1 to 'context' (a server needs cert/key "
                  "or certfile/keyfile)");
  if (!server && vc != 0)
    luaL_error(L, "bad argument #1 to 'context' (verify_client is for servers)");
  lua_getfield(L, 1, "sni");
  if (!lua_isnil(L, -1)) {
    if (!server)
      luaL_error(L, "bad argument #1 to 'context' (sni is for servers; "
                    "clients give server_hostname to starttls)");
    if (!lua_istable(L, -1) && !lua_isfunction(L, -1))
      luaL_error(L, "bad argument #1 to 'context' (field 'sni': table or "
                    "function expected, got %s)", luaL_typename(L, -1));
    if (lua_istable(L, -1)) {  /* every value a context */
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING ||
            luaL_testudata(L, -1, NS_TLSCTX) == NULL)
          luaL_error(L, "bad argument #1 to 'context' (sni: a table of "
                        "host name -> server context)");
        lua_pop(L, 1);
      }
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "alpn");
  if (!lua_isnil(L, -1)) {   /* validated here, converted below */
    unsigned int l;
    free(alpnwire(L, lua_gettop(L), &l, "context", 1));
  }
  lua_pop(L, 1);

  /* the object first, empty: a memory error later leaves nothing behind */
  c = (nsTlsCtx *)lua_newuserdatauv(L, sizeof *c, 1);
  c->ctx = NULL;
  luaL_setmetatable(L, NS_TLSCTX);
  ERR_clear_error();
  ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == NULL) return ctxfail(L, NULL, "context");
  d = (nsCtxData *)calloc(1, sizeof *d);
  if (d == NULL || !SSL_CTX_set_ex_data(ctx, ctxindex, d)) {
    free(d);
    SSL_CTX_free(ctx);
    return luaL_error(L, "not enough memory");
  }
  d->server = server;
  d->verify = verify;
  d->check_hostname = optbool(L, "check_hostname", !server && verify);
  lua_getfield(L, 1, "alpn");
  if (!lua_isnil(L, -1)) {
    d->alpn = alpnwire(L, lua_gettop(L), &d->alpnlen, "context", 1);
    if (!server && SSL_CTX_set_alpn_protos(ctx, d->alpn, d->alpnlen) != 0) {
      SSL_CTX_free(ctx);
      return luaL_error(L, "not enough memory");
    }
    if (server) SSL_CTX_set_alpn_select_cb(ctx, alpnselect, NULL);
  }
  lua_pop(L, 1);

  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                           SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* no SSL_MODE_ENABLE_PARTIAL_WRITE: our BIO takes every record, so an
     SSL_write always completes, all its records in one call */
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!SSL_CTX_set_min_proto_version(ctx, minv))
    return ctxfail(L, ctx, "min_version");
  if (maxv && !SSL_CTX_set_max_proto_version(ctx, maxv))
    return ctxfail(L, ctx, "max_version");
  if (ciphers && !SSL_CTX_set_cipher_list(ctx, ciphers))
    return ctxfail(L, ctx, "ciphers");
  if (suites && !SSL_CTX_set_ciphersuites(ctx, suites))
    return ctxfail(L, ctx, "ciphersuites");
  if (pw != NULL) {
    /* the table keeps the string alive, but the context outlives the
       call: OpenSSL reads the password only while loading the key */
    SSL_CTX_set_default_passwd_cb(ctx, passwordcb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &pwbox);
  }
  if (certfile) {
    if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1)
      return ctxfail(L, ctx, certfile);
    if (SSL_CTX_use_PrivateKey_file(ctx, keyfile ? keyfile : certfile,
                                    SSL_FILETYPE_PEM) != 1)
      return ctxfail(L, ctx, keyfile ? keyfile : certfile);
  }
  if (cert && !loadcertkey(ctx, cert, certlen, key, keylen, &pwbox))
    return ctxfail(L, ctx, "cert/key");
  if ((certfile || cert) && SSL_CTX_check_private_key(ctx) != 1)
    return ctxfail(L, ctx, "key does not match the certificate");
  SSL_CTX_set_default_passwd_cb(ctx, NULL);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);

  /* trust: what was given, else the system store (SSL_CERT_FILE and
     SSL_CERT_DIR honoured: OpenSSL's default paths read them) */
  if (cafile || capath) {
    if (SSL_CTX_load_verify_locations(ctx, cafile, capath) != 1)
      return ctxfail(L, ctx, cafile ? cafile : capath);
  }
  if (cadata && !loadcadata(ctx, cadata, cadatalen))
    return ctxfail(L, ctx, "cadata");
  if (!cafile && !capath && !cadata && (verify || vc != 0)) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      return ctxfail(L, ctx, "system trust store");
  }
  if (server) {
    static const unsigned char sid[] = "netsock";
    int mode = vc == 0 ? SSL_VERIFY_NONE
             : vc == 1 ? SSL_VERIFY_PEER
             : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    lua_getfield(L, 1, "sni");
    if (!lua_isnil(L, -1))
      SSL_CTX_set_tlsext_servername_callback(ctx, snicb);
    lua_setiuservalue(L, -2, 1);
  }
  else {
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  }
  ERR_clear_error();
  c->ctx = ctx;
  return 1;
}


/* context:info(): the options as made (mode, verify, check_hostname) */
static int ctx_info (lua_State *L) {
  nsTlsCtx *c = checkctx(L, 1);
  nsCtxData *d = ctxdata(c->ctx);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, d->server ? "server" : "client");
  lua_setfield(L, -2, "mode");
  lua_pushboolean(L, d->verify);
  lua_setfield(L, -2, "verify");
  lua_pushboolean(L, d->check_hostname);
  lua_setfield(L, -2, "check_hostname");
  return 1;
}

/* }====== */


/* {====== Sessions ====== */

typedef struct nsSession { SSL_SESSION *sess; } nsSession;

static int sess_gc (lua_State *L) {
  nsSession *p = (nsSession *)luaL_checkudata(L, 1, NS_TLSSESSION);
  if (p->sess) { SSL_SESSION_free(p->sess); p->sess = NULL; }
  return 0;
}

static int sess_tostring (lua_State *L) {
  nsSession *p = (nsSession *)luaL_checkudata(L, 1, NS_TLSSESSION);
  lua_pushfstring(L, "tls.session: %p", (void *)p);
  return 1;
}

static int sess_reusable (lua_State *L) {
  nsSession *p = (nsSession *)luaL_checkudata(L, 1, NS_TLSSESSION);
  lua_pushboolean(L, p->sess && SSL_SESSION_is_resumable(p->sess));
  return 1;
}

/* }====== */


/* {====== The BIO: our descriptor, our buffers ====== */

/*
** per-socket TLS state. in[inhead..intail) is ciphertext read from the
** descriptor that OpenSSL has not taken yet; out[outhead..outtail) is
** ciphertext OpenSSL wrote that the kernel has not taken yet.
*/
struct nsTls {
  SSL *ssl;
  nsSocket *s;
  lua_State *L;         /* for the SNI callback, during a handshake */
  int ctxref;           /* registry ref to the context userdata */
  char *in;
  size_t inhead, intail;
  char *out;
  size_t outhead, outtail, outcap;
  int budget;           /* recv(2) calls the BIO may still make */
  int eof;              /* recv(2) returned 0 */
  int syserr;           /* errno of the BIO's failed system call, or 0 */
  int want;             /* NS_READ or NS_WRITE: what the last op awaits */
  int done;             /* handshake complete */
  int peek;             /* writes that look for arrived bytes first */
  unsigned long rbytes; /* ciphertext bytes received so far */
  int shut;             /* close_notify received */
  int ioflags;          /* MSG_DONTWAIT or 0: ns_callflags for this call */
  lua_State *callL;     /* this call's thread (NULL: never waits), for ns_retry */
  char *host;           /* the name checked and sent as SNI, or NULL */
};

/* EINTR: retried, but for the lua5.4 prompt's Ctrl-C (ns_retry) */
#define TLS_RETRY(t)  ns_retry((t)->callL)


static int bio_write (BIO *b, const char *buf, int len) {
  nsTls *t = (nsTls *)BIO_get_data(b);
  size_t n = 0;
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (t->outhead == t->outtail) {
    ssize_t r;
    t->outhead = t->outtail = 0;
    do r = ns_sys_send(t->s->fd, buf, (size_t)len, t->ioflags);
    while (r < 0 && TLS_RETRY(t));
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      t->syserr = errno;
      return -1;
    }
    if (r > 0) n = (size_t)r;
    if (n == (size_t)len) return len;
  }
  /* the rest waits in our output buffer, after what waits there */
  if (t->outcap - t->outtail < (size_t)len - n) {
    size_t pend = t->outtail - t->outhead, need = pend + (size_t)len - n;
    size_t cap = t->outcap ? t->outcap : 16 * 1024;
    char *p;
    if (t->outhead > 0) {
      memmove(t->out, t->out + t->outhead, pend);
      t->outhead = 0;
      t->outtail = pend;
    }
    while (cap < need) cap *= 2;
    if (cap > t->outcap) {
      p = (char *)realloc(t->out, cap);
      if (p == NULL) { t->syserr = ENOMEM; return -1; }
      t->out = p;
      t->outcap = cap;
    }
  }
  memcpy(t->out + t->outtail, buf + n, (size_t)len - n);
  t->outtail += (size_t)len - n;
  return len;
}


static int bio_read (BIO *b, char *buf, int len) {
  nsTls *t = (nsTls *)BIO_get_data(b);
  size_t avail;
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (t->inhead == t->intail) {
    ssize_t r;
    if (t->eof) return 0;
    if (t->budget <= 0) { BIO_set_retry_read(b); return -1; }
    t->budget--;
    t->inhead = t->intail = 0;
    if (t->in == NULL && (t->in = (char *)malloc(NS_TLS_INBUF)) == NULL) {
      t->syserr = ENOMEM;
      return -1;
    }
    do r = recv(t->s->fd, t->in, NS_TLS_INBUF, t->ioflags);
    while (r < 0 && TLS_RETRY(t));
    if (r == 0) { t->eof = 1; return 0; }
    if (r > 0) t->rbytes += (unsigned long)r;
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
      else t->syserr = errno;
      return -1;
    }
    t->intail = (size_t)r;
  }
  avail = t->intail - t->inhead;
  if (avail > (size_t)len) avail = (size_t)len;
  memcpy(buf, t->in + t->inhead, avail);
  t->inhead += avail;
  if (t->inhead == t->intail) t->inhead = t->intail = 0;
  return (int)avail;
}


static long bio_ctrl (BIO *b, int cmd, long num, void *ptr) {
  (void)b; (void)num; (void)ptr;
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;   /* our buffer drains in ns_tls_flush */
    case BIO_CTRL_PUSH: case BIO_CTRL_POP: return 0;
    default: return 0;
  }
}


static int bio_create (BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}


/*
** The BIO method, one per Lua state: a userdata in the registry owns it
** and frees it when the state closes (its finalizer runs after every
** socket's: it was made first, at require time).
*/
#define NS_TLSBIOMETH "netsock.tls.biomethod"

static int biometh_gc (lua_State *L) {
  BIO_METHOD **pm = (BIO_METHOD **)lua_touserdata(L, 1);
  if (*pm != NULL) {
    BIO_meth_free(*pm);
    *pm = NULL;
  }
  return 0;
}


static BIO_METHOD *getbiometh (lua_State *L) {
  BIO_METHOD *m;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_TLSBIOMETH);
  m = *(BIO_METHOD **)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return m;
}


static BIO_METHOD *makebiometh (void) {
  BIO_METHOD *biometh = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                         "netsock socket");
  if (biometh == NULL) return NULL;
  BIO_meth_set_write(biometh, bio_write);
  BIO_meth_set_read(biometh, bio_read);
  BIO_meth_set_ctrl(biometh, bio_ctrl);
  BIO_meth_set_create(biometh, bio_create);
  return biometh;
}


/*
** Send what waits in the output buffer. Returns 0 when it is empty,
** -1 with errno (EAGAIN: wait for writable; t->want says so).
*/
static int flushout (nsSocket *s) {
  nsTls *t = s->tls;
  while (t->outhead < t->outtail) {
    ssize_t r = ns_sys_send(s->fd, t->out + t->outhead,
                            t->outtail - t->outhead, t->ioflags);
    if (r < 0) {
      if (TLS_RETRY(t)) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) t->want = NS_WRITE;
      return -1;
    }
    t->outhead += (size_t)r;
  }
  t->outhead = t->outtail = 0;
  if (t->outcap > 64 * 1024 + 1024) {   /* a big write's buffer goes */
    free(t->out);
    t->out = NULL;
    t->outcap = 0;
  }
  return 0;
}


/* how this call's system calls go: wait.c decides (L NULL: never wait) */
static void setflags (lua_State *L, nsSocket *s) {
  s->tls->ioflags = L != NULL ? ns_callflags(L, s, NS_READ, -1.0)
                               : MSG_DONTWAIT;  /* timed: poll (wait.c) */
  s->tls->callL = L;
  s->tls->want = 0;   /* a failure of this call sets it again */
}


int ns_tls_flush (lua_State *L, nsSocket *s) {
  setflags(L, s);
  return flushout(s);
}

/* }====== */


/* {====== Operations ====== */

static int handshake_step (lua_State *L, nsSocket *s);

/*
** The outcome of a failed SSL_* call 'r' as errno (the caller returns
** -1): EAGAIN with t->want set, 0 for close_notify (the caller treats
** it as end of stream), or a code for ns_fail with tlsmsg filled.
*/
static int sslerror (nsTls *t, int r, const char *what) {
  int e = SSL_get_error(t->ssl, r);
  (void)what;
  what = NULL;   /* the message is OpenSSL's reason alone */
  switch (e) {
    case SSL_ERROR_WANT_READ:
      t->want = NS_READ;
      ERR_clear_error();
      return EAGAIN;
    case SSL_ERROR_WANT_WRITE:
      t->want = NS_WRITE;
      ERR_clear_error();
      return EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
      t->shut = 1;
      ERR_clear_error();
      return 0;
    default: break;
  }
  if (t->syserr) {
    int err = t->syserr;
    t->syserr = 0;
    ERR_clear_error();
    return err;
  }
  if (e == SSL_ERROR_SSL) {
    long vr = SSL_get_verify_result(t->ssl);
    unsigned long q = ERR_peek_error();
    if (vr != X509_V_OK &&
        ERR_GET_REASON(q) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      setmsg(what, X509_verify_cert_error_string(vr));
      ERR_clear_error();
      return NS_ETLSVERIFY;
    }
    if (t->eof && (q == 0 ||
                   ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
      setmsg(what, "connection closed without close_notify");
      ERR_clear_error();
      return NS_ETLSEOF;
    }
    return takeerror(what);
  }
  if (t->eof) {
    setmsg(what, "connection closed without close_notify");
    ERR_clear_error();
    return NS_ETLSEOF;
  }
  return takeerror(what);
}


/*
** Decrypt every complete record waiting in the BIO or in OpenSSL into
** the socket's receive buffer (no system call). Returns the bytes
** added, or -1 with errno on a failure (0: close_notify seen).
*/
static ssize_t drain (nsSocket *s, int *err) {
  nsTls *t = s->tls;
  size_t total = 0;
  *err = EAGAIN;
  for (;;) {
    int r;
    size_t room;
    if (t->inhead == t->intail && SSL_pending(t->ssl) == 0 &&
        !SSL_has_pending(t->ssl))
      return (ssize_t)total;
    if (!ns_buf_reserve(s, 16 * 1024 + 256)) { *err = ENOMEM; return -1; }
    room = s->rcap - s->rtail;
    if (room > INT_MAX) room = INT_MAX;
    t->budget = 0;
    ERR_clear_error();
    r = SSL_read(t->ssl, s->rbuf + s->rtail, (int)room);
    if (r > 0) {
      s->rtail += (size_t)r;
      total += (size_t)r;
      continue;
    }
    *err = sslerror(t, r, "recv");
    if (*err == EAGAIN) {
      if (t->want == NS_READ) return (ssize_t)total;  /* a partial record */
      /* the peer's record made OpenSSL answer and the kernel is full */
    }
    return total > 0 ? (ssize_t)total : -1;
  }
}


/*
** The TLS side of refill: at most one recv(2), then every complete
** record decrypted into s->rbuf. Returns the plaintext bytes added
** (> 0), 0 at close_notify, or -1 with errno: EAGAIN (wait for
** ns_tls_events(s)), a system errno, ENOMEM, or NS_ETLS* with
** its message left in ns_reason.
*/
ssize_t ns_tls_fill (lua_State *L, nsSocket *s) {
  nsTls *t = s->tls;
  int err;
  ssize_t n;
  if (t->shut) return 0;
  if (!t->done && handshake_step(L, s) < 0) return -1;  /* deferred one */
  setflags(L, s);
  if (t->outhead < t->outtail && flushout(s) < 0)
    return -1;   /* our own unsent bytes first: the peer may wait for them */
  for (;;) {
    int r;
    if (!ns_buf_reserve(s, 16 * 1024 + 256)) { errno = ENOMEM; return -1; }
    t->budget = 1;
    ERR_clear_error();
    r = SSL_read(t->ssl, s->rbuf + s->rtail,
                 (int)(s->rcap - s->rtail > INT_MAX ? INT_MAX
                                                    : s->rcap - s->rtail));
    if (r > 0) {
      s->rtail += (size_t)r;
      n = drain(s, &err);  /* a failure of drain shows at the next read */
      if (t->outhead < t->outtail) flushout(s);
      return r + (n > 0 ? n : 0);
    }
    err = sslerror(t, r, "recv");
    if (err == 0) return 0;
    if (err == EAGAIN && t->outhead < t->outtail) {
      if (flushout(s) == 0) continue;
      return -1;
    }
    errno = err;
    return -1;
  }
}


/*
** Before the first writes after a handshake: take what has arrived
** (TLS 1.3 session tickets, which a server sends after the handshake),
** without waiting, decrypting any application data into s->rbuf where
** the next read finds it. A client that only uploads would otherwise
** leave the tickets unread, and close(2) on unread bytes resets the
** connection: the peer loses the data still in flight to it. Stops at
** the first bytes seen, or after NS_TLS_PEEKS writes.
*/
#if !defined(NS_TLS_PEEKS)
#define NS_TLS_PEEKS  64
#endif

static void peekin (nsSocket *s) {
  nsTls *t = s->tls;
  unsigned long before = t->rbytes;
  int saved = t->ioflags, r, err;
  t->peek--;
  if (t->inhead != t->intail || !ns_buf_reserve(s, 16 * 1024 + 256)) return;
  t->ioflags |= MSG_DONTWAIT;
  t->budget = 1;
  ERR_clear_error();
  r = SSL_read(t->ssl, s->rbuf + s->rtail,
               (int)(s->rcap - s->rtail > INT_MAX ? INT_MAX : s->rcap - s->rtail));
  if (r > 0) {
    s->rtail += (size_t)r;
    drain(s, &err);
  }
  else if (SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN)
    t->shut = 1;
  ERR_clear_error();   /* a failure shows again at the next read */
  t->syserr = 0;
  t->ioflags = saved;
  t->want = 0;
  ns_buf_trim(s);
  if (t->rbytes != before) t->peek = 0;
}


/*
** The TLS side of send: plaintext data[0..len) into at most one
** SSL_write (NS_TLS_WCHUNK bytes). Our unsent ciphertext goes first;
** while some remains, nothing new is taken (EAGAIN, want NS_WRITE).
** Returns the bytes taken (they will reach the kernel: a later call,
** or ns_tls_flush, sends the rest) or -1 with errno.
*/
ssize_t ns_tls_write (lua_State *L, nsSocket *s, const char *data,
                      size_t len) {
  nsTls *t = s->tls;
  int r, err;
  if (!t->done && handshake_step(L, s) < 0) return -1;  /* deferred one */
  setflags(L, s);
  if (t->outhead < t->outtail && flushout(s) < 0) return -1;
  if (len == 0) return 0;
  if (len > NS_TLS_WCHUNK) len = NS_TLS_WCHUNK;
  if (t->peek > 0 && !t->shut) peekin(s);
  ERR_clear_error();
  r = SSL_write(t->ssl, data, (int)len);
  if (r > 0) {
    if (t->outhead < t->outtail) flushout(s);  /* try; the rest later */
    return r;
  }
  err = sslerror(t, r, "send");
  errno = err == 0 ? EPIPE : err;
  return -1;
}


/* unsent ciphertext waits in our buffer */
int ns_tls_unsent (nsSocket *s) {
  return s->tls != NULL && s->tls->outhead < s->tls->outtail;
}


/* what the last operation waits for: NS_READ or NS_WRITE */
int ns_tls_events (nsSocket *s) {
  nsTls *t = s->tls;
  if (t == NULL) return NS_READ;
  if (t->outhead < t->outtail) return NS_WRITE;
  return t->want ? t->want : NS_READ;
}


/*
** One step of the handshake. Returns 1 once done (and our last flight
** sent; any application data that came with it decrypted into
** s->rbuf), or -1 with errno (EAGAIN: wait for ns_tls_events).
*/
static int handshake_step (lua_State *L, nsSocket *s) {
  nsTls *t = s->tls;
  int r;
  setflags(L, s);
  if (!t->done) {
    t->L = L;
    t->budget = 1;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    t->L = NULL;
    if (r != 1) {
      int err = sslerror(t, r, "handshake");
      if (err == EAGAIN && t->want == NS_READ && t->outhead < t->outtail)
        t->want = NS_WRITE;   /* our flight first */
      if (err == 0) {
        setmsg("handshake", "connection closed during the handshake");
        err = NS_ETLSEOF;
      }
      errno = err;
      return -1;
    }
    t->done = 1;
    t->peek = NS_TLS_PEEKS;
  }
  if (t->outhead < t->outtail && flushout(s) < 0) return -1;
  {
    int err;
    if (drain(s, &err) < 0 && err != EAGAIN && err != 0) {
      errno = err;
      return -1;
    }
  }
  return 1;
}

/* }====== */


/* {====== Socket methods ====== */

static nsTls *checktls (lua_State *L, int idx, nsSocket **ps) {
  nsSocket *s = ns_checkopen(L, idx);
  if (s->tls == NULL)
    luaL_error(L, "socket has no TLS (call starttls first)");
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
  if (notify && s->fd >= 0 && t->done && !t->syserr) {
    t->ioflags = MSG_DONTWAIT;
    t->callL = NULL;
    t->budget = 0;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    if (t->outhead < t->outtail) flushout(s);
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
  SSL_free(t->ssl);   /* frees the BIO too */
  if (t->ctxref != LUA_NOREF && L != NULL)
    luaL_unref(L, LUA_REGISTRYINDEX, t->ctxref);
  free(t->in);
  free(t->out);
  free(t->host);
  free(t);
}


/*
** SNI on a server: the context's sni table or function picks the
** context for the name the client sent; no name, or none found, keeps
** the default one. A raising function aborts the handshake.
*/
static int snicb (SSL *ssl, int *alert, void *arg) {
  nsTls *t = (nsTls *)SSL_get_ex_data(ssl, sslindex);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  lua_State *L;
  nsTlsCtx *c = NULL;
  int top;
  (void)arg;
  if (name == NULL || t == NULL || t->L == NULL) return SSL_TLSEXT_ERR_OK;
  L = t->L;
  top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) return SSL_TLSEXT_ERR_ALERT_FATAL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ctxref);
  lua_getiuservalue(L, -1, 1);
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, name);
    c = (nsTlsCtx *)luaL_testudata(L, -1, NS_TLSCTX);
  }
  else if (lua_isfunction(L, -1)) {
    lua_pushstring(L, name);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      lua_settop(L, top);
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    c = (nsTlsCtx *)luaL_testudata(L, -1, NS_TLSCTX);
  }
  if (c != NULL && c->ctx != NULL) {
    nsCtxData *d = ctxdata(c->ctx);
    if (d != NULL && d->server) {
      SSL_set_SSL_CTX(ssl, c->ctx);
      /* the new context's verify mode and trust apply from here */
      SSL_set_verify(ssl, SSL_CTX_get_verify_mode(c->ctx), NULL);
    }
  }
  lua_settop(L, top);
  return SSL_TLSEXT_ERR_OK;
}


/* stack: 1 socket, 2 ctx, 3 opts, 4 deadline (starttls and handshake) */
static int handshake_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  nsResult r;
  (void)status;
  if (s == NULL) return ns_closed(L);
  if (s->tls == NULL) return ns_closed(L);
  for (;;) {
    if (handshake_step(L, s) == 1) {
      lua_pushvalue(L, 1);
      return 1;
    }
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
      luaL_error(L, "bad argument #2 to 'starttls' (server_hostname: "
                    "string expected, got %s)", luaL_typename(L, -1));
    else if (lua_isboolean(L, -1) && lua_toboolean(L, -1))
      luaL_error(L, "bad argument #2 to 'starttls' (server_hostname: "
                    "string or false expected)");
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
      luaL_error(L, "bad argument #2 to 'starttls' (unknown option '%s')",
                 luaL_tolstring(L, -1, NULL));
  }
  lua_getfield(L, 3, "session");
  if (!lua_isnil(L, -1) && luaL_testudata(L, -1, NS_TLSSESSION) == NULL)
    luaL_error(L, "bad argument #2 to 'starttls' (session: a session from "
                  "s:tlssession() expected)");
  lua_pop(L, 1);
  lua_getfield(L, 3, "handshake");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "bad argument #2 to 'starttls' (handshake: boolean "
                  "expected)");
  lua_pop(L, 1);
}


/*
** s:starttls(ctx [, opts]): the same socket object from now on speaks
** TLS. Bytes already in the receive buffer (read ahead by a file
** object, or a pipelined command) become the start of the handshake's
** input: they are never handed out as plaintext.
*/
static int sock_starttls (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  nsTlsCtx *c = checkctx(L, 2);
  nsCtxData *d = ctxdata(c->ctx);
  nsTls *t;
  BIO *bio;
  BIO_METHOD *biometh;
  const char *host = NULL;
  int defer = 0;
  lua_settop(L, 3);
  checkopts(L);
  if (s->type != SOCK_STREAM)
    return luaL_error(L, "bad argument #1 to 'starttls' (a stream socket "
                         "expected)");
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
  biometh = getbiometh(L);
  if (biometh == NULL) return luaL_error(L, "not enough memory");
  t = (nsTls *)calloc(1, sizeof *t);
  if (t == NULL) return luaL_error(L, "not enough memory");
  t->ctxref = LUA_NOREF;
  t->s = s;
  ERR_clear_error();
  t->ssl = SSL_new(c->ctx);
  bio = t->ssl ? BIO_new(biometh) : NULL;
  if (bio == NULL || (host && (t->host = strdup(host)) == NULL)) {
    int code = takeerror("starttls");
    if (t->ssl) SSL_free(t->ssl);
    free(t->host);
    free(t);
    return ns_fail(L, code);
  }
  lua_settop(L, 3);   /* hostopt's string is copied into t->host */
  host = t->host;
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio);
  SSL_set_ex_data(t->ssl, sslindex, t);
  s->tls = t;   /* from here ns_tls_free cleans up on every path */
  if (d->server) SSL_set_accept_state(t->ssl);
  else {
    SSL_set_connect_state(t->ssl);
    if (host != NULL) {
      int ip = ns_isnumerichost(host);
      if (!ip && !SSL_set_tlsext_host_name(t->ssl, t->host)) goto fail;
      if (d->verify && d->check_hostname) {
        if (ip) {
          X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
          if (!X509_VERIFY_PARAM_set1_ip_asc(vp, host)) goto fail;
        }
        else {
          if (!SSL_set1_host(t->ssl, host)) goto fail;
          SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        }
      }
    }
  }
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "alpn");
    if (!lua_isnil(L, -1)) {
      unsigned int len;
      unsigned char *w = alpnwire(L, lua_gettop(L), &len, "starttls", 2);
      int bad = SSL_set_alpn_protos(t->ssl, w, len) != 0;
      free(w);
      if (bad) goto fail;
    }
    lua_pop(L, 1);
    lua_getfield(L, 3, "session");
    if (!lua_isnil(L, -1)) {
      nsSession *p = (nsSession *)lua_touserdata(L, -1);
      if (p->sess && !SSL_set_session(t->ssl, p->sess)) goto fail;
    }
    lua_pop(L, 1);
  }
  /* bytes buffered before TLS belong to the handshake */
  if (ns_pending(s) > 0) {
    size_t n = ns_pending(s);
    t->in = (char *)malloc(n > NS_TLS_INBUF ? n : NS_TLS_INBUF);
    if (t->in == NULL) { ns_tls_free(L, s, 0); return luaL_error(L, "not enough memory"); }
    memcpy(t->in, s->rbuf + s->rhead, n);
    t->inhead = 0;
    t->intail = n;
    s->rhead = s->rtail = 0;
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
    int code = takeerror("starttls");
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
    lua_pushinteger(L, (lua_Integer)timegm(&t));
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
  setflags(L, s);
  for (;;) {
    if (t->outhead < t->outtail) {
      if (flushout(s) < 0) {
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
      int err = sslerror(t, r, "unwrap");
      if (err == 0) continue;   /* close_notify arrived: shutdown again */
      if (err != EAGAIN) return ns_fail(L, err);
    }
  wait:
    w = ns_block(L, s, ns_tls_events(s), lua_tonumber(L, 2), ctx, unwrap_k);
    if (w != NS_AGAIN) return ns_pushresult(L, w, errno);
    setflags(L, s);
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


static const luaL_Reg ctx_methods[] = {
  {"info", ctx_info},
  {NULL, NULL}
};

static const luaL_Reg ctx_meta[] = {
  {"__gc", ctx_gc},
  {"__tostring", ctx_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

static const luaL_Reg sess_meta[] = {
  {"__gc", sess_gc},
  {"__tostring", sess_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

static const luaL_Reg sess_methods[] = {
  {"resumable", sess_reusable},
  {NULL, NULL}
};

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

static const luaL_Reg funcs[] = {
  {"context", ctx_new},
  {NULL, NULL}
};


static void createmeta (lua_State *L, const char *name, const luaL_Reg *meta,
                        const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}


/*
** With the core's table on top: adds core._tls (context, and
** OPENSSL_VERSION) and the TLS methods to core._socketmethods.
*/
void ns_tls_open (lua_State *L) {
  if (ctxindex < 0)
    ctxindex = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, freectxdata);
  if (sslindex < 0)
    sslindex = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  lua_newtable(L);   /* the host names sockets connected to */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, NS_TLSHOSTS);
  createmeta(L, NS_TLSCTX, ctx_meta, ctx_methods);
  createmeta(L, NS_TLSSESSION, sess_meta, sess_methods);
  {
    BIO_METHOD **pm = (BIO_METHOD **)lua_newuserdatauv(L, sizeof *pm, 0);
    *pm = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, biometh_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    *pm = makebiometh();   /* NULL on ENOMEM: starttls says so */
    lua_setfield(L, LUA_REGISTRYINDEX, NS_TLSBIOMETH);
  }
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
