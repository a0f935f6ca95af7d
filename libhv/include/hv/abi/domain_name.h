/* hv domain names: the one rule, for every place that takes a name (the
 * core's domain table, the config reader, the control plane, the SDK and
 * hvd's managed store).
 *
 * A valid name is 1..HV_DOMAIN_NAME_MAX bytes of [A-Za-z0-9_.-], not all
 * digits (a number names a domid), not starting with '.' or '-' (no hidden
 * files, nothing that reads as an option) and without "..". So it has no
 * control character, no space and no '/': a valid name is always one safe
 * path component and one safe xenstore-style key.
 *
 * Sizes: a name and its NUL fit HV_DOMAIN_NAME_MAX + 1 == 64 bytes, the size
 * of the control ABI's name fields (HV_CTL_NAME_MAX in control.h, which this
 * header does not include so that guests can use it too).
 *
 * Plain C11/C++20 header, freestanding (no libc calls), usable in the
 * ring-0 core. */
#ifndef HV_ABI_DOMAIN_NAME_H
#define HV_ABI_DOMAIN_NAME_H

#include <stddef.h>

#include "common.h"

#define HV_DOMAIN_NAME_MAX 63

/* What hv_domain_name_problem returns for a valid name. */
#ifdef __cplusplus
#define HV_DOMAIN_NAME_OK nullptr
#else
#define HV_DOMAIN_NAME_OK NULL
#endif

HV_STATIC_ASSERT(HV_DOMAIN_NAME_MAX + 1 == 64, "a name and its NUL fit the control ABI's 64-byte name fields");

/* HV_DOMAIN_NAME_OK (a null pointer) when `name` (`len` bytes, no NUL
 * needed) is a valid domain name, else a short static English reason, meant
 * to follow the name or the key in a message ("name: must not be empty"). */
static inline const char* hv_domain_name_problem(const char* name, size_t len) {
    size_t i;
    int all_digits = 1;
    if (len == 0) return "must not be empty";
    if (len > HV_DOMAIN_NAME_MAX) return "longer than 63 characters";
    for (i = 0; i < len; ++i) {
        const char c = name[i];
        const int digit = c >= '0' && c <= '9';
        const int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!digit && !letter && c != '_' && c != '.' && c != '-')
            return "may only use letters, digits, '_', '.' and '-'";
        if (!digit) all_digits = 0;
    }
    if (name[0] == '.' || name[0] == '-') return "must not start with '.' or '-'";
    for (i = 0; i + 1 < len; ++i)
        if (name[i] == '.' && name[i + 1] == '.') return "must not contain '..'";
    if (all_digits) return "must not be all digits (a number is a domid)";
    return HV_DOMAIN_NAME_OK;
}

#endif /* HV_ABI_DOMAIN_NAME_H */
