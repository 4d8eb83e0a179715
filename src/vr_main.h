/*
 * vr_main.h: the entry points of the voidrail command's modes.
 */
#ifndef VR_MAIN_H
#define VR_MAIN_H

/*
 * Runs the gateway from a configuration: the file `name` when text is
 * NULL, else the YAML text (named `name` in messages).  Returns the exit
 * status: 0 after a clean stop, 1 when the configuration or start-up
 * failed.
 */
int vr_serve(const char *name, const char *text);

/* `voidrail router ...`: the seed's command line.  Returns exit status. */
int vr_router_command(int argc, char **argv);

/* `voidrail ctl ...`: drain dealers, disable methods.  Returns status. */
int vr_ctl_command(int argc, char **argv);

/* `voidrail client ...`: calls and queries (src/cli).  Returns status. */
int vr_client_command(int argc, char **argv);

/* `voidrail dealer ...`: serves a module or a program (src/cli). */
int vr_dealer_command(int argc, char **argv);

/* `voidrail keygen ...`: prints a new API key (src/cli). */
int vr_keygen_command(int argc, char **argv);

#endif /* VR_MAIN_H */
