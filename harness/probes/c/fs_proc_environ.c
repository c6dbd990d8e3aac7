/* /proc/self/environ (or a variant): the process environment, canary variable included. */
#include "probe.h"
int main(void) {
    try_read("environ", param("path"));
    return done();
}
