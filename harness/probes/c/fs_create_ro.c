/* Create a file and a folder inside the read-only preopen. */
#include "probe.h"
int main(void) {
    try_write("create", join(param("ro"), param("name")), O_CREAT, "created\n");
    say("mkdir -> %s\n", err(mkdir(join(param("ro"), "newdir"), 0755)));
    return done();
}
