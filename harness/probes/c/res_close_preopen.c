/* Close a preopened directory (or renumber a file onto it), then try paths again. Wasm only. */
#include "probe.h"
#include <wasi/api.h>
int main(void) {
    int pre = (int)param_int("fd");
    if (param_int("renumber")) {
        int f = open(join(param("rw"), "payload.txt"), O_RDONLY);
        say("fd_renumber(%d, preopen %d) -> errno %d\n", f, pre, f >= 0 ? __wasi_fd_renumber(f, pre) : -1);
    } else {
        say("fd_close(preopen %d) -> errno %d\n", pre, __wasi_fd_close(pre));
    }
    __wasi_prestat_t ps;
    say("fd_prestat_get(%d) -> errno %d\n", pre, __wasi_fd_prestat_get(pre, &ps));
    try_read("after-close", join(join(param("rw"), param("out_rel")), "secret.txt"));
    try_read("after-close-abs", param("secret"));
    try_write("after-close-create", join(param("rw"), "new.txt"), O_CREAT, "x\n");
    return done();
}
