/* wc-maxrss REPORT_FILE PROGRAM [ARG...]: run PROGRAM, write its ru_maxrss (KiB) to REPORT_FILE,
   pass its stdio and exit status through. See harness/bench/memory.py for why. */
#define _GNU_SOURCE  /* fork, execvp, wait4 under -std=c11 */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: wc-maxrss REPORT_FILE PROGRAM [ARG...]\n"); return 125; }
    pid_t pid = fork();
    if (pid < 0) { perror("wc-maxrss: fork"); return 125; }
    if (pid == 0) { execvp(argv[2], argv + 2); perror("wc-maxrss: exec"); _exit(127); }
    int status; struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("wc-maxrss: wait4"); return 125; }
    FILE *f = fopen(argv[1], "w");
    if (f) { fprintf(f, "%ld\n", ru.ru_maxrss); fclose(f); }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) { signal(WTERMSIG(status), SIG_DFL); kill(getpid(), WTERMSIG(status)); }
    return 125;
}
