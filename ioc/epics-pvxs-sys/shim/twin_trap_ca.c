/* twin_trap_ca.c - reads a Channel Access put's payload for the write
 * trap (twin_trap.c). Kept apart: db_access.h (CA's DBR types) must not
 * share a translation unit with dbAccess.h. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <db_access.h>
#include <epicsStdlib.h>

#include "twin_shim.h"

/* A complete decimal number: not empty, no trailing text ("1.0abc",
 * "1,5"), not hexadecimal ("0x10", which strtod reads), finite. */
static int complete_number(const char *s)
{
    double v;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return 0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return 0;
    if ((p[0] == '+' || p[0] == '-') && p[1] == '0' && (p[2] == 'x' || p[2] == 'X'))
        return 0;
    if (epicsParseDouble(p, &v, NULL) != 0)
        return 0;
    return isfinite(v);
}

/* A complete decimal integer: as above, without fraction or exponent. */
static int complete_integer(const char *s)
{
    epicsInt64 v;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p || (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')))
        return 0;
    return epicsParseInt64(p, &v, 10, NULL) == 0;
}

int twin_ca_put_is_number(int dbr_type, long count, const void *data, int integer, char *why, size_t why_len)
{
    if (!data || dbr_type < 0 || dbr_type > LAST_BUFFER_TYPE)
        return 1;
    const char *value = (const char *)data + dbr_value_offset[dbr_type];
    int field = dbr_type % (LAST_TYPE + 1);
    for (long i = 0; i < count; i++) {
        if (field == DBR_STRING) {
            char s[MAX_STRING_SIZE + 1];
            memcpy(s, value + i * MAX_STRING_SIZE, MAX_STRING_SIZE);
            s[MAX_STRING_SIZE] = '\0';
            if (integer ? !complete_integer(s) : !complete_number(s)) {
                snprintf(why, why_len, "not %s: \"%.20s\"", integer ? "an integer" : "a number", s);
                return 0;
            }
        } else if (field == DBR_DOUBLE) {
            double v;
            memcpy(&v, value + i * sizeof(dbr_double_t), sizeof(v));
            if (!isfinite(v)) {
                snprintf(why, why_len, "value is not a finite number");
                return 0;
            }
        } else if (field == DBR_FLOAT) {
            float v;
            memcpy(&v, value + i * sizeof(dbr_float_t), sizeof(v));
            if (!isfinite(v)) {
                snprintf(why, why_len, "value is not a finite number");
                return 0;
            }
        }
    }
    return 1;
}
