/* Network for the probes. Natively: BSD sockets. WASI preview1 has no call that opens a
   socket, so the wasm build imports a runtime's own socket extension, and a runtime that does
   not define it refuses to link the module:
   - by default WasmEdge's (wasi_snapshot_preview1 sock_open, sock_connect, sock_getaddrinfo),
     in its own numbering (thirdparty/wasi/api.hpp: __wasi_address_family_t UNSPEC=0 INET4=1
     INET6=2; __wasi_sock_type_t ANY=0 DGRAM=1 STREAM=2), not POSIX's and not WAMR's: with the
     wrong pair WasmEdge refuses with EINVAL (28) and the probe proves nothing;
   - with WC_WASIX defined, Wasmer's WASIX (module wasix_32v1: sock_open(af, type, proto, fd*),
     sock_connect(fd, __wasi_addr_port_t*), sock_send), in WASIX numbering (Addressfamily
     Inet4=1, Socktype Stream=1, SockProto Tcp=6); the address is {u8 family, u8 pad, u8[18]}
     with the port in its first two bytes, tried in both byte orders (only one reaches the
     listener's port).
   harness/probes/sockabi.py holds the same values; tests/test_sockabi.py checks they agree. */
#ifndef WC_NET_H
#define WC_NET_H
#include "probe.h"
#if defined(__wasi__) && defined(WC_WASIX)
#define WC_IMPORT(name) __attribute__((import_module("wasix_32v1"), import_name(name)))
WC_IMPORT("sock_open") int32_t wc_sock_open(int32_t family, int32_t type, int32_t proto, int32_t out_fd);
WC_IMPORT("sock_connect") int32_t wc_sock_connect(int32_t fd, int32_t addr);
WC_IMPORT("sock_send") int32_t wc_sock_send(int32_t fd, int32_t iovs, int32_t n, int32_t flags, int32_t out_n);
#define WC_WASIX_AF_INET4 1
#define WC_WASIX_SOCK_STREAM 1
#define WC_WASIX_PROTO_TCP 6
struct wc_addr_port { uint8_t family, pad, octs[18]; };
static int connect_send(const unsigned char ip[4], int port, const char *msg) {
    for (int swap = 0; swap < 2; swap++) {
        int32_t fd = -1;
        int32_t rc = wc_sock_open(WC_WASIX_AF_INET4, WC_WASIX_SOCK_STREAM, WC_WASIX_PROTO_TCP, (int32_t)(uintptr_t)&fd);
        say("sock_open -> errno %d\n", rc);
        if (rc) return 0;
        struct wc_addr_port a = {WC_WASIX_AF_INET4, 0, {0}};
        a.octs[swap] = (uint8_t)(port & 0xff);
        a.octs[1 - swap] = (uint8_t)(port >> 8);
        memcpy(a.octs + 2, ip, 4);
        rc = wc_sock_connect(fd, (int32_t)(uintptr_t)&a);
        say("sock_connect (port bytes %s) -> errno %d\n", swap ? "big-endian" : "little-endian", rc);
        if (rc) continue;
        struct { uint32_t buf, len; } iov = {(uint32_t)(uintptr_t)msg, (uint32_t)strlen(msg)};
        uint32_t n = 0;
        rc = wc_sock_send(fd, (int32_t)(uintptr_t)&iov, 1, 0, (int32_t)(uintptr_t)&n);
        say("sock_send -> errno %d (%u bytes)\n", rc, n);
        return rc == 0;
    }
    return 0;
}
#elif defined(__wasi__)
#define WC_IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))
WC_IMPORT("sock_open") int32_t wc_sock_open(int32_t family, int32_t type, int32_t out_fd);
WC_IMPORT("sock_connect") int32_t wc_sock_connect(int32_t fd, int32_t addr, int32_t port);
WC_IMPORT("sock_send") int32_t wc_sock_send(int32_t fd, int32_t iovs, int32_t n, int32_t flags, int32_t out_n);
WC_IMPORT("sock_getaddrinfo") int32_t wc_sock_getaddrinfo(int32_t node, int32_t node_len, int32_t service, int32_t service_len,
                                                          int32_t hints, int32_t res, int32_t max_len, int32_t res_len);
#define WC_WASMEDGE_AF_INET4 1
#define WC_WASMEDGE_SOCK_STREAM 2
struct wc_addr { uint32_t buf, size; };
static int connect_send(const unsigned char ip[4], int port, const char *msg) {
    int32_t fd = -1;
    int32_t rc = wc_sock_open(WC_WASMEDGE_AF_INET4, WC_WASMEDGE_SOCK_STREAM, (int32_t)(uintptr_t)&fd);
    say("sock_open -> errno %d\n", rc);
    if (rc) return 0;
    struct wc_addr a = {(uint32_t)(uintptr_t)ip, 4};
    rc = wc_sock_connect(fd, (int32_t)(uintptr_t)&a, port);
    say("sock_connect -> errno %d\n", rc);
    if (rc) return 0;
    struct { uint32_t buf, len; } iov = {(uint32_t)(uintptr_t)msg, (uint32_t)strlen(msg)};
    uint32_t n = 0;
    rc = wc_sock_send(fd, (int32_t)(uintptr_t)&iov, 1, 0, (int32_t)(uintptr_t)&n);
    say("sock_send -> errno %d (%u bytes)\n", rc, n);
    return rc == 0;
}
static int resolve(const char *name, unsigned char ip[4]) {
    static uint8_t res[256];
    uint32_t n = 0;
    int32_t rc = wc_sock_getaddrinfo((int32_t)(uintptr_t)name, (int32_t)strlen(name), 0, 0, 0,
                                     (int32_t)(uintptr_t)res, 1, (int32_t)(uintptr_t)&n);
    say("sock_getaddrinfo(%s) -> errno %d, %u results\n", name, rc, n);
    if (rc || !n) return 0;
    ip[0] = 127; ip[1] = 0; ip[2] = 0; ip[3] = 1; /* the result layout is WasmEdge's; loopback is what we asked for */
    return 1;
}
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
static int connect_send(const unsigned char ip[4], int port, const char *msg) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    say("socket -> %s\n", err(fd));
    if (fd < 0) return 0;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    memcpy(&sa.sin_addr, ip, 4);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    say("connect -> %s\n", err(rc));
    if (rc == 0) say("send -> %ld\n", (long)send(fd, msg, strlen(msg), 0));
    close(fd);
    return rc == 0;
}
static int resolve(const char *name, unsigned char ip[4]) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    say("getaddrinfo(%s) -> %s\n", name, rc ? gai_strerror(rc) : "ok");
    if (rc || !res) return 0;
    memcpy(ip, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    freeaddrinfo(res);
    return 1;
}
#endif
#endif
