/*
** buffer.c: the receive buffer, rbuf[rhead..rtail), one per socket and
** shared by s:recv, s:recvfrom, every file object of the socket and
** the TLS record layer: bytes come out once and in order whatever mix
** of calls a script makes, and a timeout or an error midway loses
** nothing. It is allocated on demand and released as soon as it holds
** no unread byte (docs/design.md, "The receive buffer").
*/
#include <stdlib.h>
#include <string.h>

#include "netsock.h"


/*
** Released buffers of the default size wait here for the next fill: a
** task empties its buffer before each wait and fills one after it, and
** glibc serves 64 KiB from the top of the heap and gives it back with
** the free (a trim), which cost more than the recv(2). At most
** NS_BUFCACHE per thread, so idle connections still hold none; per
** thread, so no lock (a fork's child keeps its copy, its own memory).
** The state's close frees them (ns_buf_open).
*/
static NS_THREADLOCAL char *cache[NS_BUFCACHE];
static NS_THREADLOCAL int ncache;

/*
** Make room for at least 'need' bytes after rtail: slide unread bytes
** to the front, then grow. Returns 0 when memory ran out (the buffer
** is unchanged then).
*/
int ns_buf_reserve (nsSocket *s, size_t need) {
  size_t unread = ns_pending(s);
  if (s->rcap - s->rtail >= need)
    return 1;
  if (s->rhead > 0 && s->rcap - unread >= need) {
    memmove(s->rbuf, s->rbuf + s->rhead, unread);
    s->rhead = 0;
    s->rtail = unread;
    return 1;
  }
  else {
    size_t cap = s->rcap ? s->rcap : s->chunk ? s->chunk : NS_BUFSIZE;
    char *p;
    if (s->rbuf == NULL && cap == NS_BUFSIZE && need <= cap && ncache > 0) {
      s->rbuf = cache[--ncache];
      s->rcap = cap;
      s->rhead = s->rtail = 0;
      return 1;
    }
    if (need > ((size_t)-1) / 4 - unread) return 0;  /* cannot double */
    while (cap - unread < need) cap *= 2;
    if (s->rhead > 0) {
      memmove(s->rbuf, s->rbuf + s->rhead, unread);
      s->rhead = 0;
      s->rtail = unread;
    }
    p = (char *)realloc(s->rbuf, cap);
    if (p == NULL) return 0;
    s->rbuf = p;
    s->rcap = cap;
    return 1;
  }
}


void ns_buf_free (nsSocket *s) {
  if (s->rbuf != NULL && s->rcap == NS_BUFSIZE && ncache < NS_BUFCACHE)
    cache[ncache++] = s->rbuf;
  else
    free(s->rbuf);
  s->rbuf = NULL;
  s->rcap = s->rhead = s->rtail = 0;
}


/*
** Drop 'n' bytes from the front of the unread bytes. An emptied buffer
** is released at once: a socket holds a receive buffer only while it
** holds unread bytes (or a read is filling it), so idle sockets and
** sockets after a burst ("a", a big read(n), a long line) keep none.
** (malloc of one refill is cheap next to the recv(2) that follows.)
*/
void ns_buf_consume (nsSocket *s, size_t n) {
  s->rhead += n;
  if (s->rhead == s->rtail)
    ns_buf_free(s);
}


/*
** Push the first 'size' unread bytes (all when fewer) and drop them
** unless 'peek': the read-ahead a file object left, taken by recv and
** recvfrom before any system call.
*/
void ns_buf_take (lua_State *L, nsSocket *s, size_t size, int peek) {
  size_t m = ns_pending(s) < size ? ns_pending(s) : size;
  lua_pushlstring(L, s->rbuf + s->rhead, m);
  if (!peek) ns_buf_consume(s, m);
}


/* {====== The cache's end ====== */

static int drain (lua_State *L) {
  (void)L;
  while (ncache > 0) free(cache[--ncache]);
  return 0;
}


/*
** A userdata in the registry whose __gc frees the cached buffers: the
** last object of the state to be finalized (made when the module
** loads, before any socket), so the sockets closed by lua_close have
** put theirs back by then.
*/
void ns_buf_open (lua_State *L) {
  ns_atclose(L, "netsock.bufcache", drain);
}

/* }====== */
