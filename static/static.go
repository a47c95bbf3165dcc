// Package static holds the browser assets of Podium, embedded in the binary so
// that a single file serves everything.
//
// The first asset is the sales-floor TV board (index.html, tv.js, tv.css): a
// page for a kiosk browser that subscribes to one board channel and the deal
// feed over the WebSocket at /ws and updates without a reload.
//
// The assets are written for a strict Content-Security-Policy (script-src and
// style-src 'self', no 'unsafe-inline', no eval): no inline script, no style
// attribute in the markup, no third-party code and no build step. Keep it that
// way; the browser test in this package fails on any CSP violation.
//
// The page links its script, stylesheet and images with relative URLs and
// opens the WebSocket at the absolute path /ws, so the server may mount FS
// under any prefix, provided the page's own URL names that directory (/tv/
// or /tv/index.html, not /tv).
package static

import "embed"

// FS holds the embedded assets at its root: index.html, tv.js, tv.css,
// favicon.svg and party.svg. Serve it with http.FS or Fiber's filesystem
// middleware; it is read-only and safe for concurrent use.
//
//go:embed index.html tv.js tv.css favicon.svg party.svg
var FS embed.FS
