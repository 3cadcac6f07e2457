/*
** buffer.c: the receive buffer a socket shares with its file objects.
*/
#include <stdlib.h>
#include <string.h>

#include "netsock.h"


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
    size_t cap = s->rcap ? s->rcap : s->chunk;
    char *p;
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
  free(s->rbuf);
  s->rbuf = NULL;
  s->rcap = s->rhead = s->rtail = 0;
}


void ns_buf_trim (nsSocket *s) {
  if (s->rbuf != NULL && s->rhead == s->rtail)
    ns_buf_free(s);
}


void ns_buffer_open (lua_State *L) {
  (void)L;
}
