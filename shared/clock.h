/* Time for timeouts and backoffs. */
#ifndef MSG_CLOCK_H
#define MSG_CLOCK_H

/* Monotonic milliseconds: never jumps with the wall clock. */
long long msg_now_ms(void);

#endif
