-- 043: presence (API.md section 9). A user is online while a socket of theirs
-- is connected to a live gateway instance; offline once `grace` seconds have
-- passed without one. Each gateway counts its sockets per user here
-- (presence_connect / presence_disconnect) and sweeps once a second
-- (presence_sweep); an instance whose heartbeat (messaging.gateway_instances,
-- every 10 s) is older than 30 s counts as dead, its sockets as closed at its
-- last heartbeat. Changes go to the gateways as a tagged NOTIFY
-- {"t":"presence","userId":U,"online":B,"lastSeenAt":ISO|null,"conversations":[ids]}
-- (docs/events.md), and from them to the rooms of those conversations.

CREATE TABLE IF NOT EXISTS messaging.presence_sockets (
  instance  text NOT NULL,
  user_id   integer NOT NULL,
  sockets   integer NOT NULL,
  closed_at timestamptz,             -- when sockets last fell to 0
  PRIMARY KEY (instance, user_id)
);
CREATE INDEX IF NOT EXISTS presence_sockets_user ON messaging.presence_sockets (user_id);
CREATE INDEX IF NOT EXISTS presence_sockets_closed ON messaging.presence_sockets (closed_at) WHERE sockets = 0;

-- What was last announced: the source of participant.online / lastSeenAt.
CREATE TABLE IF NOT EXISTS messaging.presence (
  user_id      integer PRIMARY KEY,
  online       boolean NOT NULL,
  last_seen_at timestamptz           -- NULL while online, or never connected
);

-- Its functions live in sql/api/80_presence.sql.
