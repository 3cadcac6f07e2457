/*
** dgram.c: (to be written)
*/
#include "netsock.h"


void ns_dgram_open (lua_State *L) {
  (void)L;
}
