/* A symlink to the outside folder (relative or absolute target), then a path through it. */
#include "probe.h"
int main(void) {
    const char *d = join(param("rw"), "d");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), d)));
    try_read("through-dir-link", join(d, "secret.txt"));
    return done();
}
