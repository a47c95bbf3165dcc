// Podium sign-in page.
//
// Three views on one page: the sign-in form; "choose your password" when the
// address carries a one-time link (#reset=<secret>, in the fragment so that
// it never reaches a server log); and "signed in as" with a sign-out button
// when the browser already has a session. The session itself is an HttpOnly
// cookie this script never sees; what it keeps is the CSRF token that every
// write made with that cookie must echo in X-CSRF-Token.
//
// Plain ES2020 and nothing a strict Content-Security-Policy forbids: no
// inline code, no style attributes, no innerHTML.
(() => {
  'use strict';

  const MIN_PASSWORD = 12; // the server's rule (game.MinPasswordLength); it checks again

  const $ = (id) => document.getElementById(id);
  const els = {
    note: $('note'),
    loading: $('view-loading'),
    signin: $('signin-form'),
    email: $('email'),
    password: $('password'),
    signinError: $('signin-error'),
    reset: $('reset-form'),
    newPassword: $('new-password'),
    repeatPassword: $('repeat-password'),
    resetError: $('reset-error'),
    resetCancel: $('reset-cancel'),
    signedIn: $('signed-in'),
    signedInAs: $('signed-in-as'),
    boardLink: $('board-link'),
    signout: $('signout'),
    signoutError: $('signout-error'),
  };
  const VIEWS = [els.loading, els.signin, els.reset, els.signedIn];

  const ROLES = { admin: 'admin', finance: 'finance', manager: 'manager', rep: 'sales rep' };

  // ---- where to go after signing in -------------------------------------------------

  // safeNext accepts only a path on this site: "/…" but not "//host" (nor
  // "/\host", which browsers read the same way), checked once more by
  // resolving it, so a crafted link cannot send someone to another site
  // after they signed in.
  function safeNext(raw) {
    if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return '';
    try {
      const u = new URL(raw, window.location.origin);
      if (u.origin !== window.location.origin) return '';
      return u.pathname + u.search + u.hash;
    } catch (err) {
      return '';
    }
  }

  const next = safeNext(new URLSearchParams(window.location.search).get('next'));
  const home = new URL('./', window.location.href).pathname; // the live board, beside this page
  els.boardLink.href = next || home;

  function resetSecret() {
    return new URLSearchParams(window.location.hash.slice(1)).get('reset') || '';
  }

  // ---- talking to the server --------------------------------------------------------

  let csrf = ''; // from the sign-in answer or /me; sent with every write

  // api sends a JSON request with the session's CSRF token (podium.js).
  function api(method, path, body) {
    return window.podium.request(method, path, body, csrf);
  }

  // ---- views ------------------------------------------------------------------------

  function show(view) {
    for (const v of VIEWS) v.hidden = v !== view;
  }

  function note(text) {
    els.note.textContent = text;
    els.note.hidden = text === '';
  }

  // fail shows a form's error, under the form, and points at the field it is
  // about (the server names it in "field").
  function fail(box, text, field) {
    box.textContent = text;
    box.hidden = false;
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  }

  function clearErrors(form, box) {
    box.hidden = true;
    box.textContent = '';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  // busy disables a form (or a button) while its request is out, so that a
  // second click sends nothing twice, and says what is happening.
  function busy(form, button, label) {
    const controls = form.matches('form') ? Array.from(form.elements) : [button];
    const was = button.textContent;
    for (const c of controls) c.disabled = true;
    button.textContent = label;
    form.setAttribute('aria-busy', 'true');
    return () => {
      for (const c of controls) c.disabled = false;
      button.textContent = was;
      form.removeAttribute('aria-busy');
    };
  }

  function showSignIn(message) {
    clearErrors(els.signin, els.signinError);
    show(els.signin);
    if (message) fail(els.signinError, message);
    (els.email.value ? els.password : els.email).focus();
  }

  function showReset() {
    note('');
    clearErrors(els.reset, els.resetError);
    show(els.reset);
    els.newPassword.focus();
  }

  function showSignedIn(me) {
    const u = me.user;
    const role = ROLES[u.role] || u.role;
    els.signedInAs.textContent = `Signed in as ${u.name || u.email} (${role})`;
    els.signoutError.hidden = true;
    show(els.signedIn);
  }

  // route picks the view: a password link wins, then an existing session.
  async function route() {
    if (resetSecret()) {
      showReset();
      return;
    }
    show(els.loading);
    const r = await api('GET', '/api/v1/me');
    if (r.status === 200 && r.data && r.data.kind === 'user' && r.data.user) {
      csrf = r.data.csrf_token || '';
      showSignedIn(r.data);
      return;
    }
    showSignIn(r.status === 401 ? '' : r.message);
  }

  // forgetLink takes the used (or abandoned) link out of the address and the
  // history, so that Back or a reload does not offer it again.
  function forgetLink() {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }

  // ---- sign in ----------------------------------------------------------------------

  els.signin.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    note('');
    clearErrors(els.signin, els.signinError);
    const email = els.email.value.trim();
    const password = els.password.value;
    if (email === '') {
      fail(els.signinError, 'Enter your email address.', els.email);
      return;
    }
    if (password === '') {
      fail(els.signinError, 'Enter your password.', els.password);
      return;
    }
    const done = busy(els.signin, $('signin-submit'), 'Signing in…');
    const r = await api('POST', '/api/v1/auth/login', { email, password });
    if (r.status === 200 && r.data && r.data.kind === 'user') {
      csrf = r.data.csrf_token || '';
      window.location.assign(next || home); // the form stays disabled until the page goes
      return;
    }
    done();
    els.password.value = '';
    const field = r.data && r.data.field === 'email' ? els.email : els.password;
    fail(els.signinError, r.message, field);
  });

  // ---- choose a password ------------------------------------------------------------

  els.reset.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(els.reset, els.resetError);
    const password = els.newPassword.value;
    const length = Array.from(password).length;
    if (length < MIN_PASSWORD) {
      const typed = length === 0 ? '' : ` (this one has ${length})`;
      fail(els.resetError, `Use at least ${MIN_PASSWORD} characters${typed}. A few words in a row are easy to remember.`, els.newPassword);
      return;
    }
    if (els.repeatPassword.value !== password) {
      fail(els.resetError, 'The two passwords are not the same. Type it again.', els.repeatPassword);
      return;
    }
    const done = busy(els.reset, $('reset-submit'), 'Saving…');
    const r = await api('POST', '/api/v1/auth/reset', { token: resetSecret(), password });
    done();
    if (r.status === 204) {
      els.newPassword.value = '';
      els.repeatPassword.value = '';
      forgetLink();
      showSignIn('');
      note('Your password is set. Sign in now.');
      return;
    }
    if (r.status === 404) {
      fail(els.resetError, r.message || 'This link has expired or was already used. Ask your admin for a new link.');
      return;
    }
    fail(els.resetError, r.message, r.data && r.data.field === 'password' ? els.newPassword : null);
  });

  els.resetCancel.addEventListener('click', (ev) => {
    ev.preventDefault();
    forgetLink();
    route();
  });

  // A second link pasted into the same tab changes only the fragment.
  window.addEventListener('hashchange', () => {
    if (resetSecret()) showReset();
  });

  // ---- sign out ---------------------------------------------------------------------

  els.signout.addEventListener('click', async () => {
    const done = busy(els.signedIn, els.signout, 'Signing out…');
    const r = await api('POST', '/api/v1/auth/logout');
    done();
    // 401: the session had already ended, which is what was asked for.
    if (r.status === 204 || r.status === 401) {
      csrf = '';
      els.password.value = '';
      showSignIn('');
      note('You are signed out.');
      return;
    }
    fail(els.signoutError, r.message);
  });

  route();
})();
