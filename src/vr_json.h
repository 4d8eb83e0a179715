/*
 * vr_json.h: JSON text without building trees.
 *
 * The broker forwards request and response bodies verbatim: it never
 * builds a tree of them.  It only needs a few top-level keys ("type",
 * "request_id") and to know that a body is well-formed.  This scanner
 * finds those keys in place and stops as soon as it has them, so a 64 KiB
 * payload whose ids come first (as every Python peer writes them) costs a
 * few dozen bytes of scanning.  Validation, when asked for, follows RFC
 * 8259 plus the NaN / Infinity / -Infinity that Python's json module
 * writes and reads.
 */
#ifndef VR_JSON_H
#define VR_JSON_H

#include "vr_core.h"
#include "vr_buf.h"

typedef enum {
    VR_JSON_NONE = 0,           /* key not found */
    VR_JSON_STRING,
    VR_JSON_NUMBER,
    VR_JSON_OBJECT,
    VR_JSON_ARRAY,
    VR_JSON_TRUE,
    VR_JSON_FALSE,
    VR_JSON_NULL
} vr_json_kind_t;

/* A key to look for and, once found, where its value is. */
typedef struct {
    const char     *name;       /* the key, plain ASCII */
    const char     *value;      /* raw value text; a string keeps its quotes */
    size_t          len;
    vr_json_kind_t  kind;
} vr_json_field_t;

/* Nesting deeper than this is refused (as malformed). */
#define VR_JSON_MAX_DEPTH  256

/*
 * Looks for the fields in the top-level object of text[0..n).  With
 * validate false it stops once every field is found; with validate true
 * it checks the whole text.  Returns VR_OK when the text is an object,
 * well-formed as far as it was read; VR_ERROR otherwise (fields found
 * before the fault are still filled in, so a caller can answer an error
 * that names the request_id).
 */
int vr_json_fields(const char *text, size_t n, vr_json_field_t *fields,
                   size_t nfields, bool validate);

/* VR_OK when text[0..n) is exactly one well-formed JSON value. */
int vr_json_validate(const char *text, size_t n);

/*
 * Decodes the raw JSON string value (with its quotes) into out: escapes
 * resolved, UTF-8.  VR_ERROR when raw is not a valid string.
 */
int vr_json_unescape(const char *raw, size_t n, vr_buf_t *out);

/*
 * The text of a string value that vr_json_fields() found (raw, with its
 * quotes, already well-formed): without escapes *text points into raw
 * (nothing is copied), else it is decoded into scratch, which the caller
 * frees.  VR_ERROR when raw is not a valid string.
 */
int vr_json_string_text(const char *raw, size_t n, vr_buf_t *scratch,
                        const char **text, size_t *len);

/*
 * Appends s[0..n) as a JSON string (with quotes) in the style of Python's
 * json.dumps: non-ASCII escaped as \uXXXX.  Bytes that are not UTF-8 are
 * written as \u00XX, so any byte string gives valid JSON.  s may be NULL
 * when n is 0 (an empty vr_buf_t).
 */
void vr_json_escape(vr_buf_t *out, const char *s, size_t n);

/* True when s[0..n) is valid UTF-8 without NUL bytes. */
bool vr_utf8_valid(const char *s, size_t n);

/* "…" (U+2026): what ends a text cut by vr_utf8_copy(). */
#define VR_UTF8_CUT  "\xe2\x80\xa6"

/*
 * Copies the NUL-terminated src into dst (size bytes, size > 0; always
 * NUL-terminated) as valid UTF-8: every byte of src that does not start a
 * valid sequence becomes U+FFFD.  A text that does not fit is cut on a
 * character boundary and ends with VR_UTF8_CUT (when size leaves room for
 * it).  Returns the length written, without the NUL.
 */
size_t vr_utf8_copy(char *dst, size_t size, const char *src);

/*
 * Appends s[0..n) to out as valid UTF-8: bytes that do not start a valid
 * sequence, and NUL bytes, become U+FFFD.
 */
void vr_utf8_repair(vr_buf_t *out, const char *s, size_t n);

#endif /* VR_JSON_H */
