-- 041: delivery receipts (API.md section 9).
-- One marker per conversation and recipient: every message of that
-- conversation sent to user_id with id <= up_to_id is delivered, since
-- delivered_at (the time the marker last moved). A message is delivered when
-- it was written to a socket of its recipient (the gateway, through its
-- group commit) or the recipient fetched a page containing it (in the same
-- statement as the page); a read message is delivered too (post_read moves
-- the marker). Moving the marker writes one `messages_delivered` event
-- {conversationId, userId, upToId, deliveredAt} for the room.

CREATE TABLE IF NOT EXISTS messaging.deliveries (
  conversation_id integer NOT NULL,
  user_id         integer NOT NULL,   -- the recipient
  up_to_id        bigint NOT NULL,
  delivered_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id)
);

-- Messages read before this migration count as delivered when read.
INSERT INTO messaging.deliveries (conversation_id, user_id, up_to_id, delivered_at)
SELECT c.id, r.reader, r.up_to, now()
  FROM public.conversations c
  CROSS JOIN LATERAL (
    SELECT CASE WHEN m.sender_id = c.patient_id THEN c.doctor_id ELSE c.patient_id END AS reader, max(m.id) AS up_to
      FROM public.messages m WHERE m.conversation_id = c.id AND m.is_read
     GROUP BY 1) r
ON CONFLICT DO NOTHING;

-- Its functions (mark_delivered, delivered_at, and the reads and writes
-- that move or show the marker) live in sql/api.
