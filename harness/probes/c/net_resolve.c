/* Resolve a name (localhost), then connect to the canary listener at what it resolved to. */
#include "net.h"
int main(void) {
    unsigned char ip[4];
    if (resolve(param("name"), ip)) connect_send(ip, (int)param_int("port"), "probe net-resolve");
    return done();
}
