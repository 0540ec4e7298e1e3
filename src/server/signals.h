/*
 * signals.h — SIGTERM, SIGINT and SIGHUP for `gatehouse serve`, taken by a
 * thread of their own.
 *
 * The main thread's loop talks to the store (reloads, housekeeping), and a
 * store that stops answering can keep it in a call for ever. The signal
 * thread does not wait for it: on the first SIGTERM or SIGINT it logs
 * server.stopping and arms a watchdog that ends the process with status 1
 * (logging server.stop_timeout) if the stop has not finished within the
 * stop timeout; a second one ends it at once (server.stop_forced). What
 * was answered was durable already, and what was not was never promised.
 */
#ifndef GH_SERVER_SIGNALS_H
#define GH_SERVER_SIGNALS_H

#include <stdint.h>

struct sigwatch;

enum sigwatch_event { SIGWATCH_TICK, SIGWATCH_HUP, SIGWATCH_STOP };

/* Blocks the three signals in the calling thread, and so in every thread
 * it starts afterwards: call it before the first thread starts. */
void	sigwatch_block(void);
/* Starts the signal thread; stop_timeout in seconds (> 0). NULL when the
 * thread cannot start. */
struct sigwatch *sigwatch_start(int64_t stop_timeout);
/* Waits at most ms for a signal: SIGWATCH_STOP once a stop was asked
 * (and for ever after), else SIGWATCH_HUP for each SIGHUP (several sent
 * at once may come as one), else SIGWATCH_TICK when ms passed. */
enum sigwatch_event sigwatch_wait(struct sigwatch *, int ms);

#endif
