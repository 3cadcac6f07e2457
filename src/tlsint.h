/*
** tlsint.h: what the three files of netsock.tls share (tlsctx.c the
** contexts and sessions, tlsrec.c the record layer under io.c, tls.c
** s:starttls and the TLS methods); only they include it. Built with
** NS_HAVE_TLS only.
*/
#ifndef netsock_tlsint_h
#define netsock_tlsint_h

#include <openssl/ssl.h>

#include "netsock.h"

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

#define NS_TLSBIOMETH "netsock.tls.biomethod"

/*
** The message of the last TLS failure: the failing code paths fill it
** and return errno NS_ETLS, NS_ETLSVERIFY or NS_ETLSEOF (values no
** system errno takes); ns_fail (errors.c, which owns the buffer) reads
** it. One buffer suffices: Lua runs one call at a time and ns_fail
** reads it before anything else can fail.
*/
#define tlsmsg  ns_reason
/* why the sni lookup failed (snicb writes it inside OpenSSL, the
   handshake step hands it on once OpenSSL has returned) */
NS_API char ns_tls_snimsg[NS_REASONSIZE];


/*
** What the SSL_CTX's callbacks need, owned by the SSL_CTX through
** ex_data (freed with it), so a context switched to by SNI stays whole
** however long the Lua object lives.
*/
typedef struct nsCtxData {
  int server;
  int verify;           /* client: check the peer's chain */
  int check_hostname;   /* client: and its name */
  int ragged;           /* suppress_ragged_eofs: no close_notify is an end */
  unsigned char *alpn;  /* wire format, or NULL */
  unsigned int alpnlen;
} nsCtxData;

/* the most sessions a server context keeps for session-ID resumption */
#if !defined(NS_TLS_SESSCACHE)
#define NS_TLS_SESSCACHE  1024
#endif

typedef struct nsTlsCtx {
  SSL_CTX *ctx;
} nsTlsCtx;

typedef struct nsSession { SSL_SESSION *sess; } nsSession;

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
  int snifail;          /* the sni lookup raised: ns_tls_snimsg says how */
  int dead;             /* freed from a callback: handshake_step frees it */
};

/* EINTR: retried, but for the lua5.4 prompt's Ctrl-C (ns_retry) */
#define TLS_RETRY(t)  ns_retry((t)->callL)

/* SSL_CTX ex_data index of nsCtxData, SSL ex_data index of nsTls */
NS_API int ns_tls_ctxindex;
NS_API int ns_tls_sslindex;

/* tlsctx.c: failures' messages (ns_reason), contexts, the SNI callback */
NS_API void ns_tls_setmsg (const char *prefix, const char *reason);
NS_API int ns_tls_takeerror (const char *prefix);
NS_API void ns_tls_verifymsg (long vr);
NS_API int ns_tls_pushfail (lua_State *L, int code);
NS_API nsCtxData *ns_tls_ctxdata (const SSL_CTX *ctx);
NS_API nsTlsCtx *ns_tls_checkctx (lua_State *L, int idx);
NS_API unsigned char *ns_tls_alpnwire (lua_State *L, int idx,
                                       unsigned int *len, const char *fname,
                                       int arg);
NS_API int ns_tls_snicb (SSL *ssl, int *alert, void *arg);
NS_API int ns_tls_context (lua_State *L);
NS_API void ns_tls_ctxopen (lua_State *L);
/* tlsrec.c: the BIO and the record layer's steps */
NS_API BIO_METHOD *ns_tls_getbiometh (lua_State *L);
NS_API BIO_METHOD *ns_tls_makebiometh (void);
NS_API int ns_tls_flushout (nsSocket *s);
NS_API void ns_tls_setflags (lua_State *L, nsSocket *s);
NS_API int ns_tls_sslerror (nsTls *t, int r, const char *what);
NS_API int ns_tls_handshake_step (lua_State *L, nsSocket *s);
NS_API void ns_tls_release (lua_State *L, nsTls *t);
NS_API void ns_tls_bioopen (lua_State *L);

#endif
