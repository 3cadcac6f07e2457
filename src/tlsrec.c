/*
** tlsrec.c: the TLS record layer under io.c: our BIO over the socket's
** descriptor and buffers, ns_tls_fill, ns_tls_write, ns_tls_flush,
** ns_tls_events, ns_tls_free, the handshake's steps
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

/* {====== The BIO: our descriptor, our buffers ====== */



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

static int biometh_gc (lua_State *L) {
  BIO_METHOD **pm = (BIO_METHOD **)lua_touserdata(L, 1);
  if (*pm != NULL) {
    BIO_meth_free(*pm);
    *pm = NULL;
  }
  return 0;
}


BIO_METHOD *ns_tls_getbiometh (lua_State *L) {
  BIO_METHOD *m;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_TLSBIOMETH);
  m = *(BIO_METHOD **)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return m;
}


BIO_METHOD *ns_tls_makebiometh (void) {
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
int ns_tls_flushout (nsSocket *s) {
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
void ns_tls_setflags (lua_State *L, nsSocket *s) {
  s->tls->ioflags = L != NULL ? ns_callflags(L, s, NS_READ, -1.0)
                               : MSG_DONTWAIT;  /* timed: poll (wait.c) */
  s->tls->callL = L;
  s->tls->want = 0;   /* a failure of this call sets it again */
}


int ns_tls_flush (lua_State *L, nsSocket *s) {
  ns_tls_setflags(L, s);
  return ns_tls_flushout(s);
}

/* }====== */


/* {====== Operations ====== */

int ns_tls_handshake_step (lua_State *L, nsSocket *s);

/*
** OpenSSL's reasons for a record that is no TLS at all: the peer speaks
** plaintext (an HTTP or SMTP greeting, a request on the wrong port)
*/
static int plaintextreason (int reason) {
  return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
         reason == SSL_R_HTTPS_PROXY_REQUEST || reason == SSL_R_UNKNOWN_PROTOCOL ||
         reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
         reason == SSL_R_RECORD_LENGTH_MISMATCH;
}


/*
** The peer closed without close_notify: tls_eof, or, after the
** handshake on a context with suppress_ragged_eofs, the end of stream
** (0, as for close_notify).
*/
static int ragged (nsTls *t) {
  nsCtxData *d = ns_tls_ctxdata(SSL_get_SSL_CTX(t->ssl));
  ERR_clear_error();
  if (t->done && d != NULL && d->ragged) {
    t->shut = 1;
    return 0;
  }
  ns_tls_setmsg(NULL, "connection closed without close_notify (the data "
                "may be cut short)");
  return NS_ETLSEOF;
}


/*
** The outcome of a failed SSL_* call 'r' as errno (the caller returns
** -1): EAGAIN with t->want set, 0 for close_notify (the caller treats
** it as end of stream), or a code for ns_fail with tlsmsg filled.
*/
int ns_tls_sslerror (nsTls *t, int r, const char *what) {
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
      ns_tls_verifymsg(vr);
      ERR_clear_error();
      return NS_ETLSVERIFY;
    }
    if (ERR_GET_LIB(q) == ERR_LIB_SSL && plaintextreason(ERR_GET_REASON(q))) {
      ns_tls_setmsg(NULL, "the peer does not speak TLS: what it sent is no "
                    "TLS record (plaintext? a port for plain connections?)");
      ERR_clear_error();
      return NS_ETLS;
    }
    if (t->eof && (q == 0 ||
                   ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
      return ragged(t);
    return ns_tls_takeerror(what);
  }
  if (t->eof) return ragged(t);
  return ns_tls_takeerror(what);
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
    *err = ns_tls_sslerror(t, r, "recv");
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
  if (!t->done && ns_tls_handshake_step(L, s) < 0) return -1;  /* deferred one */
  ns_tls_setflags(L, s);
  if (t->outhead < t->outtail && ns_tls_flushout(s) < 0)
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
      if (t->outhead < t->outtail) ns_tls_flushout(s);
      return r + (n > 0 ? n : 0);
    }
    err = ns_tls_sslerror(t, r, "recv");
    if (err == 0) return 0;
    if (err == EAGAIN && t->outhead < t->outtail) {
      if (ns_tls_flushout(s) == 0) continue;
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
  if (!t->done && ns_tls_handshake_step(L, s) < 0) return -1;  /* deferred one */
  ns_tls_setflags(L, s);
  if (t->outhead < t->outtail && ns_tls_flushout(s) < 0) return -1;
  if (len == 0) return 0;
  if (len > NS_TLS_WCHUNK) len = NS_TLS_WCHUNK;
  if (t->peek > 0 && !t->shut) peekin(s);
  ERR_clear_error();
  r = SSL_write(t->ssl, data, (int)len);
  if (r > 0) {
    if (t->outhead < t->outtail) ns_tls_flushout(s);  /* try; the rest later */
    return r;
  }
  err = ns_tls_sslerror(t, r, "send");
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


/* the TLS state's memory (the socket no longer points to it) */
void ns_tls_release (lua_State *L, nsTls *t) {
  SSL_free(t->ssl);   /* frees the BIO too */
  if (t->ctxref != LUA_NOREF && L != NULL)
    luaL_unref(L, LUA_REGISTRYINDEX, t->ctxref);
  free(t->in);
  free(t->out);
  free(t->host);
  free(t);
}


/*
** One step of the handshake. Returns 1 once done (and our last flight
** sent; any application data that came with it decrypted into
** s->rbuf), or -1 with errno (EAGAIN: wait for ns_tls_events).
*/
int ns_tls_handshake_step (lua_State *L, nsSocket *s) {
  nsTls *t = s->tls;
  int r;
  if (t->L != NULL) {   /* a read or write from inside its sni lookup */
    ns_tls_setmsg("handshake", "the socket was used from inside its own "
                  "sni lookup");
    errno = NS_ETLS;
    return -1;
  }
  ns_tls_setflags(L, s);
  if (!t->done) {
    t->L = L;
    t->budget = 1;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    t->L = NULL;
    if (t->dead) {   /* closed by a callback meanwhile (ns_tls_free) */
      ns_tls_release(L, t);
      errno = EBADF;
      return -1;
    }
    if (r != 1) {
      int err = ns_tls_sslerror(t, r, "handshake");
      if (t->snifail) {   /* snicb's message, not OpenSSL's */
        memcpy(tlsmsg, ns_tls_snimsg, sizeof tlsmsg);
        err = NS_ETLS;
      }
      if (err == EAGAIN && t->want == NS_READ && t->outhead < t->outtail)
        t->want = NS_WRITE;   /* our flight first */
      if (err == 0) {
        ns_tls_setmsg("handshake", "connection closed during the handshake");
        err = NS_ETLSEOF;
      }
      errno = err;
      return -1;
    }
    t->done = 1;
    t->peek = NS_TLS_PEEKS;
  }
  if (t->outhead < t->outtail && ns_tls_flushout(s) < 0) return -1;
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

/* our BIO's method table, kept in the registry (NS_TLSBIOMETH) */
void ns_tls_bioopen (lua_State *L) {
  BIO_METHOD **pm = (BIO_METHOD **)lua_newuserdatauv(L, sizeof *pm, 0);
  *pm = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, biometh_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  *pm = ns_tls_makebiometh();   /* NULL on ENOMEM: starttls says so */
  lua_setfield(L, LUA_REGISTRYINDEX, NS_TLSBIOMETH);
}

#else

/* without OpenSSL: nothing (ISO C wants a declaration in every file) */
typedef int ns_tlsrec_absent;

#endif
