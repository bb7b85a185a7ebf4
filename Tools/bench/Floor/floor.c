// state-floor: the raw system calls of StateCoordinator's protocol and nothing else, as the
// baseline the benchmark compares against in the same run.
//
//   state-floor commit DIR COUNT SIZE DURABILITY [sha256]   (DURABILITY: full | no-dir-sync | none)
//       COUNT times: flock, create temp (O_EXCL), write SIZE bytes, fsync, rename, fsync dir,
//       unlock. Prints "start <ns>", one "l <latency ns>" per commit, "end <ns>" (CLOCK_MONOTONIC).
//       With sha256, each commit also hashes its SIZE bytes (OpenSSL's SHA-256) before writing
//       them: the floor plus the format's own work, a checksum of the state.
//   state-floor redis PORT COUNT
//       What a trading shop often picks for shared state: COUNT `INCR counter` round trips to a
//       Redis server on 127.0.0.1:PORT (the benchmark starts it with appendonly yes, appendfsync
//       always). Prints like commit, then "counter <the last reply>".
//   state-floor sqlite DB COUNT
//       What many would pick instead: SQLite in WAL mode (synchronous=FULL), COUNT read-modify-write
//       increments of one counter, each in BEGIN IMMEDIATE … COMMIT with a busy timeout. Prints like
//       commit.
//   state-floor watch DIR FILE FINAL
//       inotify on DIR; prints "ready", then for each IN_MOVED_TO of FILE reads the file whole and
//       prints "<the header's version> <CLOCK_REALTIME ns when read>", until version FINAL; then
//       "cpu <process CPU ns spent since ready>".
//   state-floor watch-lib DIR FILE FINAL
//       The same through libinotifytools, with StateCoordinator's watch mask and an fstat per read.
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <inotifytools/inotifytools.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int commit(const char *dir, long count, long size, const char *durability, int hash) {
    int full = strcmp(durability, "full") == 0, none = strcmp(durability, "none") == 0;
    char lock_path[4096], state_path[4096], temp_path[4096];
    snprintf(lock_path, sizeof lock_path, "%s/state.lock", dir);
    snprintf(state_path, sizeof state_path, "%s/state.json", dir);
    char *payload = malloc(size);
    memset(payload, 'x', size);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) die("open dir");
    long long *latencies = malloc(sizeof(long long) * (count > 0 ? count : 1));
    long long begin = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < count; i++) {
        long long start = now_ns(CLOCK_MONOTONIC);
        int lock = open(lock_path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (lock < 0 || flock(lock, LOCK_EX) != 0) die("lock");
        snprintf(temp_path, sizeof temp_path, "%s/.state.tmp-%ld-%d", dir, i, getpid());
        int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) die("open temp");
        if (hash) {
            unsigned char digest[SHA256_DIGEST_LENGTH];
            SHA256((const unsigned char *)payload, size, digest);
            payload[0] = 'x' + (digest[0] & 1);  // the digest is used, so the hash is not optimised away
        }
        for (long written = 0; written < size;) {
            ssize_t n = write(fd, payload + written, size - written);
            if (n < 0 && errno != EINTR) die("write");
            if (n > 0) written += n;
        }
        if (!none && fsync(fd) != 0) die("fsync");
        close(fd);
        if (rename(temp_path, state_path) != 0) die("rename");
        if (full && fsync(dirfd) != 0) die("fsync dir");
        flock(lock, LOCK_UN);
        close(lock);
        latencies[i] = now_ns(CLOCK_MONOTONIC) - start;
    }
    long long end = now_ns(CLOCK_MONOTONIC);
    printf("start %lld\n", begin);
    for (long i = 0; i < count; i++) printf("l %lld\n", latencies[i]);
    printf("end %lld\n", end);
    return 0;
}

static long long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Reads the state file whole (with an fstat first when asked, as StateCoordinator does to tell
// versions apart), prints "<the header's version> <CLOCK_REALTIME ns when read>" and returns the
// version.
static long long read_and_report(const char *path, char *buffer, int with_fstat) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open");
    struct stat st;
    if (with_fstat && fstat(fd, &st) != 0) die("fstat");
    ssize_t total = 0, got;
    while ((got = read(fd, buffer + total, (64 << 20) - total)) > 0) total += got;
    close(fd);
    buffer[total < (64 << 20) ? total : total - 1] = 0;
    long long read_at = now_ns(CLOCK_REALTIME);
    char *field = strstr(buffer, "\"version\":");
    long long version = field ? atoll(field + 10) : -1;
    printf("%lld %lld\n", version, read_at);
    return version;
}

static int watch(const char *dir, const char *file, long long final) {
    int in = inotify_init1(IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, dir, IN_MOVED_TO) < 0) die("inotify");
    printf("ready\n");
    fflush(stdout);
    long long cpu_at_ready = cpu_ns();
    char events[65536], path[4096], *buffer = malloc(64 << 20);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    for (long long version = -1; version < final;) {
        ssize_t n = read(in, events, sizeof events);
        if (n <= 0) die("read inotify");
        for (char *p = events; p < events + n;) {
            struct inotify_event *event = (struct inotify_event *)p;
            p += sizeof *event + event->len;
            if (event->len == 0 || strcmp(event->name, file) != 0) continue;
            version = read_and_report(path, buffer, 0);
        }
    }
    printf("cpu %lld\n", cpu_ns() - cpu_at_ready);
    return 0;
}

// The same as watch, but through libinotifytools with StateCoordinator's directory mask, and
// with the fstat StateCoordinator uses to tell versions apart: what the mandated mechanism costs
// without any Swift.
static int watch_lib(const char *dir, const char *file, long long final) {
    if (!inotifytools_initialize()) die("inotifytools_initialize");
    if (!inotifytools_watch_file(dir, IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF |
                                          IN_MOVE_SELF | IN_ONLYDIR)) die("inotifytools_watch_file");
    printf("ready\n");
    fflush(stdout);
    long long cpu_at_ready = cpu_ns();
    char path[4096], *buffer = malloc(64 << 20);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    for (long long version = -1; version < final;) {
        struct inotify_event *event = inotifytools_next_event(-1);
        if (!event) die("inotifytools_next_event");
        if (event->len == 0 || strcmp(event->name, file) != 0) continue;
        version = read_and_report(path, buffer, 1);
    }
    printf("cpu %lld\n", cpu_ns() - cpu_at_ready);
    return 0;
}

static void check(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static int sqlite(const char *path, long count) {
    sqlite3 *db;
    check(NULL, sqlite3_open(path, &db), "open");
    sqlite3_busy_timeout(db, 60000);
    check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", 0, 0, 0), "pragma");
    check(db, sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS state(id INTEGER PRIMARY KEY, counter INTEGER);"
                               "INSERT OR IGNORE INTO state VALUES (1, 0);", 0, 0, 0), "create");
    sqlite3_stmt *read, *write;
    check(db, sqlite3_prepare_v2(db, "SELECT counter FROM state WHERE id = 1", -1, &read, 0), "prepare");
    check(db, sqlite3_prepare_v2(db, "UPDATE state SET counter = ? WHERE id = 1", -1, &write, 0), "prepare");
    long long *latencies = malloc(sizeof(long long) * (count > 0 ? count : 1));
    long long begin = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < count; i++) {
        long long start = now_ns(CLOCK_MONOTONIC);
        check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), "begin");
        check(db, sqlite3_step(read), "select");
        long long counter = sqlite3_column_int64(read, 0);
        sqlite3_reset(read);
        sqlite3_bind_int64(write, 1, counter + 1);
        check(db, sqlite3_step(write), "update");
        sqlite3_reset(write);
        check(db, sqlite3_exec(db, "COMMIT", 0, 0, 0), "commit");
        latencies[i] = now_ns(CLOCK_MONOTONIC) - start;
    }
    long long end = now_ns(CLOCK_MONOTONIC);
    printf("start %lld\n", begin);
    for (long i = 0; i < count; i++) printf("l %lld\n", latencies[i]);
    printf("end %lld\n", end);
    check(db, sqlite3_step(read), "select");
    printf("counter %lld\n", sqlite3_column_int64(read, 0));
    sqlite3_reset(read);
    sqlite3_finalize(read);
    sqlite3_finalize(write);
    sqlite3_close(db);
    return 0;
}

// Sends the whole buffer; dies on a closed connection.
static void send_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t n = send(fd, bytes, length, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("send");
        bytes += n;
        length -= n;
    }
}

static int redis(int port, long count) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect to redis");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char request[] = "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n";
    long long *latencies = malloc(sizeof(long long) * (count > 0 ? count : 1));
    long long counter = -1;
    char reply[256];
    long long begin = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < count; i++) {
        long long start = now_ns(CLOCK_MONOTONIC);
        send_all(fd, request, sizeof request - 1);
        // One reply per request, ":<integer>\r\n" (or "-ERR …\r\n"): read up to its line feed.
        size_t got = 0;
        while (got == 0 || reply[got - 1] != '\n') {
            ssize_t n = recv(fd, reply + got, sizeof reply - 1 - got, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) die("recv from redis");
            got += n;
            if (got >= sizeof reply - 1) break;
        }
        reply[got] = 0;
        if (reply[0] != ':') {
            fprintf(stderr, "redis answered: %s", reply);
            exit(1);
        }
        counter = atoll(reply + 1);
        latencies[i] = now_ns(CLOCK_MONOTONIC) - start;
    }
    long long end = now_ns(CLOCK_MONOTONIC);
    printf("start %lld\n", begin);
    for (long i = 0; i < count; i++) printf("l %lld\n", latencies[i]);
    printf("end %lld\n", end);
    printf("counter %lld\n", counter);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 6 || (argc == 7 && strcmp(argv[6], "sha256") == 0)) && strcmp(argv[1], "commit") == 0)
        return commit(argv[2], atol(argv[3]), atol(argv[4]), argv[5], argc == 7);
    if (argc == 4 && strcmp(argv[1], "redis") == 0) return redis(atoi(argv[2]), atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "sqlite") == 0) return sqlite(argv[2], atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "watch") == 0) return watch(argv[2], argv[3], atoll(argv[4]));
    if (argc == 5 && strcmp(argv[1], "watch-lib") == 0) return watch_lib(argv[2], argv[3], atoll(argv[4]));
    fprintf(stderr, "usage: state-floor commit DIR COUNT SIZE DURABILITY [sha256] | redis PORT COUNT | sqlite DB COUNT | watch DIR FILE FINAL | watch-lib DIR FILE FINAL\n");
    return 2;
}
