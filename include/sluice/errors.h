/* Errors are negative errno values; sl_strerror names them. */
#ifndef SLUICE_ERRORS_H
#define SLUICE_ERRORS_H

/* Text for a negative (or positive) errno value, with sluice's meanings where they differ:
 * -EMSGSIZE "message exceeds the MTU", -ENETUNREACH "no route to destination", -ETIMEDOUT
 * "timed out" (sluice_errors(3)). */
const char *sl_strerror(int err);

#endif
