/* Connect to the canary listener on 127.0.0.1 through Wasmer's WASIX sockets and send a few bytes. */
#define WC_WASIX
#include "net.h"
int main(void) {
    const unsigned char loopback[4] = {127, 0, 0, 1};
    connect_send(loopback, (int)param_int("port"), "probe net-connect-wasix");
    return done();
}
