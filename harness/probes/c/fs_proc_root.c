/* /proc/1/root: init's view of the root filesystem, then the secret beneath it. */
#include "probe.h"
int main(void) {
    char path[MAX_VALUE + 64];
    snprintf(path, sizeof path, "%s%s", param("prefix"), param("secret"));
    try_read("proc-root", path);
    return done();
}
