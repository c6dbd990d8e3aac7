/* Move a file out of the read-only preopen into the writable one. */
#include "probe.h"
int main(void) {
    const char *from = join(param("ro"), "data.txt"), *to = join(param("rw"), "stolen.txt");
    say("rename(%s, %s) -> %s\n", from, to, err(rename(from, to)));
    return done();
}
