// Package static holds the browser assets of Podium, embedded in the binary so
// that a single file serves everything.
//
// The sales-floor TV board (index.html, tv.js, tv.css) is a page for a kiosk
// browser that subscribes to one board channel and the deal feed over the
// WebSocket at /ws and updates without a reload. It authenticates the
// upgrade with the display token of its URL fragment (#token=…, sent as the
// subprotocol "bearer.<token>" beside "podium.v1") or, without one, with the
// browser's session cookie; a browser that must sign in is sent to the
// sign-in page.
//
// The sign-in page (signin.html, signin.js, app.css) signs a person in and
// out through /api/v1/auth and lets them choose a password from a one-time
// link (signin.html#reset=…).
//
// "My pay" (me.html, me.js, me.css after app.css) is a person's statement
// for a period on a phone: total, quota attainment, every line with the
// sentence that explains it, a what-if projection and a way to question a
// line; the rep's live channel (rep:<id>) brings each change of pay as a
// toast. It shows money as the server's decimal strings, never as
// JavaScript numbers.
//
// Every page starts from base.css: the palette and a small reset. The
// pages' scripts share podium.js (window.podium): API requests with the
// CSRF token and the reconnecting WebSocket loop.
//
// The assets are written for a strict Content-Security-Policy (script-src and
// style-src 'self', no 'unsafe-inline', no eval): no inline script, no style
// attribute in the markup, no third-party code and no build step. Keep it that
// way; the browser tests in this package fail on any CSP violation.
//
// The pages link their scripts, stylesheets, images and each other with
// relative URLs and call the API and the WebSocket at absolute paths (/api/v1,
// /ws), so the server may mount FS under any prefix, provided a page's own
// URL names that directory (/tv/ or /tv/index.html, not /tv).
package static

import "embed"

// FS holds the embedded assets at its root: index.html, tv.js, tv.css,
// signin.html, signin.js, app.css, me.html, me.js, me.css, podium.js,
// base.css, favicon.svg and party.svg.
// Serve it with http.FS or Fiber's filesystem middleware; it is read-only
// and safe for concurrent use.
//
//go:embed index.html tv.js tv.css signin.html signin.js app.css me.html me.js me.css podium.js base.css favicon.svg party.svg
var FS embed.FS
