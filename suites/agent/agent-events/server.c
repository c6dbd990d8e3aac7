/* agent-events: a small event server (the agent layer: many connections, light work each).
 *
 * Protocol (agent_events.py is the Python form and the reference; both must answer byte for byte alike):
 *   request:  one JSON object per line, exactly the keys "id" (integer 0..2^53-1), "kind" (string)
 *             and "text" (string), e.g. {"id":7,"kind":"message","text":"hello world"}
 *   answer:   one line per request, in order:
 *             {"id":7,"route":"llm","tokens":[...]}   tokens = bpe-tokenize's ids for the text's UTF-8
 *             {"id":null,"error":"bad-utf8"}          the line is not UTF-8
 *             {"id":null,"error":"bad-event"}         not JSON, or not exactly the schema above
 *             {"id":null,"error":"too-long"}          the line is over MAX_LINE bytes; then the
 *                                                     server closes that connection
 *   A last line without "\n" before the client's EOF is still an event; after EOF the server
 *   sends what it owes and closes.
 *
 * One source, two forms: native (a static Linux binary) and wasm32-wasi (WASI preview 1).
 * Both receive an already-listening TCP socket, file descriptor 3 or argv[1]: the harness passes
 * it to the native process; `wasmtime run -S preview2=n -S tcplisten=127.0.0.1:PORT` preopens it
 * for the guest (sock_accept; wasmtime 46 is the last CLI with that legacy preview 1 path, see
 * harness/servers.py). Lines other than the event's are answered "bad-event" without detail,
 * so the two parsers agree on a verdict, not on an error message. One thread, non-blocking sockets, poll() (wasi-libc maps poll()
 * to poll_oneoff). A client that stops reading is not read from while its answers pile up
 * (back-pressure), so it cannot stall the others.
 *
 * The tokenizer is fixtures/bpe-tokenize/main.c itself, included unchanged.
 */
#define _DEFAULT_SOURCE
#define WC_LIBRARY /* wc_io.h: library mode, so the tokenizer brings no main() of its own */
#include "main.c"  /* fixtures/bpe-tokenize: wc_process(), valid_utf8() */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#ifndef __wasi__
#include <signal.h>
#endif

#define MAX_LINE 16384           /* longest request line, without its "\n" */
#define MAX_CONNS 1024
#define READ_CHUNK 16384
#define OUT_HIGH_WATER (256 << 10) /* stop reading a client that owes us this much unread output */
#define MAX_ID 9007199254740991ULL /* 2^53 - 1 */

typedef struct {
    int fd;
    wc_buf in, out;
    size_t out_off; /* bytes of out already sent */
    int eof;        /* the client will send nothing more */
    int closing;    /* send what is owed, then close (too-long) */
} conn;

static conn conns[MAX_CONNS];
static size_t nconns;
static int listen_fd = 3; /* argv[1] overrides: the native form gets whatever number it inherited */

/* ---------------------------------------------------------------- strict JSON for one event */

typedef struct {
    const unsigned char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')) c->p++;
}

static int hex4(cursor *c, unsigned *v) {
    if (c->end - c->p < 4) return 0;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = c->p[i];
        unsigned d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 16;
        if (d == 16) return 0;
        *v = *v << 4 | d;
    }
    c->p += 4;
    return 1;
}

static void put_utf8(wc_buf *b, unsigned cp) {
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = 0xC0 | cp >> 6; u[1] = 0x80 | (cp & 0x3F); n = 2; }
    else if (cp < 0x10000) { u[0] = 0xE0 | cp >> 12; u[1] = 0x80 | (cp >> 6 & 0x3F); u[2] = 0x80 | (cp & 0x3F); n = 3; }
    else { u[0] = 0xF0 | cp >> 18; u[1] = 0x80 | (cp >> 12 & 0x3F); u[2] = 0x80 | (cp >> 6 & 0x3F); u[3] = 0x80 | (cp & 0x3F); n = 4; }
    wc_put(b, u, n);
}

/* A JSON string at c->p (the opening quote), decoded to UTF-8 into out. A lone surrogate is an
 * error (Python would decode it but could not encode it back to UTF-8). The input is valid UTF-8. */
static int parse_string(cursor *c, wc_buf *out) {
    out->len = 0;
    if (c->p >= c->end || *c->p != '"') return 0;
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = *c->p++;
        if (ch == '"') return 1;
        if (ch < 0x20) return 0;
        if (ch != '\\') { wc_put(out, &ch, 1); continue; }
        if (c->p >= c->end) return 0;
        unsigned char e = *c->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            wc_put(out, &decoded[simple - "\"\\/bfnrt"], 1);
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || !hex4(c, &cp)) return 0;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return 0;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u') return 0;
            c->p += 2;
            if (!hex4(c, &lo) || lo < 0xDC00 || lo > 0xDFFF) return 0;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        put_utf8(out, cp);
    }
    return 0;
}

/* An integer id: -?(0|[1-9][0-9]*) with no fraction or exponent (Python would make it a float). */
static int parse_id(cursor *c, unsigned long long *id) {
    int neg = 0;
    if (c->p < c->end && *c->p == '-') { neg = 1; c->p++; }
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
    unsigned long long v = 0;
    int digits = 0;
    if (*c->p == '0') { c->p++; digits = 1; }
    else while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (++digits > 16) return 0;
        v = v * 10 + (unsigned)(*c->p++ - '0');
    }
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return 0;
    if (v > MAX_ID || (neg && v != 0)) return 0;
    *id = v;
    return 1;
}

typedef struct {
    unsigned long long id;
    wc_buf kind, text, key;
} event;

static int parse_event(const unsigned char *line, size_t n, event *ev) {
    cursor c = {line, line + n};
    int seen = 0; /* bit 0 id, 1 kind, 2 text */
    skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{') return 0;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') return 0;
    for (;;) {
        skip_ws(&c);
        if (!parse_string(&c, &ev->key)) return 0;
        skip_ws(&c);
        if (c.p >= c.end || *c.p++ != ':') return 0;
        skip_ws(&c);
        int bit;
        if (ev->key.len == 2 && !memcmp(ev->key.data, "id", 2)) bit = 1;
        else if (ev->key.len == 4 && !memcmp(ev->key.data, "kind", 4)) bit = 2;
        else if (ev->key.len == 4 && !memcmp(ev->key.data, "text", 4)) bit = 4;
        else return 0;
        if (seen & bit) return 0; /* duplicate key */
        seen |= bit;
        if (bit == 1 ? !parse_id(&c, &ev->id) : !parse_string(&c, bit == 2 ? &ev->kind : &ev->text)) return 0;
        skip_ws(&c);
        if (c.p >= c.end) return 0;
        if (*c.p == '}') { c.p++; break; }
        if (*c.p++ != ',') return 0;
    }
    skip_ws(&c);
    return c.p == c.end && seen == 7;
}

static const char *route_of(const wc_buf *kind) {
    static const char *const table[][2] = {
        {"message", "llm"}, {"tool_call", "tools"}, {"tool_result", "llm"}, {"heartbeat", "monitor"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (kind->len == strlen(table[i][0]) && !memcmp(kind->data, table[i][0], kind->len)) return table[i][1];
    return "unrouted";
}

/* ---------------------------------------------------------------- one line in, one line out */

static void answer_error(wc_buf *out, const char *code) {
    wc_printf(out, "{\"id\":null,\"error\":\"%s\"}\n", code);
}

static void answer(const unsigned char *line, size_t n, wc_buf *out) {
    static event ev;
    static wc_buf ids;
    size_t bad;
    if (!valid_utf8(line, n, &bad)) { answer_error(out, "bad-utf8"); return; }
    if (!parse_event(line, n, &ev)) { answer_error(out, "bad-event"); return; }
    ids.len = 0;
    /* the text is valid UTF-8 by construction, so the tokenizer cannot reject it */
    if (wc_process(ev.text.data ? ev.text.data : (const unsigned char *)"", ev.text.len, &ids) != 0) {
        answer_error(out, "bad-event");
        return;
    }
    wc_printf(out, "{\"id\":%llu,\"route\":\"%s\",\"tokens\":[", ev.id, route_of(&ev.kind));
    size_t len = ids.len && ids.data[ids.len - 1] == '\n' ? ids.len - 1 : ids.len; /* "1 2 3\n" -> "1,2,3" */
    for (size_t i = 0; i < len; i++)
        if (ids.data[i] == ' ') ids.data[i] = ',';
    wc_put(out, ids.data, len);
    wc_put(out, "]}\n", 3);
}

/* ---------------------------------------------------------------- connections */

/* Returns 1 if fd is non-blocking afterwards. */
static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return 0;
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return 0;
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static void drop(size_t i) {
    close(conns[i].fd);
    free(conns[i].in.data);
    free(conns[i].out.data);
    conns[i] = conns[--nconns];
}

/* Answer every complete line in the input buffer (and, at EOF, the last partial one). */
static void serve_lines(conn *k) {
    size_t start = 0;
    while (!k->closing) {
        unsigned char *nl = memchr(k->in.data + start, '\n', k->in.len - start);
        size_t n = nl ? (size_t)(nl - (k->in.data + start)) : k->in.len - start;
        if (n > MAX_LINE) { answer_error(&k->out, "too-long"); k->closing = 1; break; }
        if (!nl && !(k->eof && n > 0)) break;
        answer(k->in.data + start, n, &k->out);
        start += nl ? n + 1 : n;
    }
    memmove(k->in.data, k->in.data + start, k->in.len - start);
    k->in.len -= start;
}

/* Returns 0 when the connection is finished (closed by the peer or failed). */
static int on_readable(conn *k) {
    wc_reserve(&k->in, READ_CHUNK);
    ssize_t got = read(k->fd, k->in.data + k->in.len, READ_CHUNK);
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (got == 0) k->eof = 1;
    k->in.len += (size_t)got;
    serve_lines(k);
    return 1;
}

static int on_writable(conn *k) {
    while (k->out_off < k->out.len) {
        ssize_t put = write(k->fd, k->out.data + k->out_off, k->out.len - k->out_off);
        if (put < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        k->out_off += (size_t)put;
    }
    k->out.len = k->out_off = 0;
    return 1;
}

/* Takes the connections waiting in the backlog: all of them when the listening socket is
 * non-blocking (as asyncio does), else the one poll() promised (accept would block after it). */
static void accept_waiting(int listener_nonblocking) {
    for (int taken = 0; nconns < MAX_CONNS && taken < MAX_CONNS; taken++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) return;
        set_nonblocking(fd);
        conns[nconns++] = (conn){.fd = fd};
        if (!listener_nonblocking) return;
    }
}

int main(int argc, char **argv) {
    if (argc > 1) listen_fd = atoi(argv[1]);
#ifndef __wasi__
    signal(SIGPIPE, SIG_IGN);
#endif
    int listener_nonblocking = set_nonblocking(listen_fd);
    static struct pollfd fds[MAX_CONNS + 1];
    for (;;) {
        fds[0] = (struct pollfd){.fd = nconns < MAX_CONNS ? listen_fd : -1, .events = POLLIN};
        for (size_t i = 0; i < nconns; i++) {
            conn *k = &conns[i];
            short want = 0;
            if (!k->eof && !k->closing && k->out.len - k->out_off < OUT_HIGH_WATER) want |= POLLIN;
            if (k->out.len > k->out_off) want |= POLLOUT;
            fds[i + 1] = (struct pollfd){.fd = want ? k->fd : -1, .events = want};
        }
        if (poll(fds, nconns + 1, -1) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "agent-events: poll failed: %s\n", strerror(errno));
            return 1;
        }
        size_t n = nconns; /* connections accepted below are polled next round */
        for (size_t i = n; i-- > 0;) {
            conn *k = &conns[i];
            short ev = fds[i + 1].revents;
            int ok = 1;
            if (ev & (POLLIN | POLLHUP | POLLERR)) ok = fds[i + 1].events & POLLIN ? on_readable(k) : !(ev & POLLERR);
            if (ok && k->out.len > k->out_off) ok = on_writable(k);
            if (!ok || ((k->eof || k->closing) && k->out.len == k->out_off)) drop(i);
        }
        if (fds[0].revents & POLLIN) accept_waiting(listener_nonblocking);
    }
}
