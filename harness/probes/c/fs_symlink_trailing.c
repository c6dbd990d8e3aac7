/* Trailing `/`, `//` or `/.` on a symlink to the outside folder: open it as a directory,
   then open the secret relative to that directory. */
#include "probe.h"
int main(void) {
    char path[MAX_VALUE + 64];
    const char *d = join(param("rw"), "d");
    say("symlink(%s) -> %s\n", param("target"), err(symlink(param("target"), d)));
    snprintf(path, sizeof path, "%s%s", d, param("trailing"));
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    say("open(%s, O_DIRECTORY) -> %s\n", path, err(dir));
    if (dir >= 0) try_read_at("at-trailing", dir, "secret.txt");
    snprintf(path, sizeof path, "%s%ssecret.txt", d, param("trailing"));
    try_read("trailing-path", path);
    return done();
}
