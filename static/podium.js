// What Podium's pages share, as window.podium: a JSON request to the API
// that turns a failure into a sentence a person can read, and the loop that
// keeps a page's WebSocket to /ws open.
//
// Loaded with defer before the page's own script, which runs after it.
// Plain ES2020 and nothing a strict Content-Security-Policy forbids.
(() => {
  'use strict';

  const SUBPROTOCOL = 'podium.v1';
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const STABLE_CONNECTION_MS = 10000; // a connection that lived this long resets the backoff
  const CONNECT_TIMEOUT_MS = 10000; // a handshake lost in a dead network would otherwise hang for minutes

  // sentence turns the server's message ("the email or password is wrong")
  // into one for the page ("The email or password is wrong.").
  function sentence(s) {
    const t = String(s).trim();
    const u = t.charAt(0).toUpperCase() + t.slice(1);
    return /[.!?…]$/.test(u) ? u : `${u}.`;
  }

  // request sends a JSON request with the browser's session cookie (and,
  // on a write, the session's CSRF token) and returns {status, data,
  // message}: status 0 when the server could not be reached; message, on
  // failure, what to show.
  async function request(method, path, body, csrf) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (err) {
      return { status: 0, data: null, message: "Podium can't be reached right now. Check your connection and try again." };
    }
    let data = null;
    if (res.status !== 204) {
      try {
        data = await res.json();
      } catch (err) {
        data = null;
      }
    }
    let message = '';
    if (!res.ok) {
      if (data && typeof data.message === 'string' && data.message.trim() !== '') message = sentence(data.message);
      else if (res.status === 429) message = 'Too many attempts. Wait a minute and try again.';
      else if (res.status >= 500) message = 'Something went wrong on the server. Try again in a moment.';
      else message = `That did not work (error ${res.status}). Reload the page and try again.`;
    }
    return { status: res.status, data, message };
  }

  // live keeps one WebSocket to /ws with the live protocol's subprotocol
  // (and opts.protocols, such as "bearer.<token>"). It calls
  // opts.beforeConnect() before each attempt (false: do not open),
  // opts.onOpen() once the handshake is done (subscribe then),
  // opts.onMessage(msg) for each message of each frame (a frame is one JSON
  // object or an array of them), and opts.onClose(event, opened) when the
  // socket closed, which decides what comes next: retry() after a backoff,
  // an access check, or stop(). A connection that lived a while resets the
  // backoff.
  function live(opts) {
    let ws = null;
    let attempt = 0;
    let timer = 0;
    let openedAt = 0;
    let stopped = false;

    function url() {
      const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
      return `${proto}//${window.location.host}/ws`;
    }

    function connect() {
      clearTimeout(timer);
      timer = 0;
      if (stopped || ws) return;
      if (opts.beforeConnect && opts.beforeConnect() === false) return;
      let sock;
      try {
        sock = new WebSocket(url(), [SUBPROTOCOL, ...(opts.protocols || [])]);
      } catch (err) {
        console.error('podium: cannot open WebSocket', err);
        retry();
        return;
      }
      ws = sock;
      let opened = false;
      const handshakeTimer = setTimeout(() => {
        if (sock.readyState === WebSocket.CONNECTING) sock.close(); // fires 'close', which decides
      }, CONNECT_TIMEOUT_MS);
      sock.addEventListener('open', () => {
        clearTimeout(handshakeTimer);
        if (ws !== sock) return;
        opened = true;
        openedAt = Date.now();
        opts.onOpen();
      });
      sock.addEventListener('message', (ev) => {
        if (ws === sock) onFrame(ev.data);
      });
      sock.addEventListener('close', (ev) => {
        clearTimeout(handshakeTimer);
        if (ws !== sock) return;
        ws = null;
        if (openedAt !== 0 && Date.now() - openedAt >= STABLE_CONNECTION_MS) attempt = 0;
        openedAt = 0;
        opts.onClose(ev, opened);
      });
      // 'error' is always followed by 'close', which does the work.
    }

    function onFrame(data) {
      if (typeof data !== 'string') return;
      let parsed;
      try {
        parsed = JSON.parse(data);
      } catch (err) {
        console.error('podium: bad frame', err);
        return;
      }
      for (const msg of Array.isArray(parsed) ? parsed : [parsed]) {
        try {
          opts.onMessage(msg);
        } catch (err) {
          // One bad message must not take the page down.
          console.error('podium: cannot handle message', msg, err);
        }
      }
    }

    // retry connects again after an exponential backoff with "equal
    // jitter": half the ceiling fixed, half random, so that a restart of
    // the server does not bring every screen back in the same millisecond.
    function retry() {
      if (stopped) return;
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
      attempt = Math.min(attempt + 1, 16);
      clearTimeout(timer);
      timer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
    }

    return {
      connect,
      retry,
      // now connects at once, without the backoff (the network came back).
      now() {
        if (stopped || ws) return;
        attempt = 0;
        connect();
      },
      // stop closes the socket, if open, and connects no more.
      stop() {
        stopped = true;
        clearTimeout(timer);
        if (ws) {
          const s = ws;
          ws = null;
          s.close(1000);
        }
      },
      send(msg) {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
      },
      get open() {
        return ws !== null;
      },
    };
  }

  window.podium = Object.freeze({ request, sentence, live, SUBPROTOCOL });
})();
