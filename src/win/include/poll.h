/* <poll.h> on Windows: Winsock, through src/win/posix.h */
#include "../posix.h"
