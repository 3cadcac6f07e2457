/*
** src/win/netdb_win.c: the netdb lookups of the platform seam on Windows
** (ns_sys_gethostbyname, ns_sys_gethostbyaddr, ns_sys_getservbyname,
** ns_sys_getservbyport, ns_sys_getprotobyname), in the reentrant form
** the core calls (glibc's *_r): Winsock's gethostbyname and friends
** answer in storage of the calling thread, which the next lookup on that
** thread reuses, so the answer is copied into the caller's buffer
** (ERANGE when it does not fit: the caller grows it), as the lookup pool
** hands it to another thread.
*/
#define NS_WIN_IMPL
#include <stdint.h>

#include "netsock.h"

/* room for 'n' bytes in [*p, end) aligned to 'align'; NULL when full */
static char *take (char **p, char *end, size_t n, size_t align) {
  uintptr_t at = ((uintptr_t)*p + (align - 1)) & ~(uintptr_t)(align - 1);
  char *r = (char *)at;
  if (r > end || (size_t)(end - r) < n) return NULL;
  *p = r + n;
  return r;
}


static char *copystr (char **p, char *end, const char *s) {
  size_t n = strlen(s) + 1;
  char *r = take(p, end, n, 1);
  if (r != NULL) memcpy(r, s, n);
  return r;
}


/* a vector of strings (or of 'len'-byte items when len > 0) */
static char **copyvec (char **p, char *end, char **v, size_t len) {
  size_t n = 0, i;
  char **r;
  while (v != NULL && v[n] != NULL) n++;
  if ((r = (char **)take(p, end, (n + 1) * sizeof(char *), sizeof(char *))) == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    if (len > 0) {
      if ((r[i] = take(p, end, len, 8)) == NULL) return NULL;
      memcpy(r[i], v[i], len);
    }
    else if ((r[i] = copystr(p, end, v[i])) == NULL) return NULL;
  }
  r[n] = NULL;
  return r;
}


static int copyhost (const struct hostent *h, struct hostent *he, char *buf,
                     size_t size, struct hostent **res) {
  char *p = buf, *end = buf + size;
  he->h_addrtype = h->h_addrtype;
  he->h_length = h->h_length;
  if ((he->h_name = copystr(&p, end, h->h_name)) == NULL ||
      (he->h_aliases = copyvec(&p, end, h->h_aliases, 0)) == NULL ||
      (he->h_addr_list = copyvec(&p, end, h->h_addr_list,
                                 (size_t)h->h_length)) == NULL)
    return ERANGE;
  *res = he;
  return 0;
}


int ns_sys_gethostbyname (const char *name, struct hostent *he, char *buf,
                          size_t size, struct hostent **res, int *herr) {
  struct hostent *h;
  *res = NULL;
  if (ns_win_startup() < 0) return errno;
  h = gethostbyname(name);  /* Winsock's answer is per thread */
  if (h == NULL) { *herr = WSAGetLastError(); return 0; }
  return copyhost(h, he, buf, size, res);
}


int ns_sys_gethostbyaddr (const void *addr, socklen_t len, int family,
                          struct hostent *he, char *buf, size_t size,
                          struct hostent **res, int *herr) {
  struct hostent *h;
  *res = NULL;
  if (ns_win_startup() < 0) return errno;
  h = gethostbyaddr((const char *)addr, len, family);
  if (h == NULL) { *herr = WSAGetLastError(); return 0; }
  return copyhost(h, he, buf, size, res);
}


static int copyserv (const struct servent *s, struct servent *se, char *buf,
                     size_t size, struct servent **res) {
  char *p = buf, *end = buf + size;
  se->s_port = s->s_port;
  if ((se->s_name = copystr(&p, end, s->s_name)) == NULL ||
      (se->s_proto = copystr(&p, end, s->s_proto)) == NULL ||
      (se->s_aliases = copyvec(&p, end, s->s_aliases, 0)) == NULL)
    return ERANGE;
  *res = se;
  return 0;
}


int ns_sys_getservbyname (const char *name, const char *proto,
                          struct servent *se, char *buf, size_t size,
                          struct servent **res) {
  struct servent *s;
  *res = NULL;
  if (ns_win_startup() < 0) return errno;
  s = getservbyname(name, proto);
  return s == NULL ? 0 : copyserv(s, se, buf, size, res);
}


int ns_sys_getservbyport (int port, const char *proto, struct servent *se,
                          char *buf, size_t size, struct servent **res) {
  struct servent *s;
  *res = NULL;
  if (ns_win_startup() < 0) return errno;
  s = getservbyport(port, proto);
  return s == NULL ? 0 : copyserv(s, se, buf, size, res);
}


int ns_sys_getprotobyname (const char *name, struct protoent *pe, char *buf,
                           size_t size, struct protoent **res) {
  struct protoent *p;
  char *q = buf, *end = buf + size;
  *res = NULL;
  if (ns_win_startup() < 0) return errno;
  if ((p = getprotobyname(name)) == NULL) return 0;
  pe->p_proto = p->p_proto;
  if ((pe->p_name = copystr(&q, end, p->p_name)) == NULL ||
      (pe->p_aliases = copyvec(&q, end, p->p_aliases, 0)) == NULL)
    return ERANGE;
  *res = pe;
  return 0;
}

