/* A symlink made inside the writable preopen whose target is the secret's absolute host path. */
#include "probe.h"
int main(void) {
    const char *link = join(param("rw"), "link");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), link)));
    try_read("via-link", link);
    return done();
}
