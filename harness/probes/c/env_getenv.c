/* Read the canary variable, then print every variable the guest can see. */
#include "probe.h"
extern char **environ;
int main(void) {
    const char *v = getenv(param("envname"));
    say("getenv -> %s\n", v ? v : "(unset)");
    for (char **e = environ; e && *e; e++) say("env: %s\n", *e);
    return done();
}
