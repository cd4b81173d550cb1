/* The table of operations (shared/ops.c) is what both programs prepare: a
 * hole, a name used twice or a parameter count that disagrees with its SQL
 * would only show as a failed PREPARE at start-up, so it is checked here. */
#include <ctype.h>
#include <stdlib.h>

#include "check.h"
#include "ops.h"

/* The highest $N the statement uses (the parameters libpq must be given). */
static int max_param(const char *sql)
{
    int max = 0;
    for (const char *p = sql; (p = strchr(p, '$')) != NULL; p++)
        if (isdigit((unsigned char)p[1])) {
            int n = atoi(p + 1);
            if (n > max)
                max = n;
        }
    return max;
}

static int is_identifier(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

int main(void)
{
    int holes = 0, bad_names = 0, dup_names = 0, bad_counts = 0, bad_flags = 0, batches = 0;
    for (int i = 0; i < MSG_OP_COUNT; i++) {
        const struct msg_op_def *d = &msg_ops[i];
        if (!d->name || !d->sql) {
            holes++;
            fprintf(stderr, "  op %d has no name or SQL\n", i);
            continue;
        }
        if (!is_identifier(d->name)) {
            bad_names++;
            fprintf(stderr, "  op %d: name \"%s\"\n", i, d->name);
        }
        for (int j = 0; j < i; j++)
            if (msg_ops[j].name && strcmp(msg_ops[j].name, d->name) == 0) {
                dup_names++;
                fprintf(stderr, "  ops %d and %d are both \"%s\"\n", j, i, d->name);
            }
        if (max_param(d->sql) != d->nparams) {
            bad_counts++;
            fprintf(stderr, "  %s: nparams %d, its SQL uses $%d\n", d->name, d->nparams, max_param(d->sql));
        }
        /* An event is a write; an emitting write answers the five columns. */
        if (d->emits && (!d->writes || !strstr(d->sql, "status, body, event_id, prev_id, data"))) {
            bad_flags++;
            fprintf(stderr, "  %s emits but is not a write of (status, body, event_id, prev_id, data)\n", d->name);
        }
        batches += d->batch;
    }
    CHECK_INT(holes, 0);
    CHECK_INT(bad_names, 0);
    CHECK_INT(dup_names, 0);
    CHECK_INT(bad_counts, 0);
    CHECK_INT(bad_flags, 0);
    CHECK(batches > 0);

    /* What the programs rely on by name. */
    CHECK_STR(msg_ops[MSG_OP_HEALTH].name, "health");
    CHECK_INT(msg_ops[MSG_OP_HEALTH].nparams, 0);
    CHECK(msg_ops[MSG_OP_SEND_MESSAGE].writes && msg_ops[MSG_OP_SEND_MESSAGE].emits &&
          msg_ops[MSG_OP_SEND_MESSAGE].batch);
    CHECK(msg_ops[MSG_OP_MARK_READ].emits && msg_ops[MSG_OP_MARK_DELIVERED_MANY].emits &&
          !msg_ops[MSG_OP_MARK_DELIVERED_MANY].batch);
    /* Reads are never retried as writes, nor batched. */
    CHECK(!msg_ops[MSG_OP_LIST_MESSAGES].writes && !msg_ops[MSG_OP_LIST_MESSAGES].batch);
    CHECK(!msg_ops[MSG_OP_LIST_MESSAGE_ROWS].writes && !msg_ops[MSG_OP_EVENTS_FOR].writes);
    /* The NOTIFY goes on the messaging channel (shared/bus.h). */
    CHECK(strstr(msg_ops[MSG_OP_NOTIFY].sql, "pg_notify('messaging_events'") != NULL);
    /* A SQLSTATE is five characters. */
    CHECK_INT(strlen(MSG_SQLSTATE_TOKEN_REVOKED), 5);
    return check_report("ops");
}
