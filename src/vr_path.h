/*
 * vr_path.h: can the gateway use a path it is configured with?  What
 * `voidrail -t` checks beyond the configuration's syntax (see the module
 * hook `check`), without creating or changing anything.
 */
#ifndef VR_PATH_H
#define VR_PATH_H

/*
 * 0 when this process could append to the file at path, creating it if
 * it does not exist; else the errno value that opening it would meet
 * (ENOENT: its directory does not exist, EACCES, EROFS, EISDIR ...).
 */
int vr_path_writable(const char *path);

/*
 * vr_path_writable() for the file a key names: VR_OK, or VR_ERROR logged
 * as "WHERE cannot VERB \"PATH\": why" (where: vr_conf_where()'s
 * "FILE:LINE:COL: \"key\"").
 */
int vr_path_check_writable(const char *where, const char *verb,
                           const char *path);

/*
 * 0 when execvp() in directory cwd (NULL or "": the current one) would
 * find a program to run for name: a path when name has a slash (relative
 * to cwd), else a search of this process's PATH; else an errno value
 * (ENOENT: no such program, EACCES: not executable ...).
 */
int vr_path_runnable(const char *name, const char *cwd);

#endif /* VR_PATH_H */
