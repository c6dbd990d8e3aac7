/* Hard-link a read-only file into the writable preopen, then write through the new name. */
#include "probe.h"
int main(void) {
    const char *from = join(param("ro"), "data.txt"), *to = join(param("rw"), "hl.txt");
    say("link(%s, %s) -> %s\n", from, to, err(link(from, to)));
    try_write("write-via-hardlink", to, O_APPEND, "ESCAPED-WRITE\n");
    return done();
}
