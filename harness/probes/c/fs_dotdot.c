/* `..` out of the writable preopen: rw + a path (drawn by Hypothesis) that resolves to the
   secret on the host. Under wasm the bytes also go to path_open unmodified, NULs included. */
#include "probe.h"
#include "raw.h"
int main(void) {
    size_t len;
    const char *path = param_len("path", &len);
    int dir = open(param("rw"), O_RDONLY | O_DIRECTORY);
    say("open rw -> %s\n", err(dir));
    try_read_at("dotdot", dir, path);
    raw_read_at("dotdot-raw", dir, path, len);
    return done();
}
