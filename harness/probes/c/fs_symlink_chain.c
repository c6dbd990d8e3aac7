/* A chain of n symlinks inside the writable preopen whose last link leads out. */
#include "probe.h"
int main(void) {
    long n = param_int("n");
    char name[64], next[64];
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "l%ld", i);
        snprintf(next, sizeof next, "l%ld", i + 1);
        int rc = symlink(i + 1 < n ? next : param("target"), join(param("rw"), name));
        if (rc < 0) say("symlink %ld -> %s\n", i, err(rc));
    }
    try_read("chain", join(param("rw"), "l0"));
    return done();
}
