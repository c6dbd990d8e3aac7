/* path_open with an explicit length, so a path holding NUL reaches the runtime as it is
   (wasi-libc would stop at the first NUL). Natively there is no such call: openat again. */
#ifndef WC_RAW_H
#define WC_RAW_H
#include "probe.h"
#ifdef __wasi__
#include <wasi/api.h>
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open")))
int32_t wc_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
                     int64_t rights_base, int64_t rights_inh, int32_t fdflags, int32_t out_fd);
static void raw_read_at(const char *label, int dir, const char *path, size_t len) {
    int32_t fd = -1;
    int32_t rc = wc_path_open(dir, 1, (int32_t)(uintptr_t)path, (int32_t)len, 0, (1 << 30) - 1, (1 << 30) - 1, 0, (int32_t)(uintptr_t)&fd);
    say("%s: path_open(%lu bytes) -> errno %d\n", label, (unsigned long)len, rc);
    if (rc == 0) { dump_fd(label, fd); close(fd); }
}
#else
static void raw_read_at(const char *label, int dir, const char *path, size_t len) {
    (void)len;
    try_read_at(label, dir, path);
}
#endif
#endif
