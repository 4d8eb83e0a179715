/*
 * vr_curve_cert.h: CURVE keys as text, and ZeroMQ certificate files.
 *
 * A certificate file is what pyzmq's zmq.auth.create_certificates() and
 * czmq's zcert write: ZPL text, "#" comments, a "metadata" section and a
 * "curve" section whose indented properties are public-key = "<Z85>" and,
 * in the secret certificate only, secret-key = "<Z85>".  BASE.key holds
 * the public key, BASE.key_secret both.
 *
 * This header stands alone (no vr_core.h), so that the client, dealer and
 * keygen commands, which include libvoidrail's voidrail.h, can use it.
 * libvoidrail itself takes keys as text (src/lib/sock.c has its own small
 * Z85-or-hex reader) and never reads certificate files.
 */
#ifndef VR_CURVE_CERT_H
#define VR_CURVE_CERT_H

#include <stddef.h>

#define VR_CURVE_Z85_SIZE  41           /* 40 Z85 characters and a NUL */

/*
 * A 32-byte CURVE key written as 40 Z85 or 64 hex characters, into its
 * canonical Z85 form.  Returns 0, or -1 when text is neither.
 */
int vr_curve_key_z85(const char *text, char out[VR_CURVE_Z85_SIZE]);

/*
 * Reads the certificate file at path: its public key into public_z85 and
 * its secret key into secret_z85 ("" when the file has none, as a public
 * certificate).  A secret key must belong to the public key.  Returns 0,
 * or -1 with a message naming the file (never a key) in err.
 */
int vr_curve_cert_read(const char *path, char public_z85[VR_CURVE_Z85_SIZE],
                       char secret_z85[VR_CURVE_Z85_SIZE], char *err,
                       size_t err_size);

/*
 * Writes a certificate file at path, which must not exist yet: a public
 * one (mode 0644 before the umask) when secret_z85 is NULL, else a secret
 * one (mode 0600).  Returns 0, or -1 with a message in err (nothing is
 * left behind).
 */
int vr_curve_cert_write(const char *path, const char *public_z85,
                        const char *secret_z85, char *err, size_t err_size);

#endif /* VR_CURVE_CERT_H */
