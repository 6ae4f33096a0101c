/* Errors are negative errno values; sl_strerror names them. */
#ifndef SLUICE_ERRORS_H
#define SLUICE_ERRORS_H

/* Text for a negative (or positive) errno value, with sluice's meanings where they differ:
 * -EMSGSIZE "exceeds the MTU", -ENETUNREACH "no route", -ETIMEDOUT "timed out". */
const char *sl_strerror(int err);

#endif
