/* Looping symlinks (a -> b -> a), then paths through the loop that would lead out. */
#include "probe.h"
int main(void) {
    const char *rw = param("rw");
    say("symlink a -> %s\n", err(symlink("b", join(rw, "a"))));
    say("symlink b -> %s\n", err(symlink("a", join(rw, "b"))));
    try_read("loop", join(rw, "a"));
    try_read("loop-out", join(rw, param("path")));
    try_write("loop-create", join(rw, "a"), O_CREAT, "ESCAPED-CREATE\n");
    return done();
}
