/* Minimal JSON writing for reports: strings escaped, nothing else. */
#ifndef LIBPROTECT_JSON_OUT_H
#define LIBPROTECT_JSON_OUT_H

#include <stdio.h>

/* Writes S as a JSON string literal (quotes included). */
void json_string(FILE *out, const char *s);

#endif
