/* An absolute host path to the secret (with `/./`, `//` variants drawn by Hypothesis). */
#include "probe.h"
int main(void) {
    try_read("absolute", param("path"));
    return done();
}
