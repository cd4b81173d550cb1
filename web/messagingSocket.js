// messagingSocket: the browser client of the messaging gateway (API.md
// section 5), an ES module on socket.io-client 4.x. See web/README.md.
//
//   import messagingSocket from './messagingSocket.js';
//   messagingSocket.connect({ url: location.origin, token });
//   messagingSocket.on('new_message', ({ message, conversationId }) => ...);
//   await messagingSocket.joinRoom(12, { lastMessageId: 340 });
//   const stored = await messagingSocket.sendMessage(12, 'Bonjour docteur');
//
// What it does by default:
// - the token is read again (getToken) before every connection attempt;
// - rooms are joined again after a reconnection the server did not recover
//   (socket.recovered === false), and what was missed is fetched through
//   REST `GET .../messages?after=<last id seen>` and handed to the listeners
//   as ordinary `new_message` events; every message reaches the listeners
//   once (deduplicated by id), in ascending id order per conversation;
// - sendMessage resolves with the stored message (the ack) and retries with
//   the same clientId, so a retry never stores the message twice; while the
//   socket is down it falls back to REST after a grace period;
// - typing_start is throttled and typing_stop is sent by itself after a few
//   seconds of silence, on sendMessage, and on leaveRoom.
// Listeners receive the event's data object only (events sent to a room carry
// one more, last argument — the recovery offset — which stays inside).
import { io as bundledIo } from './vendor/socket.io.esm.min.js';

/** Events relayed from the server, first argument only. */
export const SERVER_EVENTS = Object.freeze([
  'connection_established', 'room_joined', 'room_left', 'new_message',
  'messages_read', 'typing_start', 'typing_stop', 'error', 'token_expiring',
  'messages_delivered', 'presence',
]);

/**
 * Events of the module itself:
 *   status         'connecting' | 'connected' | 'reconnecting' | 'disconnected'
 *   synced         {recovered}: after each (re)connection, once the rooms are
 *                  joined again and what was missed has been delivered
 *   connect_error  {message}: a refused or failed connection attempt
 */
export const CLIENT_EVENTS = Object.freeze(['status', 'synced', 'connect_error']);

/** Error codes worth another attempt with the same clientId. */
const RETRYABLE = new Set(['unavailable', 'internal', 'rate_limited', 'timeout', 'disconnected', 'network']);
/** How many message ids each conversation remembers for deduplication. */
const SEEN_MAX = 1000;

/** An Error with the contract's code (and the HTTP status for REST). */
export class MessagingError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.name = 'MessagingError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh clientId (1–64 characters, API.md section 4). */
export function newClientId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  let s = 'c-';
  for (let i = 0; i < 4; i++) s += Math.random().toString(36).slice(2, 10);
  return s + Date.now().toString(36);
}

const toId = (v) => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (!Number.isInteger(n) || n <= 0) throw new MessagingError('invalid_request', `not a conversation id: ${v}`);
  return n;
};

export class MessagingSocket {
  constructor() {
    this._listeners = new Map();
    this._rooms = new Map(); // conversationId -> room state
    this._typing = new Map(); // conversationId -> {active, lastSent, timer}
    this._connectWaiters = new Set();
    this._socket = null;
    this._status = 'disconnected';
    this._everConnected = false;
    this.user = null; // {userId, userRole} from connection_established
  }

  // ---- connection -------------------------------------------------------------

  /**
   * Opens the connection (and keeps it open: socket.io-client reconnects by
   * itself). Options:
   *   url            where the gateway is: the site's origin behind nginx
   *                  (default: location.origin in a browser)
   *   token          the JWT
   *   getToken       optional () => token | Promise<token>, called before each
   *                  connection attempt and REST call (a refreshed token)
   *   apiUrl         the REST base (default `${url}/api/messaging`)
   *   io             the socket.io-client `io` function (default: the bundled
   *                  browser build; pass the npm package's from Node)
   *   fetch          fetch implementation (default globalThis.fetch)
   *   socketOptions  more socket.io-client options (transports, reconnectionDelay...)
   *   ackTimeout     ms to wait for an ack (5000)
   *   sendTimeout    ms sendMessage keeps trying before it rejects (30000)
   *   offlineGrace   ms sendMessage waits for the socket before using REST (3000)
   *   typingInterval ms between two typing_start while typing goes on (2000)
   *   typingTimeout  ms of silence after which typing_stop is sent (3000)
   * Returns this.
   */
  connect(options = {}) {
    if (this._socket) this.disconnect();
    const loc = globalThis.location;
    const url = (options.url || (loc && loc.origin) || '').replace(/\/+$/, '');
    if (!url) throw new MessagingError('invalid_request', 'connect: url is required outside a browser');
    if (!options.token && !options.getToken) throw new MessagingError('unauthorized', 'connect: token is required');
    this._opts = {
      ackTimeout: 5000, sendTimeout: 30000, offlineGrace: 3000, typingInterval: 2000, typingTimeout: 3000,
      ...options,
    };
    this._url = url;
    this._apiUrl = (options.apiUrl || `${url}/api/messaging`).replace(/\/+$/, '');
    this._token = options.token || null;
    this._getToken = typeof options.getToken === 'function' ? options.getToken : null;
    this._fetch = options.fetch || (globalThis.fetch && globalThis.fetch.bind(globalThis));
    this._authRetries = 0;
    this._everConnected = false;
    const io = options.io || bundledIo;
    const socket = io(url, {
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      ...options.socketOptions,
      forceNew: true,
      auth: (cb) => { this._freshToken().then((token) => cb({ token })); },
    });
    this._socket = socket;
    this._setStatus('connecting');

    socket.on('connect', () => this._onConnect(socket));
    socket.on('disconnect', (reason) => {
      if (socket !== this._socket) return;
      this._failConnectWaiters(false);
      // A server DISCONNECT or our own disconnect() end it; anything else is retried.
      this._setStatus(socket.active ? 'reconnecting' : 'disconnected');
    });
    socket.on('connect_error', (err) => {
      if (socket !== this._socket) return;
      this._emit('connect_error', { message: (err && err.message) || 'connection failed' });
      if (socket.active) {
        this._setStatus(this._everConnected ? 'reconnecting' : 'connecting');
      } else if (this._getToken && this._authRetries < 3) {
        // Refused at CONNECT (a token that expired, say): the client gives up;
        // with a getToken callback, try again with what it gives now.
        this._authRetries += 1;
        this._setStatus(this._everConnected ? 'reconnecting' : 'connecting');
        setTimeout(() => { if (socket === this._socket && !socket.connected) socket.connect(); }, 1000 * this._authRetries);
      } else {
        this._setStatus('disconnected');
        this._failConnectWaiters(true);
      }
    });
    for (const name of SERVER_EVENTS) {
      socket.on(name, (...args) => {
        if (socket !== this._socket) return;
        this._onServerEvent(name, args[0]);
      });
    }
    return this;
  }

  /** Closes the connection for good and forgets rooms and pending typing. */
  disconnect() {
    const socket = this._socket;
    for (const cid of [...this._typing.keys()]) this.stopTyping(cid);
    this._socket = null;
    this._rooms.clear();
    this._failConnectWaiters(true);
    if (socket) {
      socket.disconnect();
      socket.removeAllListeners();
    }
    this._setStatus('disconnected');
    return this;
  }

  /** Replaces the token used from now on (next reconnection, next REST call). */
  setToken(token) { this._token = token; return this; }

  get connected() { return !!(this._socket && this._socket.connected); }

  /** 'connecting' | 'connected' | 'reconnecting' | 'disconnected' */
  get status() { return this._status; }

  /** The underlying socket.io-client Socket (for what this module does not cover). */
  get socket() { return this._socket; }

  /** Ids of the conversations whose rooms this client is in (or will rejoin). */
  get rooms() { return [...this._rooms.keys()]; }

  /**
   * Resolves once connected (at once if already); rejects when the
   * connection is refused for good or after ms.
   */
  whenConnected(ms = 10000) {
    if (this.connected) return Promise.resolve(this);
    if (!this._socket) return Promise.reject(new MessagingError('disconnected', 'not connected (call connect first)'));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => { clearTimeout(w.t); this._connectWaiters.delete(w); resolve(this); },
        reject: (err) => { clearTimeout(w.t); this._connectWaiters.delete(w); reject(err); },
        final: true,
      };
      w.t = setTimeout(() => w.reject(new MessagingError('timeout', `not connected within ${ms} ms`)), ms);
      this._connectWaiters.add(w);
    });
  }

  // ---- listeners --------------------------------------------------------------

  /** Adds a listener; it gets the event's data object. Returns this. */
  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('on: listener must be a function');
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return this;
  }

  /** Removes a listener (or every listener of the event without fn). Returns this. */
  off(event, fn) {
    if (fn === undefined) this._listeners.delete(event);
    else if (this._listeners.has(event)) this._listeners.get(event).delete(fn);
    return this;
  }

  // ---- rooms --------------------------------------------------------------------

  /**
   * Joins a conversation's room and keeps it joined across reconnections.
   * options.lastMessageId: the newest message id the caller already has (its
   * history); what came after it is delivered as new_message at once, and the
   * module will not deliver it or older ones again. Without it, the module
   * starts from the conversation's newest message.
   * Resolves with the ack {ok: true, conversationId}; rejects with a
   * MessagingError (not_found, ...) — the room is then forgotten.
   */
  async joinRoom(conversationId, options = {}) {
    const cid = toId(conversationId);
    let room = this._rooms.get(cid);
    if (!room) {
      room = { cid, cursor: null, floor: 0, seen: new Set(), seenOrder: [], joinedSid: null, joining: null,
        catchingUp: false, buffer: [] };
      this._rooms.set(cid, room);
    }
    if (Number.isInteger(options.lastMessageId) && options.lastMessageId >= 0) {
      room.floor = Math.max(room.floor, options.lastMessageId);
      room.cursor = Math.max(room.cursor || 0, options.lastMessageId);
    }
    if (!this.connected) await this.whenConnected(this._opts ? this._opts.sendTimeout : 10000);
    return this._joinAndSync(room);
  }

  /** Leaves a conversation's room. Resolves with the ack (or null when offline). */
  async leaveRoom(conversationId) {
    const cid = toId(conversationId);
    this.stopTyping(cid);
    this._rooms.delete(cid);
    if (!this.connected) return null;
    const ack = await this._request('leave_room', { conversationId: cid });
    if (!ack.ok) throw new MessagingError(ack.error.code, ack.error.message);
    return ack;
  }

  // ---- messages -----------------------------------------------------------------

  /**
   * Sends a message. Resolves with the stored Message (the ack's); rejects
   * with a MessagingError carrying the contract's code (invalid_request,
   * not_found, conflict...) or 'timeout' when sendTimeout passed. Retries
   * (lost ack, disconnection, unavailable) reuse the same clientId, so the
   * message is stored once. options.clientId: your own id for it.
   */
  async sendMessage(conversationId, content, options = {}) {
    const cid = toId(conversationId);
    if (typeof content !== 'string') throw new MessagingError('invalid_request', 'content must be a string');
    if (!this._socket) throw new MessagingError('disconnected', 'not connected (call connect first)');
    const clientId = options.clientId || newClientId();
    const payload = { conversationId: cid, content, clientId };
    this.stopTyping(cid);
    const { ackTimeout, sendTimeout, offlineGrace } = this._opts;
    const deadline = Date.now() + sendTimeout;
    let lastErr = null;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new MessagingError('timeout', `message not sent within ${sendTimeout} ms`
            + (lastErr ? ` (${lastErr.code}: ${lastErr.message})` : ''));
        }
        await sleep(Math.min(left, Math.min(2000, 200 * 2 ** Math.min(attempt, 4))));
      }
      if (!this._socket) throw new MessagingError('disconnected', 'disconnected before the message was sent');
      try {
        if (!this.connected) {
          // Wait a little for the socket; then go through REST, same clientId.
          const grace = Math.min(offlineGrace, Math.max(0, deadline - Date.now()));
          const up = await this.whenConnected(grace).then(() => true, () => false);
          if (!up) {
            const res = await this._rest('POST', `/conversations/${cid}/messages`, { content, clientId });
            return res.message;
          }
        }
        const ack = await this._request('send_message', payload, ackTimeout);
        if (ack && ack.ok) return ack.message;
        const e = (ack && ack.error) || {};
        lastErr = new MessagingError(e.code || 'internal', e.message || 'refused');
      } catch (err) {
        lastErr = err instanceof MessagingError ? err : new MessagingError('network', String(err && err.message));
      }
      if (!RETRYABLE.has(lastErr.code)) throw lastErr;
    }
  }

  /**
   * Marks the conversation's messages from the other side as read. Resolves
   * with updatedCount. Through the socket when connected, else REST.
   */
  async markAsRead(conversationId) {
    const cid = toId(conversationId);
    if (this.connected) {
      try {
        const ack = await this._request('mark_as_read', { conversationId: cid });
        if (ack.ok) return ack.updatedCount;
        if (!RETRYABLE.has(ack.error.code)) throw new MessagingError(ack.error.code, ack.error.message);
      } catch (err) {
        if (err instanceof MessagingError && !RETRYABLE.has(err.code)) throw err;
      }
    }
    const res = await this._rest('POST', `/conversations/${cid}/read`);
    return res.updatedCount;
  }

  // ---- typing ---------------------------------------------------------------------

  /**
   * Call on every keystroke: typing_start goes out at most every
   * typingInterval ms, and typing_stop follows typingTimeout ms after the
   * last call.
   */
  startTyping(conversationId) {
    const cid = toId(conversationId);
    const t = this._typing.get(cid) || { active: false, lastSent: 0, timer: null };
    const now = Date.now();
    if (!t.active || now - t.lastSent >= this._opts.typingInterval) {
      t.active = true;
      t.lastSent = now;
      if (this.connected) this._socket.emit('typing_start', { conversationId: cid });
    }
    clearTimeout(t.timer);
    t.timer = setTimeout(() => this.stopTyping(cid), this._opts.typingTimeout);
    this._typing.set(cid, t);
  }

  /** Sends typing_stop if typing_start was sent. */
  stopTyping(conversationId) {
    const cid = toId(conversationId);
    const t = this._typing.get(cid);
    if (!t) return;
    clearTimeout(t.timer);
    this._typing.delete(cid);
    if (t.active && this.connected) this._socket.emit('typing_stop', { conversationId: cid });
  }

  // ---- internals ------------------------------------------------------------------

  _emit(event, data) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(data);
      } catch (err) {
        // One listener's bug must not stop the others, nor the module.
        (globalThis.console && console.error) && console.error(`messagingSocket: a "${event}" listener threw`, err);
      }
    }
  }

  _setStatus(s) {
    if (s === this._status) return;
    this._status = s;
    this._emit('status', s);
  }

  _failConnectWaiters(final) {
    if (!final) return;
    for (const w of [...this._connectWaiters]) w.reject(new MessagingError('disconnected', 'the connection was closed'));
  }

  async _freshToken() {
    if (this._getToken) {
      try {
        const t = await this._getToken();
        if (t) this._token = t;
      } catch { /* keep the one we have */ }
    }
    return this._token;
  }

  _onServerEvent(name, data) {
    if (name === 'connection_established') this.user = data || null;
    if (name === 'token_expiring') this._refreshToken();
    if (name === 'new_message') {
      if (!data || !data.message) return;
      const cid = Number(data.conversationId !== undefined ? data.conversationId : data.message.conversationId);
      const room = this._rooms.get(cid);
      if (room && room.catchingUp) { room.buffer.push(data.message); return; }
      this._deliver(cid, data.message, room);
      return;
    }
    if (name === 'typing_start' || name === 'typing_stop' || name === 'messages_read'
        || name === 'messages_delivered' || name === 'room_joined' || name === 'room_left') {
      if (data && data.conversationId !== undefined) data = { ...data, conversationId: Number(data.conversationId) };
    }
    this._emit(name, data);
  }

  /**
   * The gateway said the token expires soon (API.md section 7): asks
   * getToken for a fresh one and sends it with refresh_token. Listeners hear
   * `token_refreshed {expiresAt}` or `token_refresh_failed {message}`;
   * without a fresh token the gateway ends the connection at exp.
   */
  async _refreshToken() {
    if (!this._getToken) return;
    try {
      const token = await this._getToken();
      if (!token) throw new MessagingError('unauthorized', 'getToken gave no token');
      this._token = token;
      const ack = await this._request('refresh_token', { token });
      if (ack.ok) this._emit('token_refreshed', { expiresAt: ack.expiresAt });
      else this._emit('token_refresh_failed', { message: (ack.error && ack.error.message) || 'refused' });
    } catch (err) {
      this._emit('token_refresh_failed', { message: (err && err.message) || 'refresh failed' });
    }
  }

  /** Hands a message to the listeners unless already delivered. */
  _deliver(cid, message, room = this._rooms.get(cid)) {
    if (room) {
      if (message.id <= room.floor || room.seen.has(message.id)) return;
      room.seen.add(message.id);
      room.seenOrder.push(message.id);
      if (room.seenOrder.length > SEEN_MAX) room.seen.delete(room.seenOrder.shift());
      if (room.cursor === null || message.id > room.cursor) room.cursor = message.id;
    }
    this._emit('new_message', { message, conversationId: cid });
  }

  _onConnect(socket) {
    if (socket !== this._socket) return;
    const reconnect = this._everConnected;
    this._everConnected = true;
    this._authRetries = 0;
    // Recovered: the server kept this socket's rooms (same id) and replays
    // what was missed. Otherwise every room is joined again and caught up.
    const recovered = reconnect && socket.recovered === true;
    for (const room of this._rooms.values()) {
      // Rooms joined on the lost connection are back only when recovered;
      // rooms asked for while offline are joined now either way.
      room.joinedSid = recovered && room.joinedSid !== null ? socket.id : null;
    }
    // Typing state does not survive a reconnection.
    for (const t of this._typing.values()) t.active = false;
    const syncs = [...this._rooms.values()].map((room) => this._joinAndSync(room).catch(() => {}));
    this._setStatus('connected');
    for (const w of [...this._connectWaiters]) w.resolve();
    Promise.all(syncs).then(() => {
      if (socket === this._socket && socket.connected) this._emit('synced', { recovered });
    });
  }

  /** join_room on this socket (once per connection), then the catch-up. */
  _joinAndSync(room) {
    const socket = this._socket;
    if (room.joining && room.joiningSid === socket.id) return room.joining;
    if (room.joinedSid === socket.id && room.lastAck) return Promise.resolve(room.lastAck);
    room.joiningSid = socket.id;
    room.joining = (async () => {
      const ack = await this._request('join_room', { conversationId: room.cid });
      if (!ack.ok) {
        if (this._rooms.get(room.cid) === room) this._rooms.delete(room.cid);
        throw new MessagingError(ack.error.code, ack.error.message);
      }
      room.joinedSid = socket.id;
      room.lastAck = ack;
      await this._catchUp(room);
      return ack;
    })();
    room.joining.then(() => { room.joining = null; }, () => { room.joining = null; });
    return room.joining;
  }

  /**
   * Fetches what came after room.cursor through REST and delivers it; live
   * new_message events of the room wait meanwhile so that order holds.
   * Without a cursor, only learns the newest id.
   */
  async _catchUp(room) {
    if (room.catchingUp) return;
    room.catchingUp = true;
    try {
      if (room.cursor === null) {
        const res = await this._rest('GET', `/conversations/${room.cid}/messages?limit=1`);
        const last = res.messages[res.messages.length - 1];
        if (room.cursor === null) room.cursor = last ? last.id : 0;
        else if (last && last.id > room.cursor) room.cursor = last.id;
      } else {
        let after = room.cursor;
        for (let page = 0; page < 50; page++) {
          const res = await this._rest('GET', `/conversations/${room.cid}/messages?after=${after}&limit=100`);
          for (const m of res.messages) this._deliver(room.cid, m, room);
          if (!res.hasMore || res.messages.length === 0) break;
          after = res.messages[res.messages.length - 1].id;
        }
      }
    } catch (err) {
      this._emit('error', {
        message: `could not fetch the missed messages: ${err.message}`,
        code: err.code || 'unavailable',
        event: 'catch_up',
      });
    } finally {
      room.catchingUp = false;
      const buffered = room.buffer.splice(0).sort((a, b) => a.id - b.id);
      for (const m of buffered) this._deliver(room.cid, m, room);
    }
  }

  /** Emits with an ack; resolves with the ack's data; rejects (MessagingError) on timeout or disconnection. */
  _request(event, data, ms = (this._opts && this._opts.ackTimeout) || 5000) {
    const socket = this._socket;
    if (!socket || !socket.connected) return Promise.reject(new MessagingError('disconnected', 'not connected'));
    return new Promise((resolve, reject) => {
      socket.timeout(ms).emit(event, data, (err, ack) => {
        if (err) {
          const lost = /disconnected/.test(err.message);
          reject(new MessagingError(lost ? 'disconnected' : 'timeout', `${event}: ${err.message}`));
        } else if (!ack || typeof ack !== 'object') {
          reject(new MessagingError('internal', `${event}: unexpected ack`));
        } else {
          resolve(ack);
        }
      });
    });
  }

  /** A REST call to the API with the current token; resolves with the JSON body. */
  async _rest(method, path, body) {
    if (!this._fetch) throw new MessagingError('network', 'no fetch available for REST');
    const token = await this._freshToken();
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await this._fetch(this._apiUrl + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new MessagingError('network', `${method} ${path}: ${err && err.message}`);
    }
    let json = null;
    try { json = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) {
      const e = (json && json.error) || {};
      throw new MessagingError(e.code || (res.status >= 500 ? 'unavailable' : 'http_error'),
        e.message || `${method} ${path}: HTTP ${res.status}`, res.status);
    }
    return json;
  }
}

/** A new, independent client (one per user session; tests make several). */
export function createMessagingSocket() {
  return new MessagingSocket();
}

/** The page's shared client. */
const messagingSocket = new MessagingSocket();
export { messagingSocket };
export default messagingSocket;
