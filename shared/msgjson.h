/* The JSON of a page of messages (API.md section 3, Message) written from
 * the rows of messaging.list_message_rows: the database checks and reads,
 * the caller formats (cheaper for the database, the shared resource). */
#ifndef MSG_MSGJSON_H
#define MSG_MSGJSON_H

#include <libpq-fe.h>

#include "sbuf.h"

/* ISO 8601 UTC with milliseconds from microseconds since the epoch, as
 * PostgreSQL's to_char(... 'MS') writes it (truncated). buf: 80 bytes (the compiler cannot see the fields are short). */
void msg_iso_time(long long us, char *buf);

/* From a list_message_rows result (a header row: status 200/401/404 and
 * hasMore or the 401's reason; then the messages): the HTTP status, and the
 * body in *out. Returns -1 when the result is malformed. */
int msg_page_json(const PGresult *res, int *status, struct sbuf *out);

#endif
