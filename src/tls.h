/*
** tls.h: what the socket's data paths need from tls.c (netsock.tls on
** OpenSSL 3). Without NS_HAVE_TLS every socket has tls == NULL and
** these are never called.
*/
#ifndef netsock_tls_h
#define netsock_tls_h

#include "netsock.h"

/* errno-like codes of TLS failures, beyond every system errno;
   ns_fail turns them into nil, message, "tls" / "tls_verify" /
   "tls_eof" with the message of ns_tls_lastmsg() */
#define NS_ETLS        (1 << 20)
#define NS_ETLSVERIFY  (NS_ETLS + 1)
#define NS_ETLSEOF     (NS_ETLS + 2)
#define ns_istlserr(e) ((e) >= NS_ETLS && (e) <= NS_ETLSEOF)

#if defined(NS_HAVE_TLS)
NS_API const char *ns_tls_lastmsg (void);
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
/* the events a data path waits for: the TLS layer's, else 'ev' */
#define ns_tlsevents(s, ev)  ((s)->tls != NULL ? ns_tls_events(s) : (ev))
#else
#define ns_tls_lastmsg()  ""
#define ns_tlsevents(s, ev)  (ev)
#define ns_tls_unsent(s)  0
#endif

#endif
