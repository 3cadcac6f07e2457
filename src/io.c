/*
** io.c: the transport of a stream socket, the one file under the data
** paths that knows TLS exists. A socket is plain (bytes go to the
** descriptor as they are) or TLS (tls.c: records); each operation is a
** short switch on which, in the shape of cqueues' so_read/so_write and
** libuv's enum-and-switch (two transports: no table of function
** pointers):
**
**   ns_io_fill     receive into the socket's buffer (s->rbuf)
**   ns_io_send     send bytes, as many as the transport takes now
**   ns_io_flush    send what the transport itself still holds
**   ns_io_unsent   whether it holds any
**   ns_io_events   what a call that got EAGAIN waits for
**   ns_io_sendnow  send without waiting and without Lua (a __gc)
**   ns_io_release  the transport's state goes (close, detach)
**   ns_io_connecting  s:connect's host, which TLS checks by default
**
** ns_io_send, ns_io_flush, ns_io_unsent and ns_io_events take the
** plain case inline (netsock.h), as ns_callflags does: a round trip
** pays no call for it.
** socket.c, file.c, sendfile.c and select.c call these and never look
** at s->tls; ns_io_plain(s) (netsock.h) says whether the bytes are the
** descriptor's own (recv's flags, sendfile(2) and the C stack buffer
** apply only then). Failures are -1 with errno; a TLS failure's errno
** is one of NS_ETLS* with its message left in errors.c's ns_reason.
*/
#include <errno.h>
#include <sys/socket.h>

#include "netsock.h"
#include "tls.h"


/*
** Receive into s->rbuf after making room for 'want' bytes, for a call
** with that deadline. Plain: one recv(2) of at most 'want' bytes; TLS:
** every whole record that has come, decrypted ('want' only reserves;
** 0: what the transport needs). Returns the bytes added, 0 at the end
** of the stream, or -1 with errno (EINTR only for the lua5.4 prompt's
** Ctrl-C; ENOMEM when the buffer cannot grow; EAGAIN without a system
** call after a short read in a task: ns_readskip). A failed fill leaves no
** empty buffer behind (a waiting socket keeps none).
*/
ssize_t ns_io_fill (lua_State *L, nsSocket *s, size_t want, double deadline) {
  ssize_t n;
  if (ns_io_plain(s) && ns_readskip(L, s, deadline))
    return -1;  /* a short read emptied the queue: wait (EAGAIN) */
  if (!ns_buf_reserve(s, want)) {
    errno = ENOMEM;
    return -1;
  }
  switch (ns_io_plain(s)) {
    case 1:
      do n = recv(s->fd, s->rbuf + s->rtail, want,
                  ns_callflags(L, s, NS_READ, deadline));
      while (n < 0 && ns_retry(L));
      if (n > 0) s->rtail += (size_t)n;
      ns_readshort(L, s, n, want);
      break;
    default:
      n = ns_tls_fill(L, s);
      break;
  }
  if (n < 0) {
    int err = errno;
    ns_buf_trim(s);
    errno = err;
  }
  return n;
}


/*
** Send data[0..len) as far as the transport takes it now: the count
** taken (TLS: it will reach the kernel, by a later call or
** ns_io_flush), or -1 with errno (EAGAIN: wait for ns_io_events).
** 'events' is how the call waits (NS_WRITE, with NS_POLLTIMED for
** s:send on a stream), for ns_callflags.
*/
ssize_t ns_io_send_ (lua_State *L, nsSocket *s, const char *data,
                     size_t len, int events, double deadline) {
  switch (ns_io_plain(s)) {
    case 1:
      return ns_sys_send(s->fd, data, len,
                         ns_callflags(L, s, events, deadline));
    default:
      return ns_tls_write(L, s, data, len);
  }
}


/* send what the transport holds: 0 once nothing is left, -1 + errno */
int ns_io_flush_ (lua_State *L, nsSocket *s) {
  switch (ns_io_plain(s)) {
    case 1: return 0;   /* the kernel has every byte send took */
    default: return ns_tls_flush(L, s);
  }
}


/* whether the transport holds bytes not yet given to the kernel */
int ns_io_unsent_ (nsSocket *s) {
  switch (ns_io_plain(s)) {
    case 1: return 0;
    default: return ns_tls_unsent(s);
  }
}


/*
** What a call that got EAGAIN waits for: 'ev', the direction of the
** call, on a plain socket; on TLS the direction the record layer needs
** (a read may wait to write, a write to read).
*/
int ns_io_events_ (nsSocket *s, int ev) {
  switch (ns_io_plain(s)) {
    case 1: return ev;
    default: return ns_tls_events(s);
  }
}


/*
** A send that never waits and makes no Lua call (a file's __gc): the
** bytes the kernel takes at once on a plain socket; a TLS socket takes
** none (-1, EAGAIN): its records are written by calls that may wait.
*/
ssize_t ns_io_sendnow (nsSocket *s, const char *data, size_t len) {
  switch (ns_io_plain(s)) {
    case 1:
      return ns_sys_send(s->fd, data, len, MSG_DONTWAIT);
    default:
      errno = EAGAIN;
      return -1;
  }
}


/*
** The descriptor leaves the socket (close, __gc: 'notify', a TLS
** close_notify that never waits; detach: the session goes silently).
** No Lua call that may raise or yield.
*/
void ns_io_release (lua_State *L, nsSocket *s, int notify) {
  switch (ns_io_plain(s)) {
    case 1: break;
    default: ns_tls_free(L, s, notify); break;
  }
}


/*
** s:connect(host, port) at stack 1..3 is about to start: the name a
** later s:starttls checks by default (tls.c remembers it).
*/
void ns_io_connecting (lua_State *L) {
#if defined(NS_HAVE_TLS)
  ns_tls_remember(L);
#else
  (void)L;
#endif
}
