// Podium sales-floor TV board.
//
// One board channel and the deal feed over the WebSocket at /ws: the board
// shows the top 10 and animates rank changes, the feed celebrates won deals.
// Written for a kiosk browser nobody touches, so it must recover on its own
// (reconnect with backoff, resume from the last offset) and must never show a
// developer error to the room. Plain ES2020, no framework, and nothing that a
// strict Content-Security-Policy forbids: no inline style attributes (only
// classes and CSS custom properties), no eval, no innerHTML.
(() => {
  'use strict';

  const MAX_ROWS = 10;
  const BANNER_MS = 6000; // how long one celebration stays up
  const BANNER_BUSY_MS = 3500; // shorter while more are queued, so a burst does not hide the board for a minute
  const BANNER_QUEUE_MAX = 12; // beyond this the oldest waiting celebration is dropped
  const CELEBRATE_MAX_AGE_MS = 15 * 60 * 1000; // deals replayed after a long outage are not news any more
  const STALE_AFTER_MS = 20000; // offline this long: dim the numbers so nobody trusts a frozen board
  const RANK_CHIP_MS = 8000;
  const IDLE_CURSOR_MS = 3000;

  const METRICS = {
    revenue: 'Revenue',
    deals: 'Deals won',
    activities: 'Activities',
    points: 'Points',
  };
  const PERIODS = {
    day: 'today',
    week: 'this week',
    month: 'this month',
    quarter: 'this quarter',
    year: 'this year',
    all: 'all time',
  };

  // ---- configuration from the URL -------------------------------------------------

  const params = new URLSearchParams(window.location.search);

  function pick(names, allowed, fallback) {
    const name = names.find((n) => params.has(n)) || names[0];
    const v = (params.get(name) || '').trim().toLowerCase();
    if (v === '') return fallback;
    if (allowed.includes(v)) return v;
    console.warn(`podium: unknown ${name} "${v}", using "${fallback}"`);
    return fallback;
  }

  // "metric" is what the server's display links say, "board" what older
  // bookmarks say: both name the board.
  const metric = pick(['board', 'metric'], Object.keys(METRICS), 'revenue');
  const period = pick(['period'], Object.keys(PERIODS), 'month');
  let scope = (params.get('scope') || 'company').trim().toLowerCase();
  if (!/^(company|team-[1-9][0-9]{0,17})$/.test(scope)) {
    console.warn(`podium: unknown scope "${scope}", using "company"`);
    scope = 'company';
  }
  const titleOverride = (params.get('title') || '').trim().slice(0, 120);

  // locale: the kiosk's own language unless the URL names one (a TV set up in
  // English for a Brazilian sales floor, say).
  let locale;
  try {
    const asked = params.get('locale');
    locale = asked ? Intl.getCanonicalLocales(asked)[0] : undefined;
  } catch (err) {
    console.warn('podium: ignoring invalid locale', err);
  }

  // On a server without public boards a TV carries a display token in the URL
  // fragment (#token=…), which the browser never sends in a request or a
  // Referer. It goes to the server as the WebSocket subprotocol
  // "bearer.<token>" (a browser cannot set headers on the upgrade) and as a
  // bearer header on the one REST call that checks access. Without a token
  // the page relies on the signed-in browser's session cookie.
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token') || '';
  // A subprotocol is an HTTP token (RFC 9110 tchar): anything else makes the
  // WebSocket constructor throw, so a mangled link is caught up front.
  const tokenValid = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(token);

  const BOARD_CHANNEL = `board:${metric}:${period}:${scope}`;
  const FEED_CHANNEL = 'feed';
  const CHANNELS = [BOARD_CHANNEL, FEED_CHANNEL];

  // ---- elements ---------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const els = {
    board: $('board'),
    title: $('title'),
    period: $('period'),
    scope: $('scope'),
    clock: $('clock'),
    status: $('status'),
    statusLabel: $('status-label'),
    rows: $('rows'),
    empty: $('empty'),
    notice: $('notice'),
    noticeTitle: $('notice-title'),
    noticeBody: $('notice-body'),
    celebration: $('celebration'),
    confetti: $('confetti'),
    bannerText: $('banner-text'),
    bannerMore: $('banner-more'),
  };

  // ---- formatting -------------------------------------------------------------------

  const moneyFormats = new Map();
  const countFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const plainMoneyFormat = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const clockFormat = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' });
  const listFormat = typeof Intl.ListFormat === 'function'
    ? new Intl.ListFormat(locale, { style: 'long', type: 'conjunction' })
    : null;

  function moneyFormat(currency) {
    if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) return plainMoneyFormat;
    const code = currency.toUpperCase();
    let f = moneyFormats.get(code);
    if (!f) {
      try {
        f = new Intl.NumberFormat(locale, { style: 'currency', currency: code });
      } catch (err) {
        f = plainMoneyFormat;
      }
      moneyFormats.set(code, f);
    }
    return f;
  }

  // Money arrives as a decimal string and is formatted as one: engines with
  // Intl.NumberFormat v3 format the string exactly, older ones go through a
  // Number, which is still exact to the cent for any realistic amount.
  function formatMoney(amount, currency) {
    if (amount === undefined || amount === null || amount === '') return '';
    const s = String(amount).trim();
    if (!/^-?\d+(\.\d+)?$/.test(s)) return s;
    return moneyFormat(currency).format(s);
  }

  function centsToDecimal(score) {
    const neg = score < 0;
    const abs = Math.abs(Math.trunc(score));
    const whole = Math.floor(abs / 100);
    const cents = String(abs % 100).padStart(2, '0');
    return `${neg ? '-' : ''}${whole}.${cents}`;
  }

  function formatEntryValue(e) {
    if (metric === 'revenue') {
      return formatMoney(e.value !== undefined && e.value !== null ? e.value : centsToDecimal(e.score), board.currency);
    }
    const n = e.value !== undefined && e.value !== null && e.value !== '' ? Number(e.value) : e.score;
    return Number.isFinite(n) ? countFormat.format(n) : String(e.value);
  }

  function initials(name) {
    const parts = String(name || '').trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0) return '?';
    const first = Array.from(parts[0])[0] || '';
    const last = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] || '' : '';
    return (first + last).toUpperCase();
  }

  // The board key names its period instance: 2026-11-28, 2026-W48, 2026-11,
  // 2026-Q4, 2026. Show it the way people say it; keep the raw key in a data
  // attribute for whoever debugs the wall.
  function describeInstance(key) {
    let m;
    const utc = (y, mo, d) => new Date(Date.UTC(y, mo, d));
    try {
      if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key))) {
        return new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC' })
          .format(utc(+m[1], +m[2] - 1, +m[3]));
      }
      if ((m = /^(\d{4})-(\d{2})$/.exec(key))) {
        return new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' })
          .format(utc(+m[1], +m[2] - 1, 1));
      }
    } catch (err) {
      return key;
    }
    if ((m = /^(\d{4})-W(\d{1,2})$/.exec(key))) return `Week ${+m[2]}, ${m[1]}`;
    if ((m = /^(\d{4})-Q([1-4])$/.exec(key))) return `Q${m[2]} ${m[1]}`;
    return key;
  }

  // ---- board state ------------------------------------------------------------------

  const board = {
    ready: false, // a snapshot arrived; deltas before it have no base
    key: null, // "revenue:month:2026-11:company" from the last snapshot
    currency: null,
    entries: [], // at most MAX_ROWS, sorted, with competition ranks
    lastScore: new Map(), // rep_id → score last shown, to flash increases
    lastRank: new Map(), // rep_id → rank last shown, to mark climbers
  };
  const rowEls = new Map(); // rep_id → <li>

  // cursors: channel → {offset, epoch} of the last snapshot, delta or event,
  // sent back on resubscribe so the server can replay what we missed.
  const cursors = new Map();
  const resyncing = new Set();

  function track(msg) {
    if (Number.isSafeInteger(msg.offset) && typeof msg.epoch === 'string') {
      cursors.set(msg.channel, { offset: msg.offset, epoch: msg.epoch });
    }
  }

  // A message at or below the offset we already hold, in the same epoch, is a
  // replay overlap after a resume: applying it twice would double-celebrate.
  function alreadySeen(msg) {
    const c = cursors.get(msg.channel);
    return Boolean(c) && c.epoch === msg.epoch && Number.isSafeInteger(msg.offset) && msg.offset <= c.offset;
  }

  function toEntry(raw) {
    if (!raw || typeof raw !== 'object') return null;
    const id = Number(raw.rep_id);
    const score = Number(raw.score);
    if (!Number.isSafeInteger(id) || !Number.isFinite(score)) return null;
    return {
      rep_id: id,
      name: typeof raw.name === 'string' && raw.name.trim() !== '' ? raw.name : `Rep ${id}`,
      team_id: raw.team_id,
      team: typeof raw.team === 'string' ? raw.team : '',
      score,
      value: raw.value,
      rank: 0,
    };
  }

  // The tie rule of the server: score descending, then rep_id ascending (not
  // the name: renaming a rep must not reorder the wall). Ranks are competition
  // ranks (1, 2, 2, 4), derived from the scores shown, so they can never
  // disagree with the order on screen even when a delta leaves out a row whose
  // rank only shifted.
  function normalise(list) {
    const byId = new Map();
    for (const raw of list) {
      const e = toEntry(raw);
      if (e) byId.set(e.rep_id, e);
    }
    const sorted = Array.from(byId.values())
      .sort((a, b) => (b.score - a.score) || (a.rep_id - b.rep_id))
      .slice(0, MAX_ROWS);
    sorted.forEach((e, i) => {
      e.rank = i > 0 && e.score === sorted[i - 1].score ? sorted[i - 1].rank : i + 1;
    });
    return sorted;
  }

  function setBoard(key, currency) {
    if (!board.ready || key !== board.key) {
      // A new board (first snapshot or the period rolled over): start clean
      // so every row enters fresh instead of sliding from last month.
      board.ready = true;
      board.key = typeof key === 'string' ? key : null;
      board.lastScore.clear();
      board.lastRank.clear();
      for (const el of rowEls.values()) el.remove();
      rowEls.clear();
    }
    if (typeof currency === 'string' && currency !== '') board.currency = currency;
    renderHeading();
  }

  function onSnapshot(msg) {
    track(msg);
    resyncing.delete(msg.channel);
    setBoard(msg.board, msg.currency);
    board.entries = normalise(Array.isArray(msg.entries) ? msg.entries : []);
    renderRows();
  }

  function onDelta(msg) {
    if (alreadySeen(msg)) return;
    if (board.ready && typeof msg.board === 'string' && board.key !== null && msg.board !== board.key) {
      // The period rolled over (month changed): the delta is the first state
      // of a new board.
      onSnapshot(msg);
      return;
    }
    const c = cursors.get(msg.channel);
    if (!board.ready || !c || c.epoch !== msg.epoch) {
      // A delta against a base we do not hold: ask for a fresh snapshot.
      resync(msg.channel);
      return;
    }
    track(msg);
    if (typeof msg.currency === 'string' && msg.currency !== '') board.currency = msg.currency;
    const merged = new Map(board.entries.map((e) => [e.rep_id, e]));
    for (const id of Array.isArray(msg.removed) ? msg.removed : []) merged.delete(Number(id));
    for (const raw of Array.isArray(msg.entries) ? msg.entries : []) {
      const e = toEntry(raw);
      if (e) merged.set(e.rep_id, e);
    }
    board.entries = normalise(Array.from(merged.values()));
    renderRows();
  }

  // ---- rendering --------------------------------------------------------------------

  function renderHeading() {
    const heading = titleOverride || `${METRICS[metric]} — ${PERIODS[period]}`;
    els.title.textContent = heading;
    document.title = `${heading} · Podium`;

    const parts = board.key ? board.key.split(':') : [];
    const instance = parts.length >= 4 ? parts[2] : '';
    if (instance && instance !== 'all') {
      els.period.textContent = describeInstance(instance);
      els.period.dataset.period = instance;
      els.period.hidden = false;
    } else {
      els.period.hidden = true;
    }

    let scopeLabel = '';
    const team = /^team-(\d+)$/.exec(scope);
    if (team) {
      const member = board.entries.find((e) => String(e.team_id) === team[1] && e.team);
      scopeLabel = member ? member.team : `Team ${team[1]}`;
    }
    els.scope.textContent = scopeLabel;
    els.scope.hidden = scopeLabel === '';
  }

  function span(cls) {
    const s = document.createElement('span');
    s.className = cls;
    return s;
  }

  function createRow(id) {
    const li = document.createElement('li');
    li.className = 'row';
    li.dataset.repId = String(id);
    const who = span('who');
    who.append(span('name'), span('team'));
    li.append(span('rank'), span('avatar'), who, span('climb'), span('value'));
    // A stable hue per rep, so a face is easy to follow as it moves.
    li.style.setProperty('--hue', String((id * 137.508) % 360));
    li.addEventListener('animationend', (ev) => {
      if (ev.animationName === 'row-enter') li.classList.remove('is-entering');
      if (ev.animationName === 'row-bump') li.classList.remove('is-bumped');
    });
    return li;
  }

  function restartClass(el, cls) {
    el.classList.remove(cls);
    void el.offsetWidth; // restart the CSS animation
    el.classList.add(cls);
  }

  const climbTimers = new WeakMap();

  function showClimb(li, places) {
    const chip = li.querySelector('.climb');
    chip.textContent = `▲ ${places}`;
    li.classList.add('has-climbed');
    clearTimeout(climbTimers.get(li));
    climbTimers.set(li, setTimeout(() => li.classList.remove('has-climbed'), RANK_CHIP_MS));
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  // renderRows reconciles the list with board.entries, keyed by rep_id, and
  // animates moves with FLIP: measure, reorder, measure, then let a CSS
  // transition run from the old place (set as a custom property) to the new.
  function renderRows() {
    const list = els.rows;
    const before = new Map();
    for (const [id, el] of rowEls) before.set(id, el.getBoundingClientRect().top);

    // Drop the rows that left first, so that the reorder below only moves
    // the rows that really changed place: moving a node restarts its CSS
    // animations.
    const shown = new Set(board.entries.map((e) => e.rep_id));
    for (const [id, el] of rowEls) {
      if (!shown.has(id)) {
        el.remove();
        rowEls.delete(id);
      }
    }

    const leader = board.entries.length > 0 ? board.entries[0].score : 0;
    board.entries.forEach((e, i) => {
      let li = rowEls.get(e.rep_id);
      const isNew = !li;
      if (isNew) {
        li = createRow(e.rep_id);
        rowEls.set(e.rep_id, li);
        li.style.setProperty('--enter-delay', `${Math.min(i, 9) * 60}ms`);
        li.classList.add('is-entering');
      }

      setText(li.querySelector('.rank'), String(e.rank));
      setText(li.querySelector('.avatar'), initials(e.name));
      setText(li.querySelector('.name'), e.name);
      setText(li.querySelector('.team'), e.team);
      setText(li.querySelector('.value'), formatEntryValue(e));
      li.dataset.rank = String(e.rank);
      li.classList.toggle('is-podium', e.rank <= 3);
      const share = leader > 0 ? Math.max(0, Math.min(1, e.score / leader)) : 0;
      li.style.setProperty('--share', share.toFixed(4));

      const oldScore = board.lastScore.get(e.rep_id);
      if (oldScore !== undefined && e.score > oldScore) restartClass(li, 'is-bumped');
      const oldRank = board.lastRank.get(e.rep_id);
      if (oldRank !== undefined && e.rank < oldRank) showClimb(li, oldRank - e.rank);

      const at = list.children[i];
      if (at !== li) list.insertBefore(li, at || null);
    });
    for (const e of board.entries) {
      board.lastScore.set(e.rep_id, e.score);
      board.lastRank.set(e.rep_id, e.rank);
    }

    // FLIP: pin every moved row at its old place without a transition, read
    // the layout once, then release so the transition carries it home.
    const moved = [];
    for (const [id, el] of rowEls) {
      if (!before.has(id)) continue;
      el.style.setProperty('--flip-dy', '0px');
      el.classList.add('is-flipping');
      moved.push(el);
    }
    const after = moved.map((el) => el.getBoundingClientRect().top);
    moved.forEach((el, i) => {
      const dy = before.get(Number(el.dataset.repId)) - after[i];
      el.style.setProperty('--flip-dy', `${Math.round(dy)}px`);
    });
    if (moved.length > 0) {
      void list.offsetHeight;
      for (const el of moved) el.classList.remove('is-flipping');
    }

    els.board.classList.toggle('is-empty', board.entries.length === 0);
    els.empty.hidden = board.entries.length > 0;
    setText(els.empty, board.ready
      ? `No scores yet${period === 'all' ? '' : ` ${PERIODS[period]}`}. The first one takes the top spot.`
      : 'Loading the board…');
    renderHeading();
  }

  // ---- celebrations -----------------------------------------------------------------

  const celebrations = [];
  let bannerTimer = 0;
  let bannerShowing = false;
  const seenDeals = new Set(); // guards against the same deal arriving twice across epochs

  function onEvent(msg) {
    if (alreadySeen(msg)) return;
    track(msg);
    const d = msg.data;
    if (!d || d.kind !== 'deal_won') return;

    const key = `${d.deal_id || d.deal_name || ''}|${d.at || ''}|${d.amount || ''}`;
    if (seenDeals.has(key)) return;
    seenDeals.add(key);
    if (seenDeals.size > 500) seenDeals.delete(seenDeals.values().next().value);

    const at = Date.parse(d.at);
    if (Number.isFinite(at) && Date.now() - at > CELEBRATE_MAX_AGE_MS) return;

    if (celebrations.length >= BANNER_QUEUE_MAX) celebrations.shift();
    celebrations.push(d);
    if (bannerShowing) updateMore();
    else nextCelebration();
  }

  function dealSentence(d) {
    const reps = Array.isArray(d.reps) ? d.reps.map((r) => r && r.name).filter((n) => typeof n === 'string' && n !== '') : [];
    let who = 'The team';
    if (reps.length === 1) who = reps[0];
    else if (reps.length > 1) who = listFormat ? listFormat.format(reps) : reps.join(' & ');
    const deal = typeof d.deal_name === 'string' && d.deal_name.trim() !== '' ? d.deal_name.trim() : 'a deal';
    return { who, deal, amount: formatMoney(d.amount, d.currency) };
  }

  function nextCelebration() {
    clearTimeout(bannerTimer);
    const d = celebrations.shift();
    if (!d) {
      bannerShowing = false;
      els.celebration.classList.remove('is-showing');
      els.celebration.hidden = true;
      els.confetti.replaceChildren();
      return;
    }
    bannerShowing = true;
    const s = dealSentence(d);
    // "🎉 Ana Lima closed Acme renewal — $12,000.00", built from text nodes
    // (a CRM deal name is untrusted) and split into spans for the big layout.
    const emoji = span('c-emoji');
    emoji.textContent = '🎉';
    const who = span('c-who');
    who.textContent = s.who;
    const deal = span('c-deal');
    deal.textContent = s.deal;
    const parts = [emoji, ' ', who, ' closed ', deal];
    if (s.amount) {
      const sep = span('c-sep');
      sep.textContent = ' — ';
      const amount = span('c-amount');
      amount.textContent = s.amount;
      parts.push(sep, amount);
    }
    els.bannerText.replaceChildren(...parts);
    updateMore();

    els.celebration.hidden = false;
    restartClass(els.celebration, 'is-showing');
    throwConfetti();
    bannerTimer = setTimeout(nextCelebration, celebrations.length > 0 ? BANNER_BUSY_MS : BANNER_MS);
  }

  function updateMore() {
    const n = celebrations.length;
    els.bannerMore.textContent = n === 0 ? '' : `+${n} more ${n === 1 ? 'deal' : 'deals'} coming up`;
    els.bannerMore.hidden = n === 0;
  }

  const CONFETTI_HUES = [45, 340, 265, 160, 200, 20];

  function throwConfetti() {
    const pieces = [];
    for (let i = 0; i < 48; i++) {
      const p = span('confetti-piece');
      p.style.setProperty('--x', `${(Math.random() * 100).toFixed(2)}vw`);
      p.style.setProperty('--drift', `${(Math.random() * 24 - 12).toFixed(2)}vw`);
      p.style.setProperty('--delay', `${(Math.random() * 900).toFixed(0)}ms`);
      p.style.setProperty('--fall', `${(2600 + Math.random() * 2200).toFixed(0)}ms`);
      p.style.setProperty('--spin', `${(Math.random() * 1440 - 720).toFixed(0)}deg`);
      p.style.setProperty('--hue', String(CONFETTI_HUES[i % CONFETTI_HUES.length]));
      if (i % 3 === 0) p.classList.add('is-round');
      pieces.push(p);
    }
    els.confetti.replaceChildren(...pieces);
  }

  // ---- connection -------------------------------------------------------------------

  // The socket loop (backoff, handshake timeout, frames) is podium.js's;
  // what a close means for a TV is decided here.
  const conn = window.podium.live({
    protocols: token ? [`bearer.${token}`] : [],
    beforeConnect,
    onOpen,
    onMessage,
    onClose,
  });
  const send = conn.send;
  let stopped = false;
  let checking = false; // an access check is under way; it decides what comes next
  let everOpened = false;
  let offlineSince = Date.now(); // when the wall last lost its connection (or the page loaded)

  function subscribe(channel) {
    const msg = { op: 'subscribe', channel };
    const c = cursors.get(channel);
    if (c) msg.since = { offset: c.offset, epoch: c.epoch };
    send(msg);
  }

  // resync drops our cursor and subscribes again without one, which makes the
  // server send a fresh snapshot. At most once until that snapshot arrives.
  function resync(channel) {
    if (resyncing.has(channel)) return;
    resyncing.add(channel);
    cursors.delete(channel);
    console.warn(`podium: ${channel}: out of step, asking for a fresh snapshot`);
    send({ op: 'unsubscribe', channel });
    send({ op: 'subscribe', channel });
  }

  function setStatus(state) {
    if (els.status.dataset.state === 'live' && state !== 'live') offlineSince = Date.now();
    els.status.dataset.state = state;
    renderStatus();
  }

  function renderStatus() {
    const state = els.status.dataset.state;
    const stale = state !== 'live' && Date.now() - offlineSince > STALE_AFTER_MS;
    els.board.classList.toggle('is-stale', stale || state === 'unauthorized');
    let label = 'Live';
    if (state === 'connecting') label = 'Connecting…';
    else if (state === 'reconnecting') {
      label = stale ? `Offline since ${clockFormat.format(new Date(offlineSince))} · reconnecting…` : 'Reconnecting…';
    } else if (state === 'unauthorized') label = 'No access';
    setText(els.statusLabel, label);
  }

  // showNotice covers the wall with a message for whoever looks after the
  // TV. A screen without access stops for good: retrying cannot help, would
  // hammer the server, and must not leave the last numbers up as if live.
  function showNotice(title, body, stop) {
    setText(els.noticeTitle, title);
    setText(els.noticeBody, body);
    els.notice.hidden = false;
    if (!stop) return;
    stopped = true;
    conn.stop();
    celebrations.length = 0;
    nextCelebration();
    els.board.hidden = true;
    setStatus('unauthorized');
  }

  function showRevoked() {
    showNotice("This screen's access was revoked.", 'Ask an admin for a new display link.', true);
  }

  function beforeConnect() {
    if (stopped) return false;
    if (token && !tokenValid) {
      console.warn('podium: the token in the address is not a token; the display link was cut or changed');
      showNotice("This screen's display link is broken.", 'Ask an admin for a new display link.', true);
      return false;
    }
    setStatus(everOpened ? 'reconnecting' : 'connecting');
    return true;
  }

  function onOpen() {
    everOpened = true;
    resyncing.clear();
    setStatus('live');
    for (const ch of CHANNELS) subscribe(ch);
  }

  function onClose(ev, opened) {
    if (ev.code === 4001 && token) {
      // The display token was revoked: only a new link helps.
      console.warn('podium: the server closed the connection: access revoked', ev.reason);
      showRevoked();
      return;
    }
    console.info(`podium: connection closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''}), reconnecting`);
    if (ev.code === 4001 || !opened) {
      // A session that ended (4001) or a handshake the server refused
      // looks, from here, like a network failure: ask the server.
      checkAccess();
      return;
    }
    scheduleReconnect();
  }

  // checkAccess asks the REST API, which answers with a status the page can
  // read, whether the page's credentials still read its board: 401 means a
  // display token that no longer works, or a browser that must sign in;
  // anything else (the server unreachable, busy, restarting) is retried.
  async function checkAccess() {
    checking = true;
    setStatus(everOpened ? 'reconnecting' : 'connecting');
    let status = 0;
    try {
      const res = await fetch(`/api/v1/boards/${metric}/${period}/${scope}?top=1`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        credentials: token ? 'omit' : 'same-origin',
        cache: 'no-store',
      });
      status = res.status;
    } catch (err) {
      // Unreachable: the reconnect below keeps trying.
    }
    checking = false;
    if (stopped) return;
    if (status === 401) {
      if (token) {
        showRevoked();
      } else {
        stopped = true;
        conn.stop();
        const next = window.location.pathname + window.location.search;
        window.location.replace(new URL(`signin.html?next=${encodeURIComponent(next)}`, window.location.href).href);
      }
      return;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (stopped) return;
    setStatus('reconnecting');
    conn.retry();
  }

  function onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'snapshot':
        if (msg.channel === BOARD_CHANNEL) onSnapshot(msg);
        break;
      case 'delta':
        if (msg.channel === BOARD_CHANNEL) onDelta(msg);
        break;
      case 'event':
        if (msg.channel === FEED_CHANNEL) onEvent(msg);
        break;
      case 'subscribed':
        break;
      case 'error':
        // Whoever set the TV up checks the console.
        console.warn(`podium: server error ${msg.code || ''} on ${msg.channel || 'connection'}: ${msg.message || ''}`);
        if (msg.code === 'forbidden' && msg.channel === BOARD_CHANNEL) {
          // A display token reads only the boards it was made for.
          showNotice("This screen may not show this board.", 'Ask an admin for a display link for this board.', false);
        }
        break;
      default:
        break;
    }
  }

  // ---- kiosk niceties ---------------------------------------------------------------

  function tick() {
    setText(els.clock, clockFormat.format(new Date()));
    renderStatus();
  }

  let idleTimer = 0;
  function wake() {
    document.body.classList.remove('is-idle');
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => document.body.classList.add('is-idle'), IDLE_CURSOR_MS);
  }

  async function keepScreenOn() {
    try {
      if ('wakeLock' in navigator && document.visibilityState === 'visible') {
        await navigator.wakeLock.request('screen');
      }
    } catch (err) {
      // Not offered (insecure context, power saving): the kiosk's own settings rule.
    }
  }

  window.addEventListener('online', () => {
    if (!checking) conn.now();
  });
  document.addEventListener('visibilitychange', keepScreenOn);
  document.addEventListener('mousemove', wake, { passive: true });

  renderHeading();
  renderRows();
  tick();
  setInterval(tick, 1000);
  keepScreenOn();
  conn.connect();
})();
