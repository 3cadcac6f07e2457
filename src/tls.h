/*
** tls.h: what io.c, the stream transport, needs from tls.c (netsock.tls
** on OpenSSL 3); no other file includes it. Without NS_HAVE_TLS every
** socket has tls == NULL, io.c never takes its TLS branches, and these
** are stand-ins that say ENOTSUP.
*/
#ifndef netsock_tls_h
#define netsock_tls_h

#include "netsock.h"

#if defined(NS_HAVE_TLS)
/* plaintext into s->rbuf: bytes added, 0 at close_notify, -1 + errno */
NS_API ssize_t ns_tls_fill (lua_State *L, nsSocket *s);
/* plaintext out: bytes taken, or -1 + errno (EAGAIN: see ns_tls_events) */
NS_API ssize_t ns_tls_write (lua_State *L, nsSocket *s, const char *data,
                             size_t len);
/* send our buffered ciphertext: 0 when none is left, -1 + errno */
NS_API int ns_tls_flush (lua_State *L, nsSocket *s);
NS_API int ns_tls_unsent (nsSocket *s);
/* NS_READ or NS_WRITE: what a TLS call that got EAGAIN waits for */
NS_API int ns_tls_events (nsSocket *s);
/* release the TLS state; notify: a close_notify that never waits */
NS_API void ns_tls_free (lua_State *L, nsSocket *s, int notify);
/* s:connect(host, port) at stack 1..3: remember host for starttls */
NS_API void ns_tls_remember (lua_State *L);
/* core._tls and the socket methods (the core's table on top) */
NS_API void ns_tls_open (lua_State *L);
#else
#include <errno.h>
#define ns_tls_fill(L,s)  ((void)(L), (void)(s), errno = ENOTSUP, (ssize_t)-1)
#define ns_tls_write(L,s,d,n)  \
  ((void)(L), (void)(s), (void)(d), (void)(n), errno = ENOTSUP, (ssize_t)-1)
#define ns_tls_flush(L,s)  ((void)(L), (void)(s), errno = ENOTSUP, -1)
#define ns_tls_unsent(s)  ((void)(s), 0)
#define ns_tls_events(s)  ((void)(s), NS_READ)
#define ns_tls_free(L,s,notify)  ((void)(L), (void)(s), (void)(notify))
#endif

#endif
