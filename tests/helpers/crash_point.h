/* A crash of the file store's process at its nth write, for crash harnesses that
 * fork a child to die (events_killed, dispatch_killed).
 *
 * crash_arm(nth, 0) installs the store's I/O hook (store/file_impl.h): the nth write
 * is cut to a prefix of itself (none, some or all of it: eighths chosen by nth) and
 * fails; the process then exits (0) at the store's next I/O, before anything is
 * taken back, as a kill would leave the file. The caller exits too when
 * crash_dead is set after a call. crash_arm(nth, 1): the write fails the same way
 * and the process goes on (a storage error, not a crash). nth 0: no fault; the
 * writes are counted in crash_writes either way. Syncs are skipped (a kill keeps
 * the page cache). */
#ifndef TEST_CRASH_POINT_H
#define TEST_CRASH_POINT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "store/file_impl.h"

static uint64_t crash_writes, crash_nth;
static int crash_dead, crash_goes_on;

static inline int crash_hook(int op, size_t *n)
{
    if (crash_dead && !crash_goes_on)
        _exit(0); /* the crash: nothing after the cut write reaches the file */
    if (op != ENG__IO_WRITE)
        return op == ENG__IO_FSYNC ? -1 : 0;
    if (++crash_writes != crash_nth)
        return 0;
    crash_dead = 1;
    if (n)
        *n = (size_t)((*n * ((crash_nth * 5) % 9)) / 8);
    return EIO;
}

static inline void crash_arm(uint64_t nth, int goes_on)
{
    crash_writes = 0;
    crash_nth = nth;
    crash_dead = 0;
    crash_goes_on = goes_on;
    eng__file_io_fault = crash_hook;
}

static inline void crash_disarm(void) { eng__file_io_fault = NULL; }

#endif
