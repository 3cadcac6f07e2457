/*
** tlsctx.c: netsock.tls's contexts (tls.context{...}: options read into a
** struct, then built), its sessions, the SNI callback, and the messages
** of TLS failures
** (tls.c's header comment has the design of netsock.tls as a whole).
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

/* {====== Errors ====== */


void ns_tls_setmsg (const char *prefix, const char *reason) {
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
int ns_tls_takeerror (const char *prefix) {
  unsigned long e = ERR_get_error();
  int code = NS_ETLS;
  if (e == 0)
    ns_tls_setmsg(prefix, "unknown TLS error");
  else {
    const char *r = ERR_reason_error_string(e);
    char buf[128];
    if (r == NULL) {
      ERR_error_string_n(e, buf, sizeof buf);
      r = buf;
    }
    if (ERR_SYSTEM_ERROR(e)) {
      code = ERR_GET_REASON(e);
      ns_tls_setmsg(prefix, strerror(code));
    }
    else {
      ns_tls_setmsg(prefix, r);
      if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        code = NS_ETLSVERIFY;
    }
  }
  ERR_clear_error();
  return code;
}


/* a failed certificate check: the reason, and the way out */
void ns_tls_verifymsg (long vr) {
  const char *why = X509_verify_cert_error_string(vr);
  if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
    snprintf(tlsmsg, sizeof tlsmsg, "certificate verify failed: %s (the "
             "certificate is not for this name: connect by the name it "
             "names, or give server_hostname)", why);
  else
    snprintf(tlsmsg, sizeof tlsmsg, "certificate verify failed: %s (trust "
             "the issuing CA: the context's cafile, capath or cadata option, "
             "or SSL_CERT_FILE; verify = false turns checking off, for tests "
             "only)", why);
}


char ns_tls_snimsg[NS_REASONSIZE];


/* push nil, message, code for the last failure (ns_tls_takeerror's result) */
int ns_tls_pushfail (lua_State *L, int code) {
  return ns_fail(L, code);
}

/* }====== */


int ns_tls_ctxindex = -1;   /* SSL_CTX ex_data index of nsCtxData */
int ns_tls_sslindex = -1;   /* SSL ex_data index of nsTls */


/* {====== Contexts ====== */




static void freectxdata (void *parent, void *ptr, CRYPTO_EX_DATA *ad,
                         int idx, long argl, void *argp) {
  nsCtxData *d = (nsCtxData *)ptr;
  (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
  if (d != NULL) {
    free(d->alpn);
    free(d);
  }
}


nsCtxData *ns_tls_ctxdata (const SSL_CTX *ctx) {
  return (nsCtxData *)SSL_CTX_get_ex_data(ctx, ns_tls_ctxindex);
}


nsTlsCtx *ns_tls_checkctx (lua_State *L, int idx) {
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
  nsCtxData *d = c->ctx ? ns_tls_ctxdata(c->ctx) : NULL;
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
      ns_argerror(L, 1, "context", "field '%s': string "
                    "expected, got %s", name, luaL_typename(L, -1));
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
      ns_argerror(L, 1, "context", "field '%s': boolean "
                    "expected, got %s", name, luaL_typename(L, -1));
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
  return ns_argerror(L, 1, "context", "field '%s': invalid "
                       "value '%s'", name, v);
}


static const char *const knownopts[] = {
  "mode", "cafile", "capath", "cadata", "certfile", "keyfile", "cert", "key",
  "password", "alpn", "min_version", "max_version", "ciphers",
  "ciphersuites", "verify", "check_hostname", "verify_client", "sni",
  "suppress_ragged_eofs", NULL
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
      ns_argerror(L, 1, "context", "unknown option '%s'",
                 luaL_tolstring(L, -1, NULL));
  }
}


/*
** The alpn option (a list of protocol names) in wire format: each name
** prefixed by its length. Raises on a bad list.
*/
unsigned char *ns_tls_alpnwire (lua_State *L, int idx, unsigned int *len,
                                const char *fname, int arg) {
  size_t total = 0, n, i;
  unsigned char *w, *p;
  if (lua_type(L, idx) != LUA_TTABLE)
    ns_argerror(L, arg, fname, "alpn: table expected, got %s",
                luaL_typename(L, idx));
  n = (size_t)luaL_len(L, idx);
  if (n == 0)
    ns_argerror(L, arg, fname, "alpn: empty list");
  for (i = 1; i <= n; i++) {
    size_t l;
    if (lua_geti(L, idx, (lua_Integer)i) != LUA_TSTRING)
      ns_argerror(L, arg, fname, "alpn[%d]: string expected", (int)i);
    lua_tolstring(L, -1, &l);
    if (l == 0 || l > 255)
      ns_argerror(L, arg, fname, "alpn[%d]: 1 to 255 bytes", (int)i);
    total += l + 1;
    lua_pop(L, 1);
  }
  if (total > 65535)
    ns_argerror(L, arg, fname, "alpn list too long");
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
  nsCtxData *d = ns_tls_ctxdata(SSL_get_SSL_CTX(ssl));
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
    ns_argerror(L, 1, "context", "field '%s': invalid "
                  "version '%s', expected tls1, tls1.1, tls1.2 or tls1.3",
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
  int code = ns_tls_takeerror(what);
  SSL_CTX_free(ctx);
  if (!ns_istlserr(code)) {  /* a file's system error: its errno's name */
    ns_fail(L, code);
    lua_pushstring(L, tlsmsg);   /* the message names the file */
    lua_replace(L, -3);
    return 3;
  }
  return ns_tls_pushfail(L, code);
}


/* SNI on a server: a table name -> context, or a function(name) */

/*
** netsock.tls.context(options): see docs/api.md. Misuse (types,
** unknown options or values) raises; a file, key or list that OpenSSL
** refuses returns nil, message, code. The context userdata keeps the
** sni table or function in its user value.
*/
/* the options of tls.context, read and checked before anything is made */
typedef struct nsCtxOpts {
  int server, verify, check_hostname, ragged, vc, minv, maxv;
  const char *cafile, *capath, *cadata, *certfile, *keyfile, *cert, *key;
  const char *pw, *ciphers, *suites;
  size_t cadatalen, certlen, keylen;
} nsCtxOpts;


/* the sni option at the top: a table of name -> server context, or a
   function, on a server context only */
static void checksni (lua_State *L, int server) {
  if (!server)
    ns_argerror(L, 1, "context", "sni is for servers; "
                "clients give server_hostname to starttls");
  if (!lua_istable(L, -1) && !lua_isfunction(L, -1))
    ns_argerror(L, 1, "context", "field 'sni': table or "
                "function expected, got %s", luaL_typename(L, -1));
  if (lua_istable(L, -1)) {  /* every value a context */
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      nsTlsCtx *sc = (nsTlsCtx *)luaL_testudata(L, -1, NS_TLSCTX);
      if (lua_type(L, -2) != LUA_TSTRING || sc == NULL || sc->ctx == NULL ||
          !ns_tls_ctxdata(sc->ctx)->server)
        ns_argerror(L, 1, "context", "sni: a table of "
                    "host name -> server context");
      lua_pop(L, 1);
    }
  }
}


/* read and check the options table at 1; raises on misuse */
static void ctx_readopts (lua_State *L, nsCtxOpts *o) {
  static const char *const modes[] = {"client", "server", NULL};
  static const char *const vclient[] = {"none", "optional", "require", NULL};
  memset(o, 0, sizeof *o);
  checkknown(L);
  o->server = optchoice(L, "mode", "client", modes);
  o->cafile = optstring(L, "cafile", NULL);
  o->capath = optstring(L, "capath", NULL);
  o->cadata = optstring(L, "cadata", &o->cadatalen);
  o->certfile = optstring(L, "certfile", NULL);
  o->keyfile = optstring(L, "keyfile", NULL);
  o->cert = optstring(L, "cert", &o->certlen);
  o->key = optstring(L, "key", &o->keylen);
  o->pw = optstring(L, "password", NULL);
  o->ciphers = optstring(L, "ciphers", NULL);
  o->suites = optstring(L, "ciphersuites", NULL);
  o->vc = optchoice(L, "verify_client", "none", vclient);
  o->minv = checkversion(L, "min_version", "tls1.2");
  o->maxv = checkversion(L, "max_version", NULL);
  o->verify = optbool(L, "verify", !o->server);
  o->check_hostname = optbool(L, "check_hostname", !o->server && o->verify);
  o->ragged = optbool(L, "suppress_ragged_eofs", 0);
  /* an option that would be ignored fails closed: the caller meant it */
  lua_getfield(L, 1, "verify");
  if (o->server && !lua_isnil(L, -1))
    ns_argerror(L, 1, "context", "verify is for clients; a server checks "
                "its clients with verify_client");
  lua_pop(L, 1);
  lua_getfield(L, 1, "check_hostname");
  if (o->server && !lua_isnil(L, -1))
    ns_argerror(L, 1, "context", "check_hostname is for clients");
  if (!o->server && o->check_hostname && !o->verify)
    ns_argerror(L, 1, "context", "check_hostname needs verify: give "
                "check_hostname = false with verify = false");
  lua_pop(L, 1);
  if (o->maxv && o->minv > o->maxv)
    ns_argerror(L, 1, "context", "min_version is above max_version");
  if (o->keyfile != NULL && o->certfile == NULL)
    ns_argerror(L, 1, "context", "keyfile without certfile");
  if ((o->cert != NULL) != (o->key != NULL))
    ns_argerror(L, 1, "context", "cert and key go together");
  if (o->cert != NULL && o->certfile != NULL)
    ns_argerror(L, 1, "context", "cert and certfile both given");
  if (o->server && o->cert == NULL && o->certfile == NULL)
    ns_argerror(L, 1, "context", "a server needs cert/key "
                "or certfile/keyfile");
  if (!o->server && o->vc != 0)
    ns_argerror(L, 1, "context", "verify_client is for servers");
  lua_getfield(L, 1, "sni");
  if (!lua_isnil(L, -1)) checksni(L, o->server);
  lua_pop(L, 1);
  lua_getfield(L, 1, "alpn");
  if (!lua_isnil(L, -1)) {   /* validated here, converted when built */
    unsigned int l;
    free(ns_tls_alpnwire(L, lua_gettop(L), &l, "context", 1));
  }
  lua_pop(L, 1);
}


/*
** Versions, ciphers, our certificate and key. 0 when done, else the
** count of the failure pushed (the context freed).
*/
static int ctx_setkeys (lua_State *L, SSL_CTX *ctx, const nsCtxOpts *o) {
  nsPassword pwbox;
  pwbox.pw = o->pw;
  if (!SSL_CTX_set_min_proto_version(ctx, o->minv))
    return ctxfail(L, ctx, "min_version");
  if (o->maxv && !SSL_CTX_set_max_proto_version(ctx, o->maxv))
    return ctxfail(L, ctx, "max_version");
  if (o->ciphers && !SSL_CTX_set_cipher_list(ctx, o->ciphers))
    return ctxfail(L, ctx, "ciphers");
  if (o->suites && !SSL_CTX_set_ciphersuites(ctx, o->suites))
    return ctxfail(L, ctx, "ciphersuites");
  if (o->pw != NULL) {
    /* the table keeps the string alive, but the context outlives the
       call: OpenSSL reads the password only while loading the key */
    SSL_CTX_set_default_passwd_cb(ctx, passwordcb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &pwbox);
  }
  if (o->certfile) {
    const char *kf = o->keyfile ? o->keyfile : o->certfile;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->certfile) != 1)
      return ctxfail(L, ctx, o->certfile);
    if (SSL_CTX_use_PrivateKey_file(ctx, kf, SSL_FILETYPE_PEM) != 1)
      return ctxfail(L, ctx, kf);
  }
  if (o->cert && !loadcertkey(ctx, o->cert, o->certlen, o->key, o->keylen,
                              &pwbox))
    return ctxfail(L, ctx, "cert/key");
  if ((o->certfile || o->cert) && SSL_CTX_check_private_key(ctx) != 1)
    return ctxfail(L, ctx, "key does not match the certificate");
  SSL_CTX_set_default_passwd_cb(ctx, NULL);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
  return 0;
}


/*
** Trust: what was given, else the system store (SSL_CERT_FILE and
** SSL_CERT_DIR honoured: OpenSSL's default paths read them); then who
** is checked. 0 when done, else the count of the failure pushed. The
** context's userdata is at the top (a server keeps its sni there).
*/
static int ctx_settrust (lua_State *L, SSL_CTX *ctx, const nsCtxOpts *o) {
  if (o->cafile || o->capath) {
    if (SSL_CTX_load_verify_locations(ctx, o->cafile, o->capath) != 1)
      return ctxfail(L, ctx, o->cafile ? o->cafile : o->capath);
  }
  if (o->cadata && !loadcadata(ctx, o->cadata, o->cadatalen))
    return ctxfail(L, ctx, "cadata");
  if (!o->cafile && !o->capath && !o->cadata && (o->verify || o->vc != 0)) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      return ctxfail(L, ctx, "system trust store");
  }
  if (o->server) {
    static const unsigned char sid[] = "netsock";
    int mode = o->vc == 0 ? SSL_VERIFY_NONE
             : o->vc == 1 ? SSL_VERIFY_PEER
             : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    /* read for session-ID resumption (TLS 1.2 clients without tickets);
       bounded, the oldest going first */
    SSL_CTX_sess_set_cache_size(ctx, NS_TLS_SESSCACHE);
    lua_getfield(L, 1, "sni");
    if (!lua_isnil(L, -1))
      SSL_CTX_set_tlsext_servername_callback(ctx, ns_tls_snicb);
    lua_setiuservalue(L, -2, 1);
  }
  else {
    SSL_CTX_set_verify(ctx, o->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       NULL);
    /* OpenSSL never reads a client's cache (a client resumes with the
       session it is given: s:tlssession()), so none is kept */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  return 0;
}


/* tls.context{...} (core._tls.context) */
int ns_tls_context (lua_State *L) {
  nsCtxOpts o;
  nsTlsCtx *c;
  SSL_CTX *ctx;
  nsCtxData *d;
  int n;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  ctx_readopts(L, &o);
  /* the object first, empty: a memory error later leaves nothing behind */
  c = (nsTlsCtx *)lua_newuserdatauv(L, sizeof *c, 1);
  c->ctx = NULL;
  luaL_setmetatable(L, NS_TLSCTX);
  ERR_clear_error();
  ctx = SSL_CTX_new(o.server ? TLS_server_method() : TLS_client_method());
  if (ctx == NULL) return ctxfail(L, NULL, "context");
  d = (nsCtxData *)calloc(1, sizeof *d);
  if (d == NULL || !SSL_CTX_set_ex_data(ctx, ns_tls_ctxindex, d)) {
    free(d);
    SSL_CTX_free(ctx);
    return luaL_error(L, "not enough memory");
  }
  d->server = o.server;
  d->verify = o.verify;
  d->check_hostname = o.check_hostname;
  d->ragged = o.ragged;
  lua_getfield(L, 1, "alpn");
  if (!lua_isnil(L, -1)) {
    d->alpn = ns_tls_alpnwire(L, lua_gettop(L), &d->alpnlen, "context", 1);
    if (!o.server && SSL_CTX_set_alpn_protos(ctx, d->alpn, d->alpnlen) != 0) {
      SSL_CTX_free(ctx);
      return luaL_error(L, "not enough memory");
    }
    if (o.server) SSL_CTX_set_alpn_select_cb(ctx, alpnselect, NULL);
  }
  lua_pop(L, 1);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                           SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* no SSL_MODE_ENABLE_PARTIAL_WRITE: our BIO takes every record, so an
     SSL_write always completes, all its records in one call */
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if ((n = ctx_setkeys(L, ctx, &o)) != 0 || (n = ctx_settrust(L, ctx, &o)) != 0)
    return n;
  ERR_clear_error();
  c->ctx = ctx;
  return 1;
}


/* context:info(): the options as made (mode, verify, check_hostname) */
static int ctx_info (lua_State *L) {
  nsTlsCtx *c = ns_tls_checkctx(L, 1);
  nsCtxData *d = ns_tls_ctxdata(c->ctx);
  lua_createtable(L, 0, 7);
  lua_pushboolean(L, d->ragged);
  lua_setfield(L, -2, "suppress_ragged_eofs");
  lua_pushinteger(L, (lua_Integer)SSL_CTX_sess_number(c->ctx));
  lua_setfield(L, -2, "sessions");
  lua_pushinteger(L, d->server ? (lua_Integer)SSL_CTX_sess_get_cache_size(c->ctx) : 0);
  lua_setfield(L, -2, "session_cache_size");
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


/*
** The Lua side of SNI, run under lua_pcall (a table's __index, the
** function, a memory error may raise; none of it may unwind through
** OpenSSL's frames): 1 the context userdata, 2 the name as a light
** userdata. Returns the chosen server context as a light userdata, or
** nothing. Inside a task, lua_pcall makes a yield an error.
*/
static int snilookup (lua_State *L) {
  nsTlsCtx *c;
  const char *name = *(const char **)lua_touserdata(L, 2);
  lua_settop(L, 1);
  lua_pushstring(L, name);                 /* 2 */
  lua_getiuservalue(L, 1, 1);              /* 3 */
  lua_pushvalue(L, 2);
  if (lua_istable(L, 3)) lua_gettable(L, 3);   /* __index honoured */
  else if (lua_isfunction(L, 3)) lua_call(L, 1, 1);
  else return 0;
  c = (nsTlsCtx *)luaL_testudata(L, -1, NS_TLSCTX);
  if (c == NULL || c->ctx == NULL || !ns_tls_ctxdata(c->ctx)->server)
    return 0;
  lua_pushlightuserdata(L, c->ctx);
  return 1;
}


/*
** SNI on a server: the context's sni table or function picks the
** context for the name the client sent; no name, or none found, keeps
** the default one. A lookup that raises (or yields) aborts this
** handshake alone, its message in ns_tls_snimsg: no error unwinds
** through OpenSSL. Only calls that cannot raise happen outside the
** pcall.
*/
int ns_tls_snicb (SSL *ssl, int *alert, void *arg) {
  nsTls *t = (nsTls *)SSL_get_ex_data(ssl, ns_tls_sslindex);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  lua_State *L;
  SSL_CTX *ctx = NULL;
  int top;
  (void)arg;
  if (name == NULL || t == NULL || t->L == NULL) return SSL_TLSEXT_ERR_OK;
  L = t->L;
  top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) return SSL_TLSEXT_ERR_ALERT_FATAL;
  lua_pushcfunction(L, snilookup);   /* a light C function: no allocation */
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ctxref);
  lua_pushlightuserdata(L, &name);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    snprintf(ns_tls_snimsg, sizeof ns_tls_snimsg, "handshake: the sni "
             "lookup for '%s' raised: %s", name,
             lua_type(L, -1) == LUA_TSTRING
             ? lua_tostring(L, -1) : "(an error object that is no string)");
    t->snifail = 1;
    lua_settop(L, top);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (lua_islightuserdata(L, -1)) ctx = (SSL_CTX *)lua_touserdata(L, -1);
  lua_settop(L, top);
  if (ctx != NULL) {
    SSL_set_SSL_CTX(ssl, ctx);
    /* the new context's verify mode and trust apply from here */
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), NULL);
  }
  return SSL_TLSEXT_ERR_OK;
}

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


/* the SSL ex_data indexes, the context and session classes */
void ns_tls_ctxopen (lua_State *L) {
  if (ns_tls_ctxindex < 0)
    ns_tls_ctxindex = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, freectxdata);
  if (ns_tls_sslindex < 0)
    ns_tls_sslindex = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  ns_newclass(L, NS_TLSCTX, ctx_meta, ctx_methods, 0);
  lua_pop(L, 1);
  ns_newclass(L, NS_TLSSESSION, sess_meta, sess_methods, 0);
  lua_pop(L, 1);
}

#else

/* without OpenSSL: nothing (ISO C wants a declaration in every file) */
typedef int ns_tlsctx_absent;

#endif
