/* Open files in the writable preopen until refused (at most param max): the runtime or the
   host's descriptor limit must say no before the host runs out. Prints OPENED n and why it stopped. */
#include "probe.h"
int main(void) {
    long max = param_int("max"), n = 0;
    const char *f = join(param("rw"), "payload.txt");
    int fd = 0;
    for (; n < max; n++) {
        fd = open(f, O_RDONLY);
        if (fd < 0) break;
    }
    say("OPENED %ld stop=%s\n", n, fd < 0 ? strerror(errno) : "max");
    return done();
}
