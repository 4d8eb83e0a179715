/*
 * sse_client.c: a fast Server-Sent Events reader for the benchmarks.
 *
 * Sends one HTTP/1.0 request (so the stream comes without chunked
 * framing and ends with the connection), reads with large buffers and
 * counts the events by their "event:" lines.  Prints one JSON line: the
 * events of each kind, the bytes, and chunk events per second between the
 * first and the last chunk.
 *
 *   sse_client HOST PORT METHOD PATH [BODY]
 *   e.g. sse_client 127.0.0.1 8080 POST /invoke/Echo.stream '[100000]'
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    static char        buf[1 << 18];
    char               req[4096], line[32];
    const char        *body = argc > 5 ? argv[5] : "";
    struct sockaddr_in sa;
    size_t             linelen = 0;
    uint64_t           chunks = 0, ends = 0, errors = 0, others = 0, bytes = 0;
    double             t0, first = 0, last = 0;
    int                fd, n, status = 0;

    if (argc < 5) {
        fprintf(stderr, "usage: sse_client HOST PORT METHOD PATH [BODY]\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        perror("sse_client: connect");
        return 1;
    }
    n = snprintf(req, sizeof(req),
                 "%s %s HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "\r\n%s", argv[3], argv[4], argv[1], strlen(body), body);
    t0 = now_s();
    if (write(fd, req, (size_t) n) != n) {
        perror("sse_client: write");
        return 1;
    }
    for (;;) {
        ssize_t got = read(fd, buf, sizeof(buf));

        if (got <= 0) {
            break;
        }
        bytes += (uint64_t) got;
        if (status == 0 && got > 12) {
            status = atoi(buf + 9);         /* "HTTP/1.x NNN" */
        }
        /* Keep the first bytes of each line; judge it at its end. */
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (linelen < sizeof(line)) {
                    line[linelen++] = buf[i];
                }
                continue;
            }
            if (linelen >= 12 && memcmp(line, "event: chunk", 12) == 0) {
                chunks++;
                last = now_s();
                if (first == 0) {
                    first = last;
                }
            } else if (linelen >= 10 && memcmp(line, "event: end", 10) == 0) {
                ends++;
            } else if (linelen >= 12 && memcmp(line, "event: error", 12) == 0) {
                errors++;
            } else if (linelen >= 7 && memcmp(line, "event: ", 7) == 0) {
                others++;
            }
            linelen = 0;
        }
    }
    close(fd);
    printf("{\"status\": %d, \"chunks\": %llu, \"end\": %llu, \"error\": %llu, "
           "\"other\": %llu, \"bytes\": %llu, \"seconds\": %.4f, "
           "\"total_seconds\": %.4f, \"events_per_s\": %.1f}\n", status,
           (unsigned long long) chunks, (unsigned long long) ends,
           (unsigned long long) errors, (unsigned long long) others,
           (unsigned long long) bytes, last - first, now_s() - t0,
           last > first ? (double) chunks / (last - first) : 0.0);
    return 0;
}
