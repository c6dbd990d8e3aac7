/* O_TRUNC (write-only or read-write) on a file in the read-only preopen. */
#include "probe.h"
int main(void) {
    const char *f = join(param("ro"), "data.txt");
    int fd = open(f, (param_int("rdwr") ? O_RDWR : O_WRONLY) | O_TRUNC);
    say("open(%s, O_TRUNC) -> %s\n", f, err(fd));
    if (fd >= 0) { say("write -> %ld\n", (long)write(fd, "X", 1)); close(fd); }
    return done();
}
