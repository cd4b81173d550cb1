// The demo page: pick a demo user or paste a token, see the conversations
// (unread badges, last message), open one (history with "load older"), send,
// and see the other side's messages, typing and read receipts live.
// Everything that comes from users is put in the page with textContent.
import messagingSocket, { newClientId } from './messagingSocket.js';

const $ = (id) => document.getElementById(id);
const API = `${location.origin}/api/messaging`;
const PAGE_SIZE = 30;
const TYPING_HIDE_MS = 6000; // a typing_start not refreshed for this long is stale
const TOKEN_KEY = 'messaging.demo.token';
const NAME_KEY = 'messaging.demo.name';

const state = {
  token: null,
  me: null, // {id, role, name}
  conversations: new Map(), // id -> Conversation (API.md) kept up to date
  openId: null,
  threads: new Map(), // conversationId -> {messages: Map id -> Message, hasMore, loaded}
  pending: new Map(), // clientId -> {conversationId, content, li}
  typing: new Map(), // conversationId -> timer
  readTimer: null,
};

// ---- small helpers ------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'type' || k === 'datetime' || k === 'title') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c); // strings: text nodes
  return e;
}

function decodeJwt(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

const displayName = (u) => (u ? `${u.role === 'medecin' ? 'Dr ' : ''}${u.firstName} ${u.lastName}` : '');
// The role, as a word: the users table knows the role, not how a person
// wants to be named, so the page says "patient" (the role's name, as
// "médecin" is) and never a guessed "patiente" nor "patient·e".
// Presence of the other side (API.md section 9): "en ligne", "vu il y a 12 min".
function presenceLabel(u) {
  if (!u || typeof u.online !== 'boolean') return '';
  if (u.online) return 'en ligne';
  if (!u.lastSeenAt) return 'hors ligne';
  const min = Math.max(0, Math.round((Date.now() - Date.parse(u.lastSeenAt)) / 60000));
  if (min < 1) return 'vu à l\'instant';
  if (min < 60) return `vu il y a ${min} min`;
  const h = Math.round(min / 60);
  return h < 24 ? `vu il y a ${h} h` : `vu le ${new Date(u.lastSeenAt).toLocaleDateString('fr-FR')}`;
}
const roleLabel = (role) => (role === 'medecin' ? 'médecin' : role === 'patient' ? 'patient' : role || '');

const timeFmt = new Intl.DateTimeFormat('fr-FR', { hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'short' });
function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFmt.format(d) : `${dateFmt.format(d)} ${timeFmt.format(d)}`;
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = new Error((json && json.error && json.error.message) || `HTTP ${res.status}`);
    e.code = json && json.error && json.error.code;
    e.status = res.status;
    throw e;
  }
  return json;
}

function showError(id, message) {
  $(id).textContent = message || '';
}

// ---- connection state ------------------------------------------------------------

const STATUS_LABEL = {
  connecting: 'Connexion…',
  connected: 'Connecté',
  reconnecting: 'Reconnexion…',
  disconnected: 'Déconnecté',
};

function showStatus(s) {
  $('conn-state').dataset.state = s;
  $('conn-label').textContent = STATUS_LABEL[s] || s;
}

// ---- login -------------------------------------------------------------------------

async function loadDemoUsers() {
  let users = [];
  try {
    const res = await fetch('demo-tokens.json', { cache: 'no-store' });
    if (res.ok) users = await res.json();
  } catch { /* no list: paste box only */ }
  if (!Array.isArray(users) || users.length === 0) return;
  const list = $('demo-users');
  list.replaceChildren();
  for (const u of users) {
    if (!u || typeof u.token !== 'string') continue;
    const name = u.name || [u.firstName, u.lastName].filter(Boolean).join(' ') || `Utilisateur ${u.id}`;
    const b = el('button', { type: 'button', class: 'demo-user', 'data-user-id': u.id },
      el('span', { class: 'demo-name', text: name }),
      el('span', { class: 'demo-role', text: roleLabel(u.role) }));
    b.addEventListener('click', () => login(u.token, name));
    list.append(el('li', {}, b));
  }
  $('demo-block').hidden = list.children.length === 0;
}

async function login(token, name) {
  token = (token || '').trim();
  const claims = decodeJwt(token);
  const id = claims && Number(claims.sub !== undefined ? claims.sub : claims.userId !== undefined ? claims.userId : claims.id);
  if (!Number.isInteger(id) || id <= 0) {
    showError('login-error', "Ce jeton n'est pas lisible (un JWT a trois parties séparées par des points).");
    return;
  }
  showError('login-error', '');
  state.token = token;
  state.me = { id, role: claims.role || null, name: name || null };
  // Check the token with a REST call before showing anything: who it is
  // (GET /me, the users table's own names), then the conversations.
  try {
    const { user } = await api('GET', '/me');
    state.me = { id: user.id, role: user.role, name: displayName(user) };
    await loadConversations();
  } catch (err) {
    state.token = null;
    showError('login-error', err.status === 401 ? 'Jeton refusé (expiré ou invalide).' : `Erreur : ${err.message}`);
    return;
  }
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (name) sessionStorage.setItem(NAME_KEY, name); else sessionStorage.removeItem(NAME_KEY);
  } catch { /* storage disabled */ }
  $('login').hidden = true;
  $('app').hidden = false;
  $('whoami').hidden = false;
  renderWhoami();
  messagingSocket.connect({ url: location.origin, getToken: () => state.token });
  for (const c of state.conversations.values()) joinConversation(c);
  loadAvailableUsers();
}

function renderWhoami() {
  const me = state.me;
  const role = me.role ? ` (${roleLabel(me.role)})` : '';
  $('me-name').textContent = me.name ? `${me.name}${role}` : `Utilisateur n° ${me.id}${role}`;
  $('me-name').dataset.userId = String(me.id);
}

function logout() {
  messagingSocket.disconnect();
  syncedOnce = false;
  try { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(NAME_KEY); } catch { /* ignore */ }
  state.token = null;
  state.me = null;
  state.conversations.clear();
  state.threads.clear();
  state.pending.clear();
  state.openId = null;
  $('conv-list').replaceChildren();
  $('messages').replaceChildren();
  $('app').hidden = true;
  $('chat-pane').hidden = true;
  document.body.classList.remove('chat-open');
  $('whoami').hidden = true;
  $('no-chat').hidden = true;
  $('login').hidden = false;
  $('token-input').value = '';
}

// ---- conversations list --------------------------------------------------------------

async function loadConversations() {
  const { conversations } = await api('GET', '/conversations?limit=100');
  for (const c of conversations) {
    const old = state.conversations.get(c.id);
    // A count we already zeroed for the open conversation stays zero.
    if (old && c.id === state.openId && document.visibilityState === 'visible') c.unreadCount = 0;
    state.conversations.set(c.id, c);
  }
  renderList();
}

function joinConversation(c) {
  const lastMessageId = c.lastMessage ? c.lastMessage.id : 0;
  messagingSocket.joinRoom(c.id, { lastMessageId }).catch((err) => {
    showError('list-error', `Conversation ${c.id} : ${err.message}`);
  });
}

function sortedConversations() {
  return [...state.conversations.values()].sort((a, b) => {
    const ta = a.lastMessageAt ? Date.parse(a.lastMessageAt) : 0;
    const tb = b.lastMessageAt ? Date.parse(b.lastMessageAt) : 0;
    return tb - ta || b.id - a.id;
  });
}

function renderList() {
  const list = $('conv-list');
  const items = [];
  for (const c of sortedConversations()) {
    const name = displayName(c.participant);
    const typing = state.typing.has(c.id);
    const last = c.lastMessage;
    const preview = typing
      ? 'écrit…'
      : last ? `${last.senderId === state.me.id ? 'Vous : ' : ''}${last.content}` : 'Pas encore de message';
    const unread = c.unreadCount || 0;
    const badge = unread > 0
      ? el('span', { class: 'badge', 'data-count': unread },
        el('span', { 'aria-hidden': 'true', text: unread > 99 ? '99+' : String(unread) }),
        el('span', { class: 'sr-only', text: `, ${unread} message${unread > 1 ? 's' : ''} non lu${unread > 1 ? 's' : ''}` }))
      : null;
    const button = el('button', {
      type: 'button', class: 'conv', 'aria-current': c.id === state.openId ? 'true' : null,
    },
    el('span', { class: 'conv-top' },
      el('span', { class: 'conv-name', text: name }),
      el('time', { class: 'conv-time', datetime: c.lastMessageAt || '', text: shortTime(c.lastMessageAt) })),
    el('span', { class: 'conv-bottom' },
      el('span', { class: `conv-preview${typing ? ' is-typing' : ''}`, text: preview }),
      c.status !== 'active' ? el('span', { class: 'closed-tag', text: 'close' }) : null,
      badge));
    button.addEventListener('click', () => openConversation(c.id));
    items.push(el('li', { 'data-conversation-id': c.id, class: unread > 0 ? 'unread' : null }, button));
  }
  list.replaceChildren(...items);
  $('conv-empty').hidden = items.length > 0;
  renderNoChat();
}

/** What to do when no conversation is open: pick one, or start one. */
function renderNoChat() {
  const none = state.openId === null;
  $('no-chat').hidden = !none;
  if (!none) return;
  const other = state.me && state.me.role === 'medecin' ? 'un de vos patients' : 'un de vos médecins';
  let text;
  if (state.conversations.size > 0) {
    text = 'Choisissez une conversation dans la liste pour lire ses messages et répondre.';
    if (!$('new-conv').hidden) text += ` Pour écrire à ${other}, choisissez son nom sous « Nouvelle conversation avec ».`;
  } else if (!$('new-conv').hidden) {
    text = `Aucune conversation pour l'instant : choisissez ${other} sous « Nouvelle conversation avec », puis « Ouvrir ».`;
  } else {
    text = `Aucune conversation, et personne à qui écrire : votre compte n'est encore lié à ${other}. `
      + "Demandez à l'accueil de l'établissement de faire le lien.";
  }
  $('no-chat-text').textContent = text;
}

async function loadAvailableUsers() {
  try {
    const { users } = await api('GET', '/available-users');
    const free = users.filter((u) => u.conversationId === null);
    const sel = $('new-conv-user');
    sel.replaceChildren(...free.map((u) => el('option', { value: String(u.id), text: displayName(u) })));
    $('new-conv').hidden = free.length === 0;
  } catch {
    $('new-conv').hidden = true;
  }
  renderNoChat();
}

async function startConversation(participantId) {
  try {
    const { conversation } = await api('POST', '/conversations', { participantId });
    state.conversations.set(conversation.id, conversation);
    renderList();
    joinConversation(conversation);
    loadAvailableUsers();
    openConversation(conversation.id);
  } catch (err) {
    showError('list-error', `Impossible d'ouvrir la conversation : ${err.message}`);
  }
}

// ---- one conversation -------------------------------------------------------------------

function thread(cid) {
  if (!state.threads.has(cid)) state.threads.set(cid, { messages: new Map(), hasMore: false, loaded: false });
  return state.threads.get(cid);
}

async function openConversation(cid) {
  const c = state.conversations.get(cid);
  if (!c) return;
  if (state.openId !== null && state.openId !== cid) messagingSocket.stopTyping(state.openId);
  state.openId = cid;
  showError('chat-error', '');
  $('chat-pane').hidden = false;
  document.body.classList.add('chat-open');
  $('chat-title').textContent = displayName(c.participant);
  renderChatSub(c);
  const closed = c.status !== 'active';
  $('message-input').disabled = closed;
  $('send').disabled = closed;
  $('messages').replaceChildren();
  $('thread-empty').hidden = true;
  renderTyping();
  renderList();
  const t = thread(cid);
  if (!t.loaded) {
    try {
      const res = await api('GET', `/conversations/${cid}/messages?limit=${PAGE_SIZE}`);
      for (const m of res.messages) t.messages.set(m.id, m);
      t.hasMore = res.hasMore;
      t.loaded = true;
    } catch (err) {
      showError('chat-error', `Historique indisponible : ${err.message}`);
    }
  }
  if (state.openId !== cid) return;
  renderThread(cid);
  scrollToBottom();
  $('chat-title').focus({ preventScroll: true });
  markReadSoon();
}

function renderThread(cid) {
  const t = thread(cid);
  const ol = $('messages');
  const ids = [...t.messages.keys()].sort((a, b) => a - b);
  ol.replaceChildren(...ids.map((id) => messageItem(t.messages.get(id))));
  for (const p of state.pending.values()) if (p.conversationId === cid) ol.append(p.li);
  $('load-older').hidden = !t.hasMore;
  renderThreadEmpty(cid);
}

/** A conversation without any message yet: say so, and what to do. */
function renderThreadEmpty(cid) {
  const empty = cid === state.openId && thread(cid).loaded && ol().children.length === 0;
  $('thread-empty').hidden = !empty;
  if (!empty) return;
  const c = state.conversations.get(cid);
  $('thread-empty').textContent = c && c.status !== 'active'
    ? 'Pas de message dans cette conversation, et elle est close : plus aucun message ne peut y être envoyé.'
    : `Pas encore de message avec ${displayName(c && c.participant)}. Écrivez le premier ci-dessous, puis « Envoyer ».`;
}
function renderChatSub(c) {
  const sub = $('chat-sub');
  if (c.status !== 'active') {
    sub.textContent = 'Conversation close : plus de nouveaux messages';
    sub.removeAttribute('data-online');
    return;
  }
  const presence = presenceLabel(c.participant);
  sub.textContent = [roleLabel(c.participant && c.participant.role), presence].filter(Boolean).join(' · ');
  if (c.participant && typeof c.participant.online === 'boolean') sub.dataset.online = String(c.participant.online);
}

const ol = () => $('messages');

function messageItem(m, pending = null) {
  const mine = m.senderId === state.me.id;
  const c = state.conversations.get(m.conversationId);
  const who = mine ? 'Vous' : displayName(c && c.participant);
  let status = null;
  if (mine) {
    const [symbol, label] = pending
      ? pending.failed ? ['!', 'Échec de l\'envoi'] : ['…', 'Envoi en cours']
      : m.isRead ? ['✓✓', 'Lu'] : m.deliveredAt ? ['✓✓', 'Distribué'] : ['✓', 'Envoyé'];
    const receipt = pending ? (pending.failed ? 'failed' : 'sending') : m.isRead ? 'read' : m.deliveredAt ? 'delivered' : 'sent';
    status = el('span', { class: 'receipt', 'data-receipt': receipt },
      el('span', { 'aria-hidden': 'true', text: symbol }),
      el('span', { class: 'receipt-label', text: label }));
  }
  const li = el('li', {
    class: `message ${mine ? 'mine' : 'theirs'}${pending ? ' pending' : ''}`,
    'data-message-id': pending ? null : m.id,
    'data-client-id': m.clientId || null,
  },
  el('span', { class: 'sr-only', text: `${who} : ` }),
  el('p', { class: 'content', text: m.content }),
  el('span', { class: 'meta' },
    el('time', { datetime: m.sentAt || '', text: m.sentAt ? shortTime(m.sentAt) : '' }),
    status));
  if (pending && pending.failed) {
    const retry = el('button', { type: 'button', class: 'link-button retry', text: 'Réessayer' });
    retry.addEventListener('click', () => sendPending(pending.clientId));
    li.append(retry);
  }
  return li;
}

function scrollToBottom() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
}

function nearBottom() {
  const s = $('scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

async function loadOlder() {
  const cid = state.openId;
  const t = thread(cid);
  const oldest = Math.min(...t.messages.keys());
  if (!Number.isFinite(oldest)) return;
  const button = $('load-older');
  button.disabled = true;
  const s = $('scroller');
  const fromBottom = s.scrollHeight - s.scrollTop;
  try {
    const res = await api('GET', `/conversations/${cid}/messages?before=${oldest}&limit=${PAGE_SIZE}`);
    for (const m of res.messages) t.messages.set(m.id, m);
    t.hasMore = res.hasMore;
    if (state.openId === cid) {
      renderThread(cid);
      s.scrollTop = s.scrollHeight - fromBottom; // keep what was on screen in place
    }
  } catch (err) {
    showError('chat-error', `Messages précédents indisponibles : ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

/** Marks the open conversation read when the page is visible and it has unread messages. */
function markReadSoon() {
  clearTimeout(state.readTimer);
  state.readTimer = setTimeout(() => {
    const cid = state.openId;
    const c = cid !== null && state.conversations.get(cid);
    if (!c || document.visibilityState !== 'visible') return;
    const t = thread(cid);
    const unreadHere = c.unreadCount > 0
      || [...t.messages.values()].some((m) => m.senderId !== state.me.id && !m.isRead);
    if (!unreadHere) return;
    c.unreadCount = 0;
    for (const m of t.messages.values()) if (m.senderId !== state.me.id) m.isRead = true;
    renderList();
    messagingSocket.markAsRead(cid).catch((err) => showError('chat-error', `Lecture non enregistrée : ${err.message}`));
  }, 150);
}

// ---- sending ------------------------------------------------------------------------

function submitMessage() {
  const cid = state.openId;
  const input = $('message-input');
  const content = input.value;
  if (cid === null || content.trim() === '') return;
  input.value = '';
  autoGrow();
  const clientId = newClientId();
  const p = {
    clientId, conversationId: cid, content, failed: false,
    message: { id: 0, conversationId: cid, senderId: state.me.id, content, sentAt: null, isRead: false, clientId },
  };
  p.li = messageItem(p.message, p);
  state.pending.set(clientId, p);
  $('messages').append(p.li);
  renderThreadEmpty(cid);
  scrollToBottom();
  sendPending(clientId);
}

function sendPending(clientId) {
  const p = state.pending.get(clientId);
  if (!p) return;
  if (p.failed) {
    p.failed = false;
    const li = messageItem(p.message, p);
    p.li.replaceWith(li);
    p.li = li;
  }
  messagingSocket.sendMessage(p.conversationId, p.content, { clientId })
    .then((m) => addMessage(m))
    .catch((err) => {
      if (!state.pending.has(clientId)) return;
      p.failed = true;
      const li = messageItem(p.message, p);
      p.li.replaceWith(li);
      p.li = li;
      showError('chat-error', `Message non envoyé : ${err.message}`);
    });
}

/** A stored message (from an ack, a live event or a catch-up): thread, list, badge. */
function addMessage(m) {
  const cid = m.conversationId;
  const c = state.conversations.get(cid);
  const t = thread(cid);
  const isNew = !t.messages.has(m.id);
  if (!isNew) {
    const old = t.messages.get(m.id);
    if (old.isRead) m = { ...m, isRead: true }; // a receipt we already saw
  }
  if (t.loaded || isNew) t.messages.set(m.id, m);
  let pending = null;
  if (m.clientId && state.pending.has(m.clientId)) {
    pending = state.pending.get(m.clientId);
    state.pending.delete(m.clientId);
  }
  if (c) {
    if (!c.lastMessage || m.id >= c.lastMessage.id) {
      c.lastMessage = m;
      c.lastMessageAt = m.sentAt;
    }
    const mine = m.senderId === state.me.id;
    if (isNew && !mine && !m.isRead) {
      const visibleHere = cid === state.openId && document.visibilityState === 'visible';
      if (!visibleHere) c.unreadCount = (c.unreadCount || 0) + 1;
    }
    if (!mine) hideTyping(cid);
    renderList();
  }
  if (cid === state.openId) {
    const stick = nearBottom() || (m.senderId === state.me.id);
    const li = messageItem(m);
    const existing = $('messages').querySelector(`li[data-message-id="${m.id}"]`);
    if (pending && pending.li.isConnected) pending.li.replaceWith(li);
    else if (existing) existing.replaceWith(li);
    else insertInOrder(li, m.id);
    if (pending && existing && pending.li !== existing) existing.remove();
    renderThreadEmpty(cid);
    if (stick) scrollToBottom();
    if (m.senderId !== state.me.id) markReadSoon();
  }
}

function insertInOrder(li, id) {
  const ol = $('messages');
  for (const other of ol.querySelectorAll('li[data-message-id]')) {
    if (Number(other.dataset.messageId) > id) { ol.insertBefore(li, other); return; }
  }
  const firstPending = ol.querySelector('li.pending');
  if (firstPending) ol.insertBefore(li, firstPending); else ol.append(li);
}

// ---- typing and receipts -------------------------------------------------------------------

function showTyping(cid) {
  clearTimeout(state.typing.get(cid));
  const had = state.typing.has(cid);
  state.typing.set(cid, setTimeout(() => hideTyping(cid), TYPING_HIDE_MS));
  if (!had) { renderTyping(); renderList(); }
}

function hideTyping(cid) {
  if (!state.typing.has(cid)) return;
  clearTimeout(state.typing.get(cid));
  state.typing.delete(cid);
  renderTyping();
  renderList();
}

function renderTyping() {
  const cid = state.openId;
  const c = cid !== null && state.conversations.get(cid);
  const p = $('typing');
  if (c && state.typing.has(cid)) {
    p.textContent = `${displayName(c.participant)} est en train d'écrire…`;
    p.dataset.active = 'true';
  } else {
    p.textContent = '';
    delete p.dataset.active;
  }
}

function onMessagesRead({ conversationId: cid, userId }) {
  const c = state.conversations.get(cid);
  const t = thread(cid);
  if (userId === state.me.id) {
    // Read on this page or in another tab of mine.
    if (c) c.unreadCount = 0;
    for (const m of t.messages.values()) if (m.senderId !== state.me.id) m.isRead = true;
    renderList();
    return;
  }
  // The other side read my messages.
  for (const m of t.messages.values()) if (m.senderId === state.me.id) m.isRead = true;
  if (c && c.lastMessage && c.lastMessage.senderId === state.me.id) c.lastMessage.isRead = true;
  if (cid === state.openId) {
    for (const li of $('messages').querySelectorAll('li.mine[data-message-id]')) {
      const m = t.messages.get(Number(li.dataset.messageId));
      if (m) li.replaceWith(messageItem(m));
    }
  }
}

// The other side received my messages up to upToId (delivery receipts).
function onMessagesDelivered({ conversationId: cid, userId, upToId, deliveredAt }) {
  if (!state.me || userId === state.me.id) return;
  const t = thread(cid);
  for (const m of t.messages.values()) {
    if (m.senderId === state.me.id && m.id <= upToId && !m.deliveredAt) m.deliveredAt = deliveredAt;
  }
  const c = state.conversations.get(cid);
  if (c && c.lastMessage && c.lastMessage.senderId === state.me.id && c.lastMessage.id <= upToId) {
    c.lastMessage.deliveredAt = c.lastMessage.deliveredAt || deliveredAt;
  }
  if (cid === state.openId) {
    for (const li of $('messages').querySelectorAll('li.mine[data-message-id]')) {
      const m = t.messages.get(Number(li.dataset.messageId));
      if (m && m.id <= upToId) li.replaceWith(messageItem(m));
    }
  }
}

// A participant went online or offline.
function onPresence({ userId, online, lastSeenAt }) {
  for (const c of state.conversations.values()) {
    if (!c.participant || c.participant.id !== userId) continue;
    c.participant.online = online;
    c.participant.lastSeenAt = lastSeenAt;
    if (c.id === state.openId) renderChatSub(c);
  }
}

// ---- wiring ------------------------------------------------------------------------------

function autoGrow() {
  const ta = $('message-input');
  ta.style.height = 'auto';
  ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
}

messagingSocket.on('status', showStatus);
messagingSocket.on('connect_error', ({ message }) => {
  if (messagingSocket.status === 'disconnected' && state.token) {
    showError('list-error', `Connexion refusée : ${message}`);
  }
});
messagingSocket.on('connection_established', ({ userId, userRole }) => {
  if (state.me && state.me.id === userId && !state.me.role) {
    state.me.role = userRole;
    renderWhoami();
  }
  showError('list-error', '');
});
let syncedOnce = false;
messagingSocket.on('synced', ({ recovered }) => {
  // After a fresh session (not the first): counts and conversations created meanwhile.
  const first = !syncedOnce;
  syncedOnce = true;
  if (first || recovered || !state.token) return;
  loadConversations().then(() => {
    for (const c of state.conversations.values()) {
      if (!messagingSocket.rooms.includes(c.id)) joinConversation(c);
    }
  }).catch(() => {});
});
messagingSocket.on('token_refreshed', ({ expiresAt }) => {
  $('conn-label').title = `Jeton renouvelé, valable jusqu'à ${new Date(expiresAt).toLocaleTimeString()}`;
});
messagingSocket.on('token_refresh_failed', ({ message }) => {
  showError('list-error', `Jeton non renouvelé : ${message}`);
});
messagingSocket.on('new_message', ({ message }) => addMessage(message));
messagingSocket.on('messages_read', onMessagesRead);
messagingSocket.on('messages_delivered', onMessagesDelivered);
messagingSocket.on('presence', onPresence);
messagingSocket.on('typing_start', ({ conversationId, userId }) => {
  if (userId !== state.me.id) showTyping(conversationId);
});
messagingSocket.on('typing_stop', ({ conversationId, userId }) => {
  if (userId !== state.me.id) hideTyping(conversationId);
});
messagingSocket.on('error', (e) => {
  if (e && e.event === 'typing_start') return; // not worth a banner
  showError('chat-error', e && e.message ? `Erreur : ${e.message}` : 'Erreur');
});

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  login($('token-input').value, null);
});
$('logout').addEventListener('click', logout);
$('back').addEventListener('click', () => {
  if (state.openId !== null) messagingSocket.stopTyping(state.openId);
  state.openId = null;
  document.body.classList.remove('chat-open');
  $('chat-pane').hidden = true;
  renderList();
  const first = $('conv-list').querySelector('button');
  if (first) first.focus();
});
$('load-older').addEventListener('click', loadOlder);
$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  submitMessage();
});
$('message-input').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    submitMessage();
  }
});
$('message-input').addEventListener('input', () => {
  autoGrow();
  if (state.openId === null) return;
  if ($('message-input').value.trim() !== '') messagingSocket.startTyping(state.openId);
  else messagingSocket.stopTyping(state.openId);
});
$('new-conv').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = Number($('new-conv-user').value);
  if (id) startConversation(id);
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.openId !== null) markReadSoon();
});

// Start: the demo users, then a token kept from this tab's last visit.
loadDemoUsers();
let saved = null;
try { saved = sessionStorage.getItem(TOKEN_KEY); } catch { /* storage disabled */ }
if (saved) login(saved, (() => { try { return sessionStorage.getItem(NAME_KEY); } catch { return null; } })());
