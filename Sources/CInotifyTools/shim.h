#ifndef STATECOORDINATOR_CINOTIFYTOOLS_SHIM_H
#define STATECOORDINATOR_CINOTIFYTOOLS_SHIM_H
#include <inotifytools/inotifytools.h>
#include <sys/inotify.h>

/// The name carried by an event (empty for events on the watched directory itself): Swift does
/// not import the flexible array member `name`.
static inline const char *statecoordinator_inotify_event_name(const struct inotify_event *event) {
    return event->len > 0 ? event->name : "";
}
#endif
