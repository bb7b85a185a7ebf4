#ifndef STATECOORDINATOR_CINOTIFYTOOLS_SHIM_H
#define STATECOORDINATOR_CINOTIFYTOOLS_SHIM_H
#include <inotifytools/inotifytools.h>
#include <sys/inotify.h>
#endif
