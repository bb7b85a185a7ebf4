// The header's calls are inline, except getrandom's: <sys/random.h> is included here only, where
// it cannot clash with Swift's Glibc module.
#include "CSystemShims.h"

#include <sys/random.h>

long statecoordinator_getrandom(void *buffer, unsigned long length) { return (long)getrandom(buffer, length, 0); }
