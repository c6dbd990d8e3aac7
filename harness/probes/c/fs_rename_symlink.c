/* rename() a file from the writable preopen into a symlinked outside folder (with `/` or `//`). */
#include "probe.h"
int main(void) {
    char to[MAX_VALUE + 64];
    const char *d = join(param("rw"), "d");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), d)));
    snprintf(to, sizeof to, "%s%smoved.txt", d, param("trailing"));
    say("rename(payload, %s) -> %s\n", to, err(rename(join(param("rw"), "payload.txt"), to)));
    return done();
}
