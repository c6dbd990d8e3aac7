/* Open a symlink to the outside write target for writing with O_TRUNC. */
#include "probe.h"
int main(void) {
    const char *link = join(param("rw"), "t");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), link)));
    try_write("write-via-link", link, O_TRUNC, "ESCAPED-WRITE\n");
    return done();
}
