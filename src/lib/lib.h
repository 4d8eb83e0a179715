/*
 * lib.h: what the files of libvoidrail share, and nothing else sees.
 *
 * The library is self-contained: it links only libzmq, jansson and the C
 * library, and every symbol here is hidden (-fvisibility=hidden), so a
 * program that links both libvoidrail and the gateway's core (the
 * voidrail command) or another copy of these helpers cannot mix them up.
 * Internal names start with vr_lib_.
 */
#ifndef VR_LIB_H
#define VR_LIB_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "voidrail.h"

/* ---- memory, strings, time (util.c) ---------------------------------- */

/* Allocation that aborts (with a line on stderr) when memory runs out. */
void *vr_lib_alloc(size_t size);
void *vr_lib_calloc(size_t n, size_t size);
void *vr_lib_realloc(void *p, size_t size);
char *vr_lib_strdup(const char *s);                 /* NULL stays NULL */
char *vr_lib_strndup(const char *s, size_t n);

/* Fills err (when not NULL): code (static text) and a printf message. */
void vr_lib_error(vr_error_t *err, const char *code, const char *fmt, ...)
    VR_PRINTF(3, 4);
void vr_lib_error_clear(vr_error_t *err);

/* Monotonic milliseconds. */
int64_t vr_lib_now_ms(void);

/* Deadline for a timeout (< 0: none, returns -1) and the time left. */
int64_t vr_lib_deadline(int timeout_ms);
int vr_lib_left_ms(int64_t deadline_ms);     /* -1 forever, else >= 0 */

/* A struct timespec (CLOCK_MONOTONIC) for a deadline in ms. */
void vr_lib_abstime(int64_t deadline_ms, struct timespec *ts);

/* n random bytes as 2n lowercase hex digits plus NUL (not secret). */
void vr_lib_hex_id(char *out, size_t nbytes);

/* A random UUID version 4: 36 characters plus NUL. */
void vr_lib_uuid4(char out[37]);

/* A condition variable that waits on CLOCK_MONOTONIC. */
void vr_lib_cond_init(pthread_cond_t *c);

/* A growable text buffer, always NUL-terminated once anything is added. */
typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
} vr_lib_buf_t;

void vr_lib_buf_add(vr_lib_buf_t *b, const void *p, size_t n);
void vr_lib_buf_adds(vr_lib_buf_t *b, const char *s);
void vr_lib_buf_printf(vr_lib_buf_t *b, const char *fmt, ...)
    VR_PRINTF(2, 3);
void vr_lib_buf_vprintf(vr_lib_buf_t *b, const char *fmt, va_list ap);
/* Appends s[0..n) as a JSON string, non-ASCII as \uXXXX (Python style). */
void vr_lib_buf_json_string(vr_lib_buf_t *b, const char *s, size_t n);
/* Hands the text to the caller (malloc'ed; "" when empty). */
char *vr_lib_buf_steal(vr_lib_buf_t *b);
void vr_lib_buf_free(vr_lib_buf_t *b);

/* ---- logging (util.c) ------------------------------------------------ */

typedef struct {
    int          max_level;
    vr_log_fn    fn;            /* NULL: stderr */
    void        *data;
    char         who[96];       /* "voidrail dealer Echo-1a2b3c4d" */
} vr_lib_log_t;

void vr_lib_log_init(vr_lib_log_t *log, const char *who);
void vr_lib_log(const vr_lib_log_t *log, int level, const char *fmt, ...)
    VR_PRINTF(3, 4);

/* ---- JSON text (json.c) ---------------------------------------------- */

/* What vr_lib_json_check() requires of the text. */
#define VR_LIB_JSON_ANY     0
#define VR_LIB_JSON_ARRAY   1
#define VR_LIB_JSON_OBJECT  2

/* True when text is exactly one valid JSON value of that kind. */
bool vr_lib_json_check(const char *text, size_t len, int kind);

/*
 * Spans of raw JSON text inside a document that is known to be valid (it
 * was checked or parsed first): the value of a top-level key of an object
 * (plain ASCII key), or the element at index of an array.  False when
 * absent.
 */
bool vr_lib_json_member(const char *text, size_t len, const char *key,
                        const char **value, size_t *value_len);
bool vr_lib_json_element(const char *text, size_t len, size_t index,
                         const char **value, size_t *value_len);
/* The number of elements of a valid JSON array. */
size_t vr_lib_json_count(const char *text, size_t len);

/* ---- sockets (sock.c) ------------------------------------------------ */

/* CURVE keys in Z85 (40 characters + NUL each). */
typedef struct {
    bool    on;
    char    server[41];
    char    public_key[41];
    char    secret_key[41];
} vr_lib_curve_t;

/*
 * Sets c from a server key and an optional client pair (Z85 or hex); a
 * missing pair is generated.  VR_ERROR (err filled) when malformed.
 */
int vr_lib_curve_set(vr_lib_curve_t *c, const char *server,
                     const char *public_key, const char *secret_key,
                     vr_error_t *err);

/*
 * vr_lib_curve_set() with server, and the client's pair from the
 * environment: $VOIDRAIL_CURVE_SECRET_KEY (its public key is derived), a
 * fresh pair when it is unset or empty (a gateway with an allow-list only
 * lets in listed keys).
 */
int vr_lib_curve_from_env(vr_lib_curve_t *c, const char *server,
                          vr_error_t *err);

/*
 * A DEALER socket with our options (identity, LINGER 0, IMMEDIATE, IPv6
 * as well as IPv4, reconnect 100 ms..1 s, CURVE when c->on) and a monitor
 * on it: *monitor is a PAIR socket that receives its handshake and
 * disconnect events.
 * NULL on failure.
 */
void *vr_lib_socket(void *ctx, const char *identity, const vr_lib_curve_t *c,
                    void **monitor);

/* Reads one monitor event; returns its code (0 when none was waiting). */
int vr_lib_monitor_event(void *monitor);

/* A message to send: up to VR_LIB_FRAMES frames, copied. */
#define VR_LIB_FRAMES  5

typedef struct vr_lib_msg_s  vr_lib_msg_t;
struct vr_lib_msg_s {
    vr_lib_msg_t  *next;
    size_t         n;
    char          *data[VR_LIB_FRAMES];
    size_t         len[VR_LIB_FRAMES];
};

/*
 * A message of n frames: each a (pointer, length) pair passed as
 * varargs; a length of (size_t) -1 means strlen.  The caller owns it.
 */
vr_lib_msg_t *vr_lib_msg_new(size_t n, ...);
void vr_lib_msg_free(vr_lib_msg_t *m);

/* Sends m without blocking: VR_OK, VR_ERROR with errno (EAGAIN, ...). */
int vr_lib_msg_send(void *sock, const vr_lib_msg_t *m);

/*
 * Receives one whole multipart message without blocking into frames[0..
 * max) (the caller zmq_msg_close()s *n of them; frames beyond max are
 * dropped).  VR_ERROR with errno EAGAIN when none is waiting.
 */
int vr_lib_recv(void *sock, zmq_msg_t *frames, size_t max, size_t *n);
void vr_lib_frames_close(zmq_msg_t *frames, size_t n);

/* True when the frame holds exactly the text lit. */
bool vr_lib_frame_is(zmq_msg_t *f, const char *lit);

/*
 * A queue of messages for an I/O thread, filled by other threads: a mutex,
 * a list, and an eventfd that wakes the I/O thread's zmq_poll().
 */
typedef struct {
    pthread_mutex_t  lock;
    vr_lib_msg_t    *head;
    vr_lib_msg_t    *tail;
    int              fd;            /* eventfd */
} vr_lib_outbox_t;

int vr_lib_outbox_init(vr_lib_outbox_t *o);
void vr_lib_outbox_fini(vr_lib_outbox_t *o);
/* Appends m (the outbox owns it now) and wakes the I/O thread. */
void vr_lib_outbox_push(vr_lib_outbox_t *o, vr_lib_msg_t *m);
/* Puts m first (the outbox owns it now) and wakes the I/O thread. */
void vr_lib_outbox_push_front(vr_lib_outbox_t *o, vr_lib_msg_t *m);
/* Wakes the I/O thread (async-signal-safe). */
void vr_lib_outbox_wake(vr_lib_outbox_t *o);
/* Clears the wake-up. */
void vr_lib_outbox_drain_fd(vr_lib_outbox_t *o);
/*
 * Sends what is queued, in order, until the socket would block; returns
 * true when messages are left (then poll for ZMQ_POLLOUT).  Messages that
 * fail for another reason are dropped.
 */
bool vr_lib_outbox_flush(vr_lib_outbox_t *o, void *sock);

#endif /* VR_LIB_H */
