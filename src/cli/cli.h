/*
 * cli.h: what the `voidrail client`, `dealer` and `keygen` commands share.
 *
 * They are clients of the gateway built on libvoidrail (src/lib), linked
 * into the voidrail program; they do not use its event loop.
 */
#ifndef VR_CLI_H
#define VR_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes of `voidrail client` (documented in its --help). */
#define VR_EXIT_OK           0
#define VR_EXIT_FAILURE      1      /* anything else (a bad answer, ...) */
#define VR_EXIT_USAGE        2      /* bad options or arguments */
#define VR_EXIT_UNREACHABLE  3      /* no connection to the gateway */
#define VR_EXIT_METHOD       4      /* the call failed (dealer, gateway) */
#define VR_EXIT_TIMEOUT      5      /* no answer in time */
#define VR_EXIT_AUTH         6      /* the API key was refused */

/* Default host and port, as the Python CLI's. */
#define VR_CLI_HOST  "127.0.0.1"
#define VR_CLI_PORT  "5555"

/*
 * The endpoint "tcp://HOST:PORT" (brackets around an IPv6 host), or
 * endpoint itself when given.  Malloc'ed.
 */
char *vr_cli_endpoint(const char *endpoint, const char *host,
                      const char *port);

/* Seconds ("2.5") into milliseconds; -1 when not a number >= 0. */
int vr_cli_seconds_ms(const char *text);

/* A positive integer up to max; -1 when not. */
int vr_cli_count(const char *text, int max);

/* The library log level for a Python logger level name; -1 if unknown. */
int vr_cli_level(const char *python);

/*
 * Blocks SIGINT and SIGTERM for the process and ignores SIGPIPE.  Call it
 * before any thread starts: they all inherit the blocked signals, so that
 * vr_cli_wait_stop() alone takes them.
 */
void vr_cli_block_stop_signals(void);

/*
 * Waits until SIGINT or SIGTERM (blocked by vr_cli_block_stop_signals())
 * arrives and returns its number.  It needs no descriptor and cannot
 * fail.
 */
int vr_cli_wait_stop(void);

/* -- supervise.c -- */

/*
 * Runs `count` copies of the voidrail program with argv[i] (NULL-ended,
 * argv[0] ignored) and keeps them running: a copy that exits is started
 * again (after a pause that grows while they keep failing).  SIGINT or
 * SIGTERM sends SIGTERM to all, waits grace_ms, then SIGKILLs the rest.
 * Must run before anything makes threads or a ZeroMQ context.  Returns
 * the exit status (0 after a stop by signal).
 */
int vr_cli_supervise(char ***argvs, int count, int grace_ms);

/*
 * In a copy started by vr_cli_supervise(): dies with its supervisor
 * (PR_SET_PDEATHSIG) and forgets the marker, so that programs it starts
 * do not think they are supervised.  A no-op otherwise.
 */
void vr_cli_supervised(void);

/* -- exec.c -- */

typedef struct {
    const char  *endpoint;
    const char  *command;       /* the program, run by /bin/sh -c */
    const char  *service;
    const char  *api_key;
    int          max_concurrent;
    int          heartbeat_ms;
    int          stop_timeout_ms;
    int          level;
} vr_cli_exec_t;

/* `voidrail dealer --exec`: serves the program until SIGINT/SIGTERM. */
int vr_cli_exec_run(const vr_cli_exec_t *x);

#endif /* VR_CLI_H */
