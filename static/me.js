// Podium "My pay": a person's statement for one period, on a phone.
//
// It reads who is signed in (/api/v1/me), then the statement of their rep
// (or, for someone who may read other reps' pay, the rep of ?rep=) for the
// period of ?period= (this month by default): the total, quota attainment,
// subtotals and every line with the sentence that explains it. The rep's
// live channel (rep:<id> over /ws) brings each change of pay as it happens:
// a toast says what was earned and the statement is read again. A what-if
// form projects a deal not yet closed, and each line can be questioned
// (a dispute, sent with the session's CSRF token).
//
// Money arrives as decimal strings and stays a string: it is formatted by
// inserting separators, never turned into a Number, so what the page shows
// is what the server computed to the cent. Plain ES2020 and nothing a strict
// Content-Security-Policy forbids: no inline code, no style attributes, no
// innerHTML (line texts and comments are shown as text only).
(() => {
  'use strict';

  const { sentence } = window.podium;
  const TOAST_MS = 8000;
  const REFRESH_DELAY_MS = 200; // a burst of pushes is read back once

  const STATUS = {
    draft: 'Draft',
    manager_approved: 'Approved by your manager',
    finance_approved: 'Approved by finance',
    locked: 'Locked',
    paid: 'Paid',
  };
  const KINDS = { adjustment: 'Adjustment', manual: 'Manual change', draw: 'Draw' };
  const VIEWERS = ['admin', 'finance', 'manager']; // may look at another rep's pay (the server decides whose)

  const $ = (id) => document.getElementById(id);
  const els = {
    pay: $('pay'),
    live: $('live'),
    liveLabel: $('live-label'),
    note: $('note'),
    loading: $('view-loading'),
    unlinked: $('view-unlinked'),
    pickRep: $('pick-rep'),
    failed: $('view-failed'),
    failedText: $('failed-text'),
    retry: $('retry'),
    view: $('view-pay'),
    prev: $('period-prev'),
    next: $('period-next'),
    periodLabel: $('period-label'),
    who: $('who'),
    noPay: $('no-pay'),
    statement: $('statement'),
    totalLabel: $('total-label'),
    total: $('total'),
    currency: $('currency'),
    provisional: $('provisional'),
    provisionalWhy: $('provisional-why'),
    status: $('status'),
    attainment: $('attainment'),
    attainBar: $('attain-bar'),
    attainFill: $('attain-fill'),
    attainText: $('attain-text'),
    nextStep: $('next-step'),
    nextText: $('next-text'),
    subtotals: $('subtotals'),
    lines: $('lines'),
    noLines: $('no-lines'),
    disputesBlock: $('disputes-block'),
    disputes: $('disputes'),
    whatifBlock: $('whatif-block'),
    whatifForm: $('whatif-form'),
    whatifLabel: $('whatif-label'),
    whatifAmount: $('whatif-amount'),
    whatifSubmit: $('whatif-submit'),
    whatifError: $('whatif-error'),
    whatifResult: $('whatif-result'),
    hash: $('hash'),
    disputeForm: $('dispute-form'),
    disputeComment: $('dispute-comment'),
    disputeError: $('dispute-error'),
    disputeSubmit: $('dispute-submit'),
    disputeCancel: $('dispute-cancel'),
    toast: $('toast'),
    toastAmount: $('toast-amount'),
    toastText: $('toast-text'),
    toastClose: $('toast-close'),
  };
  const VIEWS = [els.loading, els.unlinked, els.failed, els.view];

  // ---- periods ----------------------------------------------------------------------

  // A plan pays by month ("2026-11") or by quarter ("2026-Q4"); both step
  // by whole periods. "Now" is the phone's clock; the server's company time
  // zone may differ for a few hours at a month's edge.
  const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
  const QUARTER = /^(\d{4})-Q([1-4])$/;

  function currentPeriod(like) {
    const d = new Date();
    if (QUARTER.test(like || '')) return `${d.getFullYear()}-Q${Math.floor(d.getMonth() / 3) + 1}`;
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
  }

  function shiftPeriod(p, by) {
    let m;
    if ((m = MONTH.exec(p))) {
      const i = Number(m[1]) * 12 + Number(m[2]) - 1 + by;
      return `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
    }
    if ((m = QUARTER.exec(p))) {
      const i = Number(m[1]) * 4 + Number(m[2]) - 1 + by;
      return `${Math.floor(i / 4)}-Q${(i % 4) + 1}`;
    }
    return p;
  }

  const monthFormat = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });
  const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

  function periodLabel(p) {
    let m;
    if ((m = MONTH.exec(p))) return monthFormat.format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)));
    if ((m = QUARTER.exec(p))) return `Q${m[2]} ${m[1]}`;
    return p;
  }

  // "this month", or "in October 2026" for another period.
  function periodPhrase(p) {
    if (p === currentPeriod(p)) return QUARTER.test(p) ? 'this quarter' : 'this month';
    return `in ${periodLabel(p)}`;
  }

  // ---- money ------------------------------------------------------------------------

  const digitsOf = new Map();

  // minorDigits is how many decimals a currency shows (2 for EUR, 0 for
  // JPY), from the browser's table; 2 when it does not know the code.
  function minorDigits(currency) {
    if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) return 2;
    const code = currency.toUpperCase();
    if (!digitsOf.has(code)) {
      let d = 2;
      try {
        d = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits;
      } catch (err) {
        d = 2;
      }
      digitsOf.set(code, d);
    }
    return digitsOf.get(code);
  }

  const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

  // formatMoney turns the server's decimal string into "5,280.00": digits
  // grouped by three, decimals padded to the currency's (the server drops
  // trailing zeros: "5280" is 5,280.00), never rounded. Anything that is
  // not a plain decimal is shown as it came.
  function formatMoney(raw, currency) {
    if (raw === undefined || raw === null) return '';
    const s = String(raw).trim();
    const m = DECIMAL.exec(s);
    if (!m) return s;
    const whole = m[2].replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const frac = (m[3] || '').padEnd(minorDigits(currency), '0');
    const sign = m[1] === '-' && !isZero(s) ? '-' : '';
    return `${sign}${whole}${frac === '' ? '' : `.${frac}`}`;
  }

  function isZero(raw) {
    const m = DECIMAL.exec(String(raw).trim());
    return Boolean(m) && /^0+$/.test(m[2]) && /^0*$/.test(m[3] || '');
  }

  function isNegative(raw) {
    const m = DECIMAL.exec(String(raw).trim());
    return Boolean(m) && m[1] === '-' && !isZero(raw);
  }

  // signedMoney is "+1,275.00" or "-300.00" (zero has no sign).
  function signedMoney(raw, currency) {
    const f = formatMoney(raw, currency);
    return isNegative(raw) || isZero(raw) || !DECIMAL.test(String(raw).trim()) ? f : `+${f}`;
  }

  // withCode is formatMoney with the currency code after it: "5,280.00 USD".
  function withCode(raw, currency) {
    const f = formatMoney(raw, currency);
    return currency ? `${f} ${currency}` : f;
  }

  // amountInput reads what a person typed ("5,000", "5000.5", "5 000")
  // into the decimal string the API takes, or '' when it is not one.
  function amountInput(typed, currency) {
    const s = typed.trim().replace(/[\s,\u00a0\u202f]/g, '');
    const m = /^(\d+)(?:\.(\d*))?$/.exec(s);
    if (!m || (m[2] || '').length > minorDigits(currency)) return '';
    return m[2] ? `${m[1]}.${m[2]}` : m[1];
  }

  function componentName(name) {
    const s = String(name || '').replace(/[_-]+/g, ' ').trim();
    return s === '' ? 'Pay' : s.charAt(0).toUpperCase() + s.slice(1);
  }

  // ---- talking to the server --------------------------------------------------------

  let csrf = ''; // from /me; echoed in X-CSRF-Token by every write

  // api sends a JSON request (podium.js) with the session's CSRF token. A
  // 401 means the session ended: the page goes to sign in.
  async function api(method, path, body) {
    const r = await window.podium.request(method, path, body, csrf);
    if (r.status === 401) toSignIn();
    return r;
  }

  let leaving = false;

  function toSignIn() {
    if (leaving) return;
    leaving = true;
    live.stop();
    const here = window.location.pathname + window.location.search;
    window.location.replace(new URL(`signin.html?next=${encodeURIComponent(here)}`, window.location.href).href);
  }

  // ---- state ------------------------------------------------------------------------

  const params = new URLSearchParams(window.location.search);
  let period = (() => {
    const p = (params.get('period') || '').trim().toUpperCase();
    return MONTH.test(p) || QUARTER.test(p) ? p : currentPeriod();
  })();
  let me = null; // the /me answer
  let repId = ''; // whose pay, as the digits of an id
  let statement = null; // the last statement read for `period`
  let nextStep = null; // the latest "next threshold" for the current period
  let loadSeq = 0;

  function canDispute() {
    return Boolean(me) && Array.isArray(me.permissions) && me.permissions.includes('disputes');
  }

  function ownPay() {
    return Boolean(me && me.user && me.user.rep_id) && String(me.user.rep_id) === repId;
  }

  // ---- views ------------------------------------------------------------------------

  function show(view) {
    for (const v of VIEWS) v.hidden = v !== view;
    els.pay.removeAttribute('aria-busy');
  }

  function note(text) {
    els.note.textContent = text;
    els.note.hidden = text === '';
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fail(text) {
    els.failedText.textContent = text;
    show(els.failed);
  }

  function setPeriod(p) {
    period = p;
    const u = new URL(window.location.href);
    u.searchParams.set('period', p);
    window.history.replaceState(null, '', u.pathname + u.search + u.hash);
    nextStep = null;
    closeDisputeForm();
    els.whatifResult.hidden = true;
    els.whatifError.hidden = true;
    loadStatement();
  }

  function renderPeriodNav() {
    els.periodLabel.textContent = periodLabel(period);
    els.periodLabel.dataset.period = period;
    // Pay is not earned ahead of time: no step past the current period.
    els.next.disabled = period >= currentPeriod(period);
    document.title = `${ownPay() ? 'My pay' : 'Pay'} · ${periodLabel(period)} · Podium`;
  }

  // ---- the statement ----------------------------------------------------------------

  async function loadStatement() {
    const seq = ++loadSeq;
    renderPeriodNav();
    const asked = period;
    const r = await api('GET', `/api/v1/reps/${repId}/statements/${encodeURIComponent(asked)}`);
    if (seq !== loadSeq || r.status === 401) return; // a later load (another period) wins
    // The server answers a period on no plan with an empty draft (no
    // plan_id, no lines): that is "no plan", not "0.00 earned".
    const empty = r.status === 200 && r.data && !r.data.plan_id && !(Array.isArray(r.data.lines) && r.data.lines.length > 0);
    if (r.status === 200 && r.data && typeof r.data === 'object' && !empty) {
      statement = r.data;
      renderStatement();
      if (asked === currentPeriod(asked) && !statement.hash) loadNextStep(seq);
      return;
    }
    statement = null;
    els.statement.hidden = true;
    els.noPay.hidden = false;
    if (r.status === 404 || empty) {
      els.noPay.textContent = `No pay to show for ${periodLabel(asked)}. There is no plan for ${ownPay() ? 'you' : 'this rep'} in this period yet.`;
    } else {
      els.noPay.textContent = r.message;
    }
  }

  // loadNextStep asks what-if for nothing more, whose answer carries the
  // next threshold ("2,000.00 more to reach 100 %…"): the statement does not.
  async function loadNextStep(seq) {
    const r = await api('GET', `/api/v1/reps/${repId}/what-if?amount=0&period=${encodeURIComponent(period)}`);
    if (seq !== loadSeq || r.status !== 200 || !r.data) return;
    nextStep = r.data.next || null;
    renderNextStep();
  }

  function renderNextStep() {
    const text = nextStep && typeof nextStep.text === 'string' ? nextStep.text : '';
    els.nextText.textContent = text === '' ? '' : sentence(text);
    els.nextStep.hidden = text === '' || !statement;
  }

  function renderStatement() {
    const s = statement;
    const cur = s.currency;
    const locked = s.status === 'locked' || s.status === 'paid';
    els.noPay.hidden = true;
    els.statement.hidden = false;

    const name = typeof s.rep_name === 'string' && s.rep_name !== '' ? s.rep_name : `Rep ${repId}`;
    els.who.textContent = ownPay() ? '' : `Pay of ${name}`;
    els.who.hidden = ownPay();

    els.totalLabel.textContent = locked ? `Pay for ${periodLabel(s.period || period)}` : 'Earned so far';
    els.total.textContent = formatMoney(s.total, cur);
    els.currency.textContent = cur || '';
    const provisional = s.provisional !== false && !locked;
    els.provisional.hidden = !provisional;
    els.provisionalWhy.hidden = !provisional;
    els.status.textContent = STATUS[s.status] || String(s.status || '');
    els.status.dataset.status = String(s.status || '');

    renderAttainment(s.attainment, s.credited, s.quota, cur);
    renderSubtotals(s);
    renderLines(s);
    renderDisputes(s);
    renderNextStep();

    els.whatifBlock.hidden = locked || period !== currentPeriod(period);
    els.whatifLabel.textContent = `If I close this much more ${periodPhrase(period)}`;

    els.hash.hidden = !(locked && s.hash);
    els.hash.replaceChildren();
    if (locked && s.hash) {
      els.hash.append(`${STATUS[s.status]} statement. Its fingerprint, for payroll: `, el('code', '', s.hash));
    }
  }

  // renderAttainment draws credit against quota. The bar's width comes from
  // the server's percentage ("103.50 %"), a display figure, not money.
  function renderAttainment(attainment, credited, quota, cur) {
    const pct = typeof attainment === 'string' ? Number.parseFloat(attainment) : NaN;
    if (!Number.isFinite(pct)) {
      els.attainment.hidden = true;
      return;
    }
    els.attainment.hidden = false;
    const shown = Math.max(0, Math.min(100, pct));
    els.attainFill.style.setProperty('--fill', `${shown}%`);
    els.attainBar.classList.toggle('is-over', pct >= 100);
    els.attainBar.setAttribute('aria-valuemax', '100');
    els.attainBar.setAttribute('aria-valuenow', String(Math.round(shown)));
    const pctText = attainment.replace(/\s*%$/, ' %');
    els.attainText.replaceChildren(
      el('strong', '', `${pctText} of quota`),
      ` · ${formatMoney(credited, cur)} credited of ${formatMoney(quota, cur)}`,
    );
  }

  function subtotalRow(label, amount, cur, cls) {
    const dt = el('dt', cls, label);
    const dd = el('dd', cls, formatMoney(amount, cur));
    return [dt, dd];
  }

  function renderSubtotals(s) {
    const cur = s.currency;
    const rows = [];
    const subs = s.subtotals && typeof s.subtotals === 'object' ? s.subtotals : {};
    for (const name of Object.keys(subs).sort()) rows.push(...subtotalRow(componentName(name), subs[name], cur));
    if (s.adjustments !== undefined && !isZero(s.adjustments)) {
      rows.push(...subtotalRow('Of which adjustments', s.adjustments, cur, 'muted'));
    }
    if (s.draw && typeof s.draw === 'object') {
      rows.push(...subtotalRow('Draw', s.draw.payout, cur));
      if (s.draw.text) {
        const why = el('dd', 'why', s.draw.text);
        rows.push(why);
      }
    }
    rows.push(...subtotalRow('Total', s.total, cur, 'sum'));
    els.subtotals.replaceChildren(...rows);
  }

  function openDisputeOn(lineId) {
    const ds = statement && Array.isArray(statement.disputes) ? statement.disputes : [];
    return ds.find((d) => d && d.line_id === lineId && d.status !== 'resolved');
  }

  function renderLines(s) {
    const cur = s.currency;
    const lines = Array.isArray(s.lines) ? s.lines : [];
    // Keep an open question form where it is across a refresh.
    const asking = askingLine;
    closeDisputeForm(true);
    const items = lines.map((l) => {
      const li = el('li', 'line');
      li.dataset.lineId = String(l.id);
      li.dataset.kind = String(l.kind || '');
      const head = el('p', 'line-head');
      head.append(el('span', 'line-component', componentName(l.component)),
        el('span', `line-amount${isNegative(l.amount) ? ' is-negative' : ''}`, signedMoney(l.amount, l.currency || cur)));
      li.append(head, el('p', 'line-text', l.text || componentName(l.component)));

      const tags = [];
      if (KINDS[l.kind]) tags.push(el('span', `tag kind-${l.kind}`, KINDS[l.kind]));
      if (l.period && l.posted_in && l.period !== l.posted_in) {
        tags.push(el('span', 'tag correction', `Correction of ${periodLabel(l.period)}`));
      }
      if (l.dispute) tags.push(el('span', 'tag', 'From your question'));
      const open = openDisputeOn(l.id);
      if (open) tags.push(el('span', 'tag asked', 'Question open'));
      const at = Date.parse(l.at);
      if (Number.isFinite(at)) tags.push(el('span', 'when', dayFormat.format(new Date(at))));
      if (tags.length > 0) {
        const p = el('p', 'tags');
        p.append(...tags);
        li.append(p);
      }
      if (canDispute() && !open && Number.isSafeInteger(l.id)) {
        const ask = el('button', 'ask', 'Question this line');
        ask.type = 'button';
        ask.addEventListener('click', () => openDisputeForm(li, l.id, ask));
        li.append(ask);
      }
      return li;
    });
    els.lines.replaceChildren(...items);
    els.noLines.hidden = items.length > 0;
    if (asking !== null) {
      const li = items.find((i) => i.dataset.lineId === String(asking));
      const ask = li && li.querySelector('.ask');
      if (ask) openDisputeForm(li, asking, ask, true);
    }
  }

  function lineText(lineId) {
    const lines = statement && Array.isArray(statement.lines) ? statement.lines : [];
    const l = lines.find((x) => x && x.id === lineId);
    return l ? l.text || componentName(l.component) : `Line ${lineId}`;
  }

  // whoWrote names a comment's author: the page knows its own user and
  // the rep who opened the dispute; anyone else is the pay team.
  function whoWrote(by, d) {
    if (me && me.user && by === `user:${me.user.id}`) return 'You';
    if (by === d.opened_by) return statement && statement.rep_name ? statement.rep_name : 'The rep';
    return 'Pay team';
  }

  function renderDisputes(s) {
    const ds = (Array.isArray(s.disputes) ? s.disputes : []).filter((d) => d && typeof d === 'object');
    ds.sort((a, b) => Number(a.status === 'resolved') - Number(b.status === 'resolved') || (b.id || 0) - (a.id || 0));
    const items = ds.map((d) => {
      const li = el('li', 'dispute');
      li.dataset.disputeId = String(d.id);
      li.dataset.status = String(d.status || '');
      const head = el('p', 'dispute-head');
      head.append(el('span', `tag ${d.status === 'resolved' ? 'resolved' : 'asked'}`, d.status === 'resolved' ? 'Answered' : 'Open'),
        el('span', 'dispute-about', lineText(d.line_id)));
      li.append(head);
      const thread = el('ol', 'comments');
      for (const c of Array.isArray(d.comments) ? d.comments : []) {
        const item = el('li', 'comment');
        const meta = el('p', 'comment-meta', whoWrote(c.by, d));
        const at = Date.parse(c.at);
        if (Number.isFinite(at)) meta.append(` · ${dayFormat.format(new Date(at))}`);
        item.append(meta, el('p', 'comment-body', c.body || ''));
        thread.append(item);
      }
      li.append(thread);
      if (d.resolution) {
        const res = el('p', 'resolution');
        res.append(el('strong', '', 'Answer: '), d.resolution);
        li.append(res);
      } else if (d.status !== 'resolved') {
        li.append(el('p', 'small', 'Waiting for an answer. It will show here.'));
      }
      return li;
    });
    els.disputes.replaceChildren(...items);
    els.disputesBlock.hidden = items.length === 0;
  }

  // ---- questioning a line (disputes) ------------------------------------------------

  let askingLine = null; // the line id the form is open under
  let askingButton = null;

  function openDisputeForm(li, lineId, button, keepText) {
    closeDisputeForm(keepText);
    askingLine = lineId;
    askingButton = button;
    button.hidden = true;
    li.append(els.disputeForm);
    els.disputeForm.hidden = false;
    els.disputeError.hidden = true;
    if (!keepText) els.disputeComment.value = '';
    els.disputeComment.focus();
  }

  function closeDisputeForm(keepText) {
    if (askingButton) askingButton.hidden = false;
    askingLine = null;
    askingButton = null;
    els.disputeForm.hidden = true;
    els.pay.append(els.disputeForm); // out of the list, which is rebuilt on refresh
    if (!keepText) els.disputeComment.value = '';
  }

  els.disputeCancel.addEventListener('click', () => closeDisputeForm());

  els.disputeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const lineId = askingLine;
    if (lineId === null) return;
    const comment = els.disputeComment.value.trim();
    els.disputeError.hidden = true;
    els.disputeComment.removeAttribute('aria-invalid');
    if (comment === '') {
      els.disputeError.textContent = 'Say what looks wrong, so the pay team can check.';
      els.disputeError.hidden = false;
      els.disputeComment.setAttribute('aria-invalid', 'true');
      els.disputeComment.focus();
      return;
    }
    const controls = Array.from(els.disputeForm.elements);
    for (const c of controls) c.disabled = true;
    els.disputeSubmit.textContent = 'Sending…';
    const r = await api('POST', `/api/v1/reps/${repId}/disputes`, { line_id: lineId, comment });
    for (const c of controls) c.disabled = false;
    els.disputeSubmit.textContent = 'Send question';
    if (r.status === 201) {
      closeDisputeForm();
      if (statement && r.data && typeof r.data === 'object') {
        // Show it now; the statement read below confirms it.
        const ds = Array.isArray(statement.disputes) ? statement.disputes : [];
        statement.disputes = ds.filter((d) => d.id !== r.data.id).concat([r.data]);
        renderStatement();
      }
      note('Your question is sent. The answer will show under "Your questions".');
      loadStatement();
      return;
    }
    if (r.status === 401) return;
    els.disputeError.textContent = r.message;
    els.disputeError.hidden = false;
  });

  // ---- what-if ----------------------------------------------------------------------

  els.whatifForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const cur = statement ? statement.currency : '';
    els.whatifError.hidden = true;
    els.whatifAmount.removeAttribute('aria-invalid');
    const amount = amountInput(els.whatifAmount.value, cur);
    if (amount === '') {
      els.whatifError.textContent = `Type an amount, such as 5000 or ${formatMoney('5000', cur)}.`;
      els.whatifError.hidden = false;
      els.whatifAmount.setAttribute('aria-invalid', 'true');
      els.whatifAmount.focus();
      return;
    }
    els.whatifSubmit.disabled = true;
    const asked = period;
    const r = await api('GET', `/api/v1/reps/${repId}/what-if?amount=${encodeURIComponent(amount)}&period=${encodeURIComponent(asked)}`);
    els.whatifSubmit.disabled = false;
    if (asked !== period || r.status === 401) return;
    if (r.status !== 200 || !r.data || !r.data.projection) {
      els.whatifError.textContent = r.message || 'No projection came back. Try again.';
      els.whatifError.hidden = false;
      return;
    }
    renderWhatIf(r.data, cur);
  });

  // renderWhatIf says what the projection says: the extra pay, the total it
  // would make, and each line as the plan would explain it.
  function renderWhatIf(data, cur) {
    const p = data.projection;
    const out = [];
    const gain = el('p', 'whatif-gain');
    gain.append(`If you close ${formatMoney(p.extra, cur)} more ${periodPhrase(period)}, you earn `,
      el('strong', '', formatMoney(p.gain, cur)), ' more.');
    out.push(gain);
    out.push(el('p', 'whatif-total', `Your pay ${periodPhrase(period)} would be ${withCode(p.projected, cur)} (now ${withCode(p.earned, cur)}).`));
    const lines = Array.isArray(p.lines) ? p.lines : [];
    if (lines.length > 0) {
      const ol = el('ol', 'whatif-lines');
      for (const l of lines) {
        const li = el('li', '');
        li.append(el('span', 'line-amount', signedMoney(l.amount, l.currency || cur)), ' ',
          el('span', '', l.trace && l.trace.text ? l.trace.text : componentName(l.component)));
        ol.append(li);
      }
      out.push(ol);
    }
    els.whatifResult.replaceChildren(...out);
    els.whatifResult.hidden = false;
  }

  // ---- the toast --------------------------------------------------------------------

  let toastTimer = 0;

  function toast(amount, text) {
    els.toastAmount.textContent = amount;
    els.toastText.textContent = text;
    els.toastText.hidden = text === '';
    els.toast.hidden = false;
    els.toast.classList.remove('is-showing');
    void els.toast.offsetWidth; // restart the entrance animation
    els.toast.classList.add('is-showing');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(hideToast, TOAST_MS);
  }

  function hideToast() {
    clearTimeout(toastTimer);
    els.toast.hidden = true;
    els.toast.classList.remove('is-showing');
  }

  els.toastClose.addEventListener('click', hideToast);

  // ---- live updates -----------------------------------------------------------------

  // The socket loop (backoff, handshake timeout, frames) is podium.js's.
  const live = window.podium.live({
    beforeConnect: () => setLive('connecting'),
    onOpen,
    onMessage,
    onClose,
  });
  let refreshTimer = 0;
  let everOpened = false;
  const cursor = { offset: null, epoch: null }; // the last event seen, sent back to resume

  function channel() {
    return `rep:${repId}`;
  }

  function setLive(state) {
    els.live.dataset.state = state;
    els.liveLabel.textContent = { live: 'Live', connecting: 'Connecting…', off: 'Offline' }[state] || state;
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(loadStatement, REFRESH_DELAY_MS);
  }

  function onOpen() {
    const msg = { op: 'subscribe', channel: channel() };
    if (cursor.epoch !== null) msg.since = { offset: cursor.offset, epoch: cursor.epoch };
    live.send(msg);
    setLive('live');
    // What changed while the page was away is on the statement.
    if (everOpened) refreshSoon();
    everOpened = true;
  }

  function onClose(ev, opened) {
    setLive('off');
    if (ev.code === 4001 || !opened) {
      // 4001: the session ended or the account changed. A refused
      // handshake looks, from here, like a network error. Either way the
      // REST API says which: a 401 sends the page to sign in (in api).
      checkSession();
      return;
    }
    live.retry();
  }

  async function checkSession() {
    const r = await api('GET', '/api/v1/me');
    if (r.status === 401) return;
    if (r.status === 200 && r.data) csrf = r.data.csrf_token || csrf;
    live.retry();
  }

  function onMessage(msg) {
    if (!msg || typeof msg !== 'object' || msg.channel !== channel()) return;
    if (msg.type === 'error') {
      console.warn(`podium: ${msg.code || 'error'} on ${msg.channel}: ${msg.message || ''}`);
      if (msg.code === 'forbidden' || msg.code === 'not_found') {
        live.stop();
        setLive('off');
      }
      return;
    }
    if (msg.type !== 'event') return;
    const seen = cursor.epoch === msg.epoch && Number.isSafeInteger(msg.offset) && cursor.offset !== null && msg.offset <= cursor.offset;
    if (seen) return; // replayed on resume: already shown
    if (Number.isSafeInteger(msg.offset) && typeof msg.epoch === 'string') {
      cursor.offset = msg.offset;
      cursor.epoch = msg.epoch;
    }
    const d = msg.data;
    if (!d || typeof d !== 'object') return;
    if (d.kind === 'earnings') onEarnings(d);
    else refreshSoon(); // "credited" and anything newer: the statement has it
  }

  function onEarnings(d) {
    const cur = d.currency || (statement && statement.currency) || '';
    const lines = Array.isArray(d.lines) ? d.lines : [];
    const first = lines.find((l) => l && typeof l.text === 'string' && l.text !== '');
    if (d.earned !== undefined && !isZero(d.earned)) {
      const what = isNegative(d.earned) ? 'taken back' : 'earned';
      const when = d.period && d.period !== currentPeriod(d.period) ? ` for ${periodLabel(d.period)}` : '';
      toast(`${signedMoney(d.earned, cur)} ${what}${when}`, first ? sentence(first.text) : '');
    }
    // A correction of a locked period is posted in the open one, so the
    // shown statement is read again whatever period the event names; its
    // figures are shown at once only when they are the shown period's.
    if (d.period === period && statement) {
      if (d.period === currentPeriod(d.period)) nextStep = d.next && typeof d.next === 'object' ? d.next : null;
      statement.total = d.total;
      els.total.textContent = formatMoney(d.total, cur);
      els.total.classList.remove('is-bumped');
      void els.total.offsetWidth; // restart the animation
      els.total.classList.add('is-bumped');
      renderNextStep();
    }
    refreshSoon();
  }

  // ---- start ------------------------------------------------------------------------

  els.prev.addEventListener('click', () => setPeriod(shiftPeriod(period, -1)));
  els.next.addEventListener('click', () => {
    if (period < currentPeriod(period)) setPeriod(shiftPeriod(period, 1));
  });
  els.retry.addEventListener('click', () => start());
  window.addEventListener('online', () => {
    if (repId !== '') live.now();
  });

  async function start() {
    show(els.loading);
    const r = await api('GET', '/api/v1/me');
    if (r.status === 401) return;
    if (r.status !== 200 || !r.data) {
      fail(r.message || 'Your account could not be read. Try again.');
      return;
    }
    if (r.data.kind !== 'user' || !r.data.user) {
      fail('Sign in as a person to see pay. A display or API token has no pay of its own.');
      return;
    }
    me = r.data;
    csrf = me.csrf_token || '';
    const asked = (params.get('rep') || '').trim();
    if (asked !== '') {
      if (!/^[1-9][0-9]{0,17}$/.test(asked)) {
        fail(`"${asked}" in the address is not a rep number.`);
        return;
      }
      repId = asked;
    } else if (me.user.rep_id) {
      repId = String(me.user.rep_id);
    }
    if (repId === '') {
      els.pickRep.hidden = !VIEWERS.includes(me.user.role);
      show(els.unlinked);
      return;
    }
    show(els.view);
    await loadStatement();
    live.connect();
  }

  start();
})();
