/* The capability conformance guest: one behaviour per command read from stdin, so each
 * declared runtime capability can be checked against what the runtime does.
 *   exit          print "hello" and exit 3 (output and exit code pass through untouched)
 *   trap          execute `unreachable` (the runtime must report a trap)
 *   loop          spin forever (a declared deadline or fuel must stop it)
 *   grow N        grow memory one page at a time up to N pages; print "PAGES n"
 *   write PATH    create PATH and write one byte; print "OK" or "ERR errno"
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char line[512] = {0};
    if (!fgets(line, sizeof line, stdin)) return 2;
    line[strcspn(line, "\n")] = 0;
    if (strcmp(line, "exit") == 0) {
        printf("hello\n");
        fflush(stdout);
        exit(3);
    }
    if (strcmp(line, "trap") == 0) __builtin_trap();
    if (strcmp(line, "loop") == 0) {
        volatile unsigned long n = 0;
        for (;;) n++;
    }
    if (strncmp(line, "grow ", 5) == 0) {
        long want = atol(line + 5);
        long pages = (long)__builtin_wasm_memory_size(0);
        while (pages < want && __builtin_wasm_memory_grow(0, 1) != (size_t)-1) pages++;
        printf("PAGES %ld\n", (long)__builtin_wasm_memory_size(0));
        return 0;
    }
    if (strncmp(line, "write ", 6) == 0) {
        FILE *f = fopen(line + 6, "w");
        if (!f) {
            printf("ERR %d\n", errno);
            return 1;
        }
        int ok = fputs("x", f) >= 0;
        ok = (fclose(f) == 0) && ok;
        printf(ok ? "OK\n" : "ERR %d\n", errno);
        return ok ? 0 : 1;
    }
    return 2;
}
