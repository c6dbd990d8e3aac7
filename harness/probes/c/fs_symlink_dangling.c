/* A dangling symlink whose target (outside) does not exist yet: create a file through it. */
#include "probe.h"
int main(void) {
    const char *link = join(param("rw"), "dangling");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), link)));
    try_write("create-via-dangling", link, O_CREAT, "ESCAPED-CREATE\n");
    return done();
}
