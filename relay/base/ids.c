/* Identifier validation (see ids.h). */
#include "relay/base/ids.h"

static bool id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '@' || c == '-';
}

bool prism_id_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > PRISM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!id_char((unsigned char)s[i]))
            return false;
    return true;
}
