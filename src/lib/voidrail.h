/*
 * voidrail.h: libvoidrail, the C client and dealer library of VoidRail.
 *
 * A VoidRail gateway (or the original Python router) is a ZeroMQ ROUTER.
 * Dealers (workers) connect to it, register methods "Service.method" and
 * answer calls; clients connect to it and call those methods.  This
 * library is both sides, speaking the wire protocol of the Python
 * `voidrail` package (PROTOCOL.md), so C programs interoperate with Python
 * dealers and clients.
 *
 * Values cross the API as JSON text (NUL-terminated UTF-8): arguments,
 * results and stream chunks.  Parse them with any JSON library; the
 * vr_job_param_*() helpers cover the simple cases without one.
 *
 * Conventions (the czmq and SQLite way):
 *   - objects are made by vr_x_new() and freed by vr_x_destroy(&p), which
 *     accepts NULL and a pointer to NULL and sets the pointer to NULL;
 *   - functions that can fail return VR_OK (0) or VR_ERROR (-1) and, when
 *     given a vr_error_t, say why in it;
 *   - a returned `char *` is the caller's, to free() once; a returned
 *     `const char *` belongs to the object it came from and lives as long
 *     as that object (or as the function's contract says);
 *   - durations are milliseconds in arguments named *_ms.
 *
 * Threads: a vr_client_t may be shared by any number of threads (calls
 * are matched to their answers by request_id).  A vr_call_t belongs to
 * one thread at a time.  A vr_dealer_t runs handlers on its own worker
 * threads; a vr_job_t is used only by the handler it was given to.
 *
 * See libvoidrail(3) for a tour, the service module ABI and examples.
 */
#ifndef VOIDRAIL_H
#define VOIDRAIL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(VR_LIB_BUILD)
#define VR_EXPORT  __attribute__((visibility("default")))
#else
#define VR_EXPORT
#endif

#if defined(__GNUC__)
#define VR_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define VR_PRINTF(f, a)
#endif

#define VR_LIB_VERSION  "0.1.0"

#ifndef VR_OK
#define VR_OK     0
#endif
#ifndef VR_ERROR
#define VR_ERROR  -1
#endif
/* vr_call_next(): an item was returned. */
#define VR_MORE   1

/* Log levels of vr_client_set_log() and vr_dealer_set_log(). */
#define VR_LEVEL_NONE   0
#define VR_LEVEL_ERROR  1
#define VR_LEVEL_WARN   2
#define VR_LEVEL_INFO   3
#define VR_LEVEL_DEBUG  4

/*
 * A log sink: one line (no newline) at a level.  Called from the
 * library's threads; must not call back into the object that logs.
 */
typedef void (*vr_log_fn)(void *data, int level, const char *line);

/* The version of the library that is running ("0.1.0"). */
VR_EXPORT const char *vr_version(void);


/* ---- errors ------------------------------------------------------------ */

/*
 * Why something failed, filled in by the functions that take one.  The
 * caller owns the struct (usually on its stack); nothing in it needs
 * freeing.  code is one of:
 *
 *   the gateway's codes (PROTOCOL.md B.2): "bad_request", "unauthorized",
 *   "forbidden", "queue_full", "rate_limited", "dealer_error",
 *   "dealer_lost", "no_service", "shutting_down", "timeout", "cancelled";
 *   "dealer_error" also for a dealer's own error (message = its text);
 *   "router_error"  an error from a router that gives no code (Python);
 *   "unreachable"   no connection to the gateway within the timeout;
 *   "timeout"       also: no answer within the caller's timeout;
 *   "bad_reply"     an answer that does not follow the protocol;
 *   "closed"        the client was destroyed while the call waited;
 *   "usage"         a bad argument to the library (not JSON, NULL, ...).
 *
 * message is a human-readable text (UTF-8, cut to fit).
 */
typedef struct {
    char  code[32];
    char  message[1024];
} vr_error_t;


/* ---- client -------------------------------------------------------------- */

typedef struct vr_client_s  vr_client_t;
typedef struct vr_call_s    vr_call_t;

/*
 * A client of the gateway at endpoint ("tcp://127.0.0.1:5555"), not yet
 * connected.  The api_key defaults to $VOIDRAIL_API_KEY; CURVE is off
 * unless vr_client_set_curve() is called or $VOIDRAIL_USE_CURVE is true
 * and $VOIDRAIL_CURVE_SERVER_KEY set (the client's own secret key from
 * $VOIDRAIL_CURVE_SECRET_KEY, else a fresh pair).  Returns NULL when
 * endpoint is NULL (or no file descriptor is left).  The caller owns the
 * client: vr_client_destroy() it.
 */
VR_EXPORT vr_client_t *vr_client_new(const char *endpoint);

/*
 * Closes the connection, ends every call still waiting with "closed" and
 * frees the client.  Calls made by it stay valid until destroyed
 * themselves.  NULL-safe; sets *selfp to NULL.
 */
VR_EXPORT void vr_client_destroy(vr_client_t **selfp);

/* The API key to authenticate with (copied; NULL: none).  Before connect. */
VR_EXPORT int vr_client_set_api_key(vr_client_t *self, const char *api_key);

/*
 * Encrypts the connection with CURVE.  server_key is the gateway's public
 * key, 40 Z85 or 64 hex characters.  public_key and secret_key are the
 * client's pair (same forms); NULL makes a fresh pair.  Copied.  Before
 * connect.  VR_ERROR when a key is malformed.
 */
VR_EXPORT int vr_client_set_curve(vr_client_t *self, const char *server_key,
                                  const char *public_key,
                                  const char *secret_key);

/*
 * Where the client logs (default: warnings and errors to stderr), before
 * connecting; fn is called from the client's threads, data is the
 * caller's.
 */
VR_EXPORT void vr_client_set_log(vr_client_t *self, int max_level,
                                 vr_log_fn fn, void *data);

/*
 * Connects and waits until the gateway accepts the connection (and, with
 * an API key, the key) within timeout_ms (< 0: forever).  Returns VR_OK,
 * or VR_ERROR with err->code "unreachable" (no connection), "unauthorized"
 * (key refused) or "timeout" (no answer to the key); it may then be
 * tried again.  A connected client reconnects by itself if the gateway
 * restarts, and logs in again.  Every login (also without a key, then
 * without waiting for the answer) announces the capability
 * "request_id_errors": a VoidRail gateway then adds the request_id to the
 * errors of Python dealers, which send none, so that each error reaches
 * its own call.  (From a router that does not, such an error goes to the
 * oldest call in flight.)
 */
VR_EXPORT int vr_client_connect(vr_client_t *self, int timeout_ms,
                                vr_error_t *err);

/* The client's routing identity (32 hex characters); owned by self. */
VR_EXPORT const char *vr_client_identity(const vr_client_t *self);

/*
 * Starts a call of method ("Service.method") and returns at once.
 * args_json is a JSON array (positional arguments), kwargs_json a JSON
 * object (keyword arguments); NULL means none.  Both are checked and sent
 * as written.  Returns the call, the caller's to vr_call_destroy(); NULL
 * with err->code "usage" when an argument is not valid JSON of its kind
 * or the client is not connected.  Any number of calls may be in flight
 * on one client.
 */
VR_EXPORT vr_call_t *vr_client_call(vr_client_t *self, const char *method,
                                    const char *args_json,
                                    const char *kwargs_json,
                                    vr_error_t *err);

/*
 * Calls method and waits for its whole answer, at most timeout_ms (< 0:
 * forever).  On VR_OK, *result_json is the method's result as JSON text,
 * or for a streaming method a JSON array of every chunk; the caller
 * free()s it.  On VR_ERROR, *result_json is NULL and err says why
 * ("dealer_error" with the dealer's text, "timeout", "no_service", ...).
 */
VR_EXPORT int vr_client_invoke(vr_client_t *self, const char *method,
                               const char *args_json, const char *kwargs_json,
                               int timeout_ms, char **result_json,
                               vr_error_t *err);

/*
 * Discovery and state, as the Python client's discover_services(),
 * discover_clusters(), get_router_info() and get_queue_status(): waits at
 * most timeout_ms for the gateway's answer and returns its "result"
 * object as JSON text in *result_json (the caller free()s it).
 *   methods       {"Service.method": {"description", "params", "stream",
 *                 "metadata"}, ...} of live dealers
 *   clusters      {service_id: {"group", "methods", "state", ...}, ...}
 *   router_info   the gateway's counters and settings
 *   queue_status  {"Service.method": {"queue_length",
 *                 "available_services", "busy_services"}, ...}
 */
VR_EXPORT int vr_client_methods(vr_client_t *self, int timeout_ms,
                                char **result_json, vr_error_t *err);
VR_EXPORT int vr_client_clusters(vr_client_t *self, int timeout_ms,
                                 char **result_json, vr_error_t *err);
VR_EXPORT int vr_client_router_info(vr_client_t *self, int timeout_ms,
                                    char **result_json, vr_error_t *err);
VR_EXPORT int vr_client_queue_status(vr_client_t *self, int timeout_ms,
                                     char **result_json, vr_error_t *err);

/*
 * The next item of a call, waiting at most timeout_ms (< 0: forever):
 *   VR_MORE   *item_json is a stream chunk, or the single result of a
 *             method that does not stream; the caller free()s it;
 *   VR_OK     the call has ended well (no more items); *item_json NULL;
 *   VR_ERROR  the call failed or timed out; err says why; *item_json
 *             NULL.  After "timeout" the call may be waited on again; any
 *             other error is final.
 * Items are returned in the order the dealer sent them.
 */
VR_EXPORT int vr_call_next(vr_call_t *self, int timeout_ms,
                           char **item_json, vr_error_t *err);

/*
 * Waits at most timeout_ms for the end of the call and returns what
 * vr_client_invoke() returns (items already taken by vr_call_next() are
 * not repeated).
 */
VR_EXPORT int vr_call_wait(vr_call_t *self, int timeout_ms,
                           char **result_json, vr_error_t *err);

/* The call's request_id (a UUID string); owned by the call. */
VR_EXPORT const char *vr_call_request_id(const vr_call_t *self);

/*
 * Frees the call.  If it has not ended, its answers are dropped when they
 * arrive.  NULL-safe; sets *selfp to NULL.
 */
VR_EXPORT void vr_call_destroy(vr_call_t **selfp);


/* ---- dealer -------------------------------------------------------------- */

typedef struct vr_dealer_s  vr_dealer_t;
typedef struct vr_job_s     vr_job_t;

/*
 * A handler: runs one request (a job) on a worker thread of the dealer.
 * It answers through the job, then returns VR_OK (success) or any other
 * value (failure).  data is what was given with the method.
 *
 *   plain method      vr_job_result() once (no call: the result is null);
 *   streaming method  vr_job_emit() once per chunk; returning VR_OK sends
 *                     the end of the stream;
 *   failure           vr_job_error() and return VR_ERROR (without a text
 *                     the error reads "method NAME failed").
 *
 * The job and every string it returns are valid only until the handler
 * returns.  Handlers of one dealer may run concurrently (up to
 * max_concurrent); make them thread-safe or keep max_concurrent at 1.
 */
typedef int (*vr_handler_fn)(vr_job_t *job, void *data);

/*
 * A method with its metadata, as the Python decorator
 * @service_method(name=, description=, params=, **metadata) records it.
 * Strings are copied when the method is added.
 */
typedef struct {
    const char     *name;           /* bare method name, e.g. "echo" */
    vr_handler_fn   handler;
    const char     *description;    /* NULL: null */
    const char     *params_json;    /* a JSON object text; NULL: null */
    int             stream;         /* 1: the handler emits chunks */
    const char     *metadata_json;  /* a JSON object text; NULL: {} */
} vr_method_def_t;

/*
 * A dealer for service_name (the group, unless vr_dealer_set_group(); the
 * first part of every method's full name) that will connect to endpoint.
 * Its identity is "<service_name>-<8 hex digits>".  The api_key defaults
 * to $VOIDRAIL_API_KEY and CURVE to $VOIDRAIL_CURVE_SERVER_KEY (with its
 * own secret key from $VOIDRAIL_CURVE_SECRET_KEY, else a fresh pair).
 * Returns NULL when an argument is NULL or empty.  The caller owns the
 * dealer: vr_dealer_destroy() it.
 */
VR_EXPORT vr_dealer_t *vr_dealer_new(const char *endpoint,
                                     const char *service_name);

/*
 * Stops the dealer if it runs (as vr_dealer_stop(), waiting for the
 * handlers), then frees it.  NULL-safe; sets *selfp to NULL.
 */
VR_EXPORT void vr_dealer_destroy(vr_dealer_t **selfp);

/*
 * Adds a plain method name (no metadata) served by handler with data.
 * Before the dealer starts.  VR_ERROR when the name is empty, contains a
 * dot or is taken.
 */
VR_EXPORT int vr_dealer_add(vr_dealer_t *self, const char *name,
                            vr_handler_fn handler, void *data);

/*
 * Adds the method def (with its metadata; def is copied) served with
 * data.  VR_ERROR also when params_json or metadata_json is not a JSON
 * object.
 */
VR_EXPORT int vr_dealer_add_def(vr_dealer_t *self, const vr_method_def_t *def,
                                void *data);

/*
 * Settings, each before the dealer starts; strings are copied; VR_ERROR
 * when a value is out of range or the dealer runs.  The group (default:
 * the service name), the dealer key (NULL: none), CURVE keys as for
 * vr_client_set_curve().
 */
VR_EXPORT int vr_dealer_set_group(vr_dealer_t *self, const char *group);
VR_EXPORT int vr_dealer_set_api_key(vr_dealer_t *self, const char *api_key);
VR_EXPORT int vr_dealer_set_curve(vr_dealer_t *self, const char *server_key,
                                  const char *public_key,
                                  const char *secret_key);
/* Worker threads = requests held at once, announced to the gateway
 * (default 1, at most 1024). */
VR_EXPORT int vr_dealer_set_max_concurrent(vr_dealer_t *self, int n);
/* Heartbeat period (default 1000 ms, 50 ms .. 60 s). */
VR_EXPORT int vr_dealer_set_heartbeat(vr_dealer_t *self, int interval_ms);
/* How long vr_dealer_stop() lets running handlers finish (default 5000). */
VR_EXPORT int vr_dealer_set_stop_timeout(vr_dealer_t *self, int timeout_ms);
/*
 * Announces the "cancel" capability (PROTOCOL.md B.7): when the gateway
 * gives up on a request (caller gone, deadline), vr_job_cancelled() turns
 * true for its handler, and a request still waiting for a worker is
 * dropped.  Off by default.
 */
VR_EXPORT int vr_dealer_set_cancel(vr_dealer_t *self, int on);
/*
 * Where the dealer logs (default: warnings and errors to stderr), before
 * it starts; fn is called from the dealer's threads, data is the
 * caller's.
 */
VR_EXPORT void vr_dealer_set_log(vr_dealer_t *self, int max_level,
                                 vr_log_fn fn, void *data);

/* The dealer's identity ("Service-1a2b3c4d"); owned by self. */
VR_EXPORT const char *vr_dealer_identity(const vr_dealer_t *self);

/*
 * Starts the dealer's threads and returns: it connects (waiting for the
 * gateway as long as it takes), registers its methods, heartbeats, serves,
 * and after the gateway restarts reconnects and registers again.
 * VR_ERROR when it has no methods, is already started, or the endpoint is
 * malformed.
 */
VR_EXPORT int vr_dealer_start(vr_dealer_t *self);

/*
 * Asks the dealer to stop: no new requests are taken (while it holds some
 * it registers again without methods), running handlers get
 * stop_timeout_ms to finish and answer (then vr_job_cancelled() turns
 * true for them), then it leaves the gateway ("shutdown") and its threads
 * end.  Returns at once.  Safe from any thread, a handler and a signal
 * handler.
 */
VR_EXPORT void vr_dealer_stop(vr_dealer_t *self);

/*
 * Waits until the dealer has stopped (after vr_dealer_stop()), its
 * handlers included: a handler that never returns keeps it waiting.  One
 * thread at a time.  Returns VR_OK.
 */
VR_EXPORT int vr_dealer_wait(vr_dealer_t *self);

/*
 * For a program's main thread: blocks SIGINT and SIGTERM (so that the
 * dealer's threads inherit the mask; call it before starting other
 * threads), starts the dealer, and serves until one of those signals or
 * vr_dealer_stop(); then stops cleanly and restores the signal mask.  It
 * waits for the signals with sigwaitinfo(), which needs no descriptor (a
 * process out of them still stops); those that arrive while it stops are
 * taken, not left pending.  Returns VR_OK after a clean stop, VR_ERROR
 * when it could not start.
 */
VR_EXPORT int vr_dealer_run(vr_dealer_t *self);

/* -- in a handler -- */

/* The bare method name ("echo") and the request_id; owned by the job. */
VR_EXPORT const char *vr_job_method(const vr_job_t *job);
VR_EXPORT const char *vr_job_request_id(const vr_job_t *job);

/* The positional arguments (a JSON array) and keyword arguments (a JSON
 * object) as sent; owned by the job.  "[]" and "{}" when absent. */
VR_EXPORT const char *vr_job_args(const vr_job_t *job);
VR_EXPORT const char *vr_job_kwargs(const vr_job_t *job);

/* The number of positional arguments. */
VR_EXPORT size_t vr_job_nargs(const vr_job_t *job);

/*
 * A parameter the way Python binds one: the positional argument at pos,
 * else the keyword argument name (either may be ignored: pos < 0 or name
 * NULL).  Returns its JSON text, owned by the job; NULL when absent.
 */
VR_EXPORT const char *vr_job_param(vr_job_t *job, int pos, const char *name);

/* The same parameter as a string (decoded, owned by the job; NULL when
 * absent or not a string), a number or an integer (VR_ERROR when absent
 * or of another type). */
VR_EXPORT const char *vr_job_param_string(vr_job_t *job, int pos,
                                          const char *name);
VR_EXPORT int vr_job_param_double(vr_job_t *job, int pos, const char *name,
                                  double *out);
VR_EXPORT int vr_job_param_int(vr_job_t *job, int pos, const char *name,
                               long long *out);

/*
 * Sets the result of a plain method to json (checked, copied).  VR_ERROR
 * when json is not valid JSON.  A later call replaces the result.
 */
VR_EXPORT int vr_job_result(vr_job_t *job, const char *json);
/* The result as a JSON string made from text (UTF-8). */
VR_EXPORT int vr_job_result_string(vr_job_t *job, const char *text);
/* The result as JSON text made with printf: ("%g", x), ("[%d, %d]", a, b). */
VR_EXPORT int vr_job_resultf(vr_job_t *job, const char *fmt, ...)
    VR_PRINTF(2, 3);

/*
 * Sends one stream chunk (json checked and copied) to the caller at once.
 * VR_ERROR when json is not valid JSON, or the request was cancelled
 * (see vr_job_cancelled(); the handler may then return early).
 */
VR_EXPORT int vr_job_emit(vr_job_t *job, const char *json);
VR_EXPORT int vr_job_emitf(vr_job_t *job, const char *fmt, ...)
    VR_PRINTF(2, 3);

/*
 * Makes the request fail with text (copied) as the error the caller sees.
 * Returns VR_ERROR, so that a handler can `return vr_job_error(job, ..)`.
 */
VR_EXPORT int vr_job_error(vr_job_t *job, const char *text);
VR_EXPORT int vr_job_errorf(vr_job_t *job, const char *fmt, ...)
    VR_PRINTF(2, 3);

/*
 * True (1) when the gateway cancelled the request (with
 * vr_dealer_set_cancel()) or the dealer is stopping and the stop timeout
 * has passed: the answer will be dropped, so the handler may give up.
 */
VR_EXPORT int vr_job_cancelled(const vr_job_t *job);


/* ---- service modules (voidrail dealer --module) ------------------------- */

#define VR_MODULE_ABI  1

/*
 * A service in a module: what `voidrail dealer --module lib.so` serves.
 * A module is a shared object that exports a table named
 * `voidrail_services`: an array of vr_service_def_t ending with an entry
 * whose name is NULL.  Its handlers call the vr_job_*() functions, which
 * the host (the voidrail program, or any program linked with
 * libvoidrail) provides.
 */
typedef struct {
    int                     abi;        /* VR_MODULE_ABI */
    const char             *name;       /* service name = group, "Echo" */
    const vr_method_def_t  *methods;    /* ends with a NULL name */
    /*
     * Optional: runs once per process before serving; what it stores in
     * *data (NULL before) is given to every handler.  Non-zero: the
     * process does not start.
     */
    int                   (*init)(void **data);
    /* Optional: runs once after serving, with that data. */
    void                  (*fini)(void *data);
    int                     max_concurrent; /* default workers; 0: 1 */
} vr_service_def_t;

#define VR_MODULE_SYMBOL  "voidrail_services"

#ifdef __cplusplus
}
#endif

#endif /* VOIDRAIL_H */
