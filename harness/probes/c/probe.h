/* Shared by every C probe guest: parameters from stdin, unbuffered reporting.

   The harness writes one parameter a line on stdin, `key=HEX` (the value hex-encoded so a
   path may hold any byte, NUL included). The same source builds natively (the positive
   control, with real host paths) and for wasm32-wasi (with the guest paths of the preopens).
   A probe prints what it tried and what came back; whatever it manages to read is printed
   raw, so a canary token it reached shows in its output. It ends with PROBE-DONE. */
#ifndef WC_PROBE_H
#define WC_PROBE_H
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PARAMS 32
#define MAX_VALUE 8192

static struct { char key[32]; char value[MAX_VALUE]; size_t len; } params[MAX_PARAMS];
static int n_params;

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void load_params(void) {
    static char line[2 * MAX_VALUE + 64];
    setvbuf(stdout, NULL, _IONBF, 0);
    while (n_params < MAX_PARAMS && fgets(line, sizeof line, stdin)) {
        char *eq = strchr(line, '=');
        if (!eq || (size_t)(eq - line) >= sizeof params[0].key) continue;
        memcpy(params[n_params].key, line, (size_t)(eq - line));
        size_t n = 0;
        for (char *h = eq + 1; hexval(h[0]) >= 0 && hexval(h[1]) >= 0 && n < MAX_VALUE - 1; h += 2)
            params[n_params].value[n++] = (char)(hexval(h[0]) * 16 + hexval(h[1]));
        params[n_params].len = n;
        n_params++;
    }
}

/* The value of `key` (NUL-terminated; *len gets its real length, which may hold NULs). */
static const char *param_len(const char *key, size_t *len) {
    if (!n_params) load_params();
    for (int i = 0; i < n_params; i++)
        if (strcmp(params[i].key, key) == 0) {
            if (len) *len = params[i].len;
            return params[i].value;
        }
    printf("missing parameter %s\n", key);
    exit(3);
}

static const char *param(const char *key) { return param_len(key, NULL); }
static long param_int(const char *key) { return strtol(param(key), NULL, 0); }

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static const char *err(int rc) { return rc < 0 ? strerror(errno) : "ok"; }

/* Print whatever `fd` yields (a canary token shows up in the output this way). */
static void dump_fd(const char *label, int fd) {
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    say("%s: read %ld bytes: ", label, (long)n);
    if (n > 0) fwrite(buf, 1, (size_t)n, stdout);
    say("\n");
}

/* open(path) for reading and print what it holds; returns 1 if it could be read. */
static int try_read(const char *label, const char *path) {
    int fd = open(path, O_RDONLY);
    say("%s: open(%s) -> %s\n", label, path, err(fd));
    if (fd < 0) return 0;
    dump_fd(label, fd);
    close(fd);
    return 1;
}

/* openat(dirfd, path) for reading and print what it holds. */
static int try_read_at(const char *label, int dirfd, const char *path) {
    int fd = openat(dirfd, path, O_RDONLY);
    say("%s: openat(%s) -> %s\n", label, path, err(fd));
    if (fd < 0) return 0;
    dump_fd(label, fd);
    close(fd);
    return 1;
}

/* Write `text` to path with extra open flags; returns 1 on success. */
static int try_write(const char *label, const char *path, int flags, const char *text) {
    int fd = open(path, O_WRONLY | flags, 0644);
    say("%s: open(%s, write) -> %s\n", label, path, err(fd));
    if (fd < 0) return 0;
    ssize_t n = write(fd, text, strlen(text));
    say("%s: write -> %ld\n", label, (long)n);
    close(fd);
    return n > 0;
}

static char *join(const char *a, const char *b) {
    static char buf[4][MAX_VALUE + 256];
    static int next;
    char *out = buf[next++ & 3];
    snprintf(out, sizeof buf[0], "%s/%s", a, b);
    return out;
}

static int done(void) {
    say("PROBE-DONE\n");
    return 0;
}

#endif
