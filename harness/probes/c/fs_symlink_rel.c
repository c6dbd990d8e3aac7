/* A symlink made inside the writable preopen with a relative target that leads out. */
#include "probe.h"
int main(void) {
    const char *link = join(param("rw"), "link");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), link)));
    try_read("via-link", link);
    return done();
}
