/* Connect to the canary listener on 127.0.0.1 and send a few bytes. */
#include "net.h"
int main(void) {
    const unsigned char loopback[4] = {127, 0, 0, 1};
    connect_send(loopback, (int)param_int("port"), "probe net-connect");
    return done();
}
