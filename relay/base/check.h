/* PRISM_CHECK: an always-on assertion for programming errors.
 *
 * Bugs are not errors: a broken invariant aborts with file and line, in every
 * build type. Input from the wire or a socket is never checked with this; it is
 * validated and rejected.
 */
#ifndef PRISM_BASE_CHECK_H
#define PRISM_BASE_CHECK_H

_Noreturn void prism__check_failed(const char *expr, const char *file, int line);

#define PRISM_CHECK(expr)                                                                          \
    do {                                                                                           \
        if (!(expr))                                                                               \
            prism__check_failed(#expr, __FILE__, __LINE__);                                        \
    } while (0)

#define PRISM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
