// Package browsertest drives a headless Chromium for the browser tests of the
// TV board: it finds the browser, starts it with the flags the tests agree
// on, and gives a Tab that records what the page reports (uncaught
// exceptions, console errors and Content Security Policy violations).
//
// It is meant for tests only: its functions take a *testing.T and fail or
// skip the test on their own.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath finds a Chromium to drive: the one named by PODIUM_CHROMIUM,
// else /usr/bin/chromium or a Chromium or Chrome on the PATH. Without one the
// test skips, except in CI (CI=true), where a missing browser must not turn
// the suite silently green.
func ChromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PODIUM_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("PODIUM_CHROMIUM: %v", err)
		}
		return path
	}
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (set PODIUM_CHROMIUM); CI must run the browser test")
	}
	t.Skip("no Chromium found; set PODIUM_CHROMIUM to run the TV board test")
	return ""
}

// NewBrowser starts a headless Chromium at execPath, with a fresh user data
// directory in t.TempDir(), and returns the context of its first tab; the
// browser ends with the test. NewTab opens more tabs in it.
func NewBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1920, 1080),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelCtx)
	// Start the browser on a context without a deadline: the first Run binds
	// the browser's life to its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// Options says how a Tab watches its page.
type Options struct {
	// CSPMarker prefixes the console error that the tab writes for each
	// securitypolicyviolation event, so that a violation can be told apart
	// from other errors. It must not be empty.
	CSPMarker string

	// Locale, when set, overrides the locale of the page (for example
	// "en_US").
	Locale string

	// Expected, when set, is asked about each error entry of the browser log;
	// an entry it accepts is recorded as a warning, not as a problem. It runs
	// on the tab's reader goroutine, under the rules of chromedp.Listen.
	Expected func(e *cdplog.Entry) bool

	// OnEvent, when set, gets every event of the tab after the tab recorded
	// it. It runs on the tab's reader goroutine, under the rules of
	// chromedp.Listen.
	OnEvent func(ev any)

	// Describe, when set, adds what it returns to the failure of a WaitFor
	// that timed out, to show the state of the page.
	Describe func() string
}

// Tab is one browser tab with its own record of the problems its page
// reported (uncaught exceptions, console errors and CSP violations) and of
// its warnings. Its methods fail the test on any error of the browser.
type Tab struct {
	// T is the test the tab belongs to.
	T *testing.T
	// Ctx is the chromedp context of the tab.
	Ctx context.Context

	cancel context.CancelFunc
	opts   Options

	mu    sync.Mutex
	probs []string
	warns []string
}

// Open starts a browser (see NewBrowser) and returns its first tab.
func Open(t *testing.T, execPath string, opts Options) *Tab {
	t.Helper()
	ctx := NewBrowser(t, execPath)
	return attach(t, ctx, func() {}, opts)
}

// NewTab opens a 1920×1080 tab in the browser of browserCtx that watches its
// page. The tab closes with the test, or before with Close.
func NewTab(t *testing.T, browserCtx context.Context, opts Options) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return attach(t, ctx, cancel, opts)
}

// attach starts watching the open tab of ctx.
func attach(t *testing.T, ctx context.Context, cancel context.CancelFunc, opts Options) *Tab {
	t.Helper()
	if opts.CSPMarker == "" {
		t.Fatal("browsertest: Options.CSPMarker is empty")
	}
	b := &Tab{T: t, Ctx: ctx, cancel: cancel, opts: opts}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	// Report every CSP violation as a console error. A script added through
	// the DevTools protocol is not subject to the page's CSP.
	script := `document.addEventListener('securitypolicyviolation', (e) => console.error('` + opts.CSPMarker +
		` ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber), true);`
	b.Run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
			return err
		}
		if opts.Locale == "" {
			return nil
		}
		_, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: opts.Locale})
		return err
	}))
	b.Run(chromedp.EmulateViewport(1920, 1080))
	return b
}

// onEvent runs on the tab's reader goroutine: it only records.
func (b *Tab) onEvent(ev any) {
	var prob, warn string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		prob = fmt.Sprintf("exception: %s (%s:%d)", text, d.URL, d.LineNumber+1)
	case *runtime.EventConsoleAPICalled:
		text := ConsoleText(e.Args)
		switch {
		case e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert:
			prob = "console.error: " + text
		case strings.Contains(text, "Content Security Policy") || strings.Contains(text, b.opts.CSPMarker):
			prob = "console." + string(e.Type) + ": " + text
		case e.Type == runtime.ConsoleAPICalledTypeWarning:
			warn = "console.warn: " + text
		}
	case *cdplog.EventEntryAdded:
		en := e.Entry
		line := fmt.Sprintf("%s %s: %s (%s)", en.Source, en.Level, en.Text, en.URL)
		switch {
		case en.Level == cdplog.EntryLevelError && b.opts.Expected != nil && b.opts.Expected(en):
			warn = "expected: " + line
		case en.Level == cdplog.EntryLevelError || strings.Contains(en.Text, "Content Security Policy"):
			prob = "log: " + line
		case en.Level == cdplog.EntryLevelWarning:
			warn = "log: " + line
		}
	}
	if prob != "" || warn != "" {
		b.mu.Lock()
		if prob != "" {
			b.probs = append(b.probs, prob)
		}
		if warn != "" {
			b.warns = append(b.warns, warn)
		}
		b.mu.Unlock()
	}
	if b.opts.OnEvent != nil {
		b.opts.OnEvent(ev)
	}
}

// ConsoleText joins the arguments of a console call as the console shows
// them: strings as they are, other values by their JSON or description.
func ConsoleText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		var s string
		switch {
		case len(a.Value) > 0 && json.Unmarshal(a.Value, &s) == nil:
			parts = append(parts, s)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// Close closes the tab. Closing the first tab of Open is a no-op: it ends
// with the browser.
func (b *Tab) Close() { b.cancel() }

// Problems returns what the page reported so far: uncaught exceptions,
// console errors, errors of the browser log and CSP violations.
func (b *Tab) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.probs...)
}

// Reported reports whether a problem containing s was recorded.
func (b *Tab) Reported(s string) bool {
	for _, p := range b.Problems() {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// Warnings returns the warnings of the page so far, and the log errors that
// Options.Expected accepted.
func (b *Tab) Warnings() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.warns...)
}

// Run runs an action in the tab, with a 20-second timeout.
func (b *Tab) Run(a chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, a); err != nil {
		b.T.Fatal(err)
	}
}

// Navigate loads url in the tab.
func (b *Tab) Navigate(url string) {
	b.T.Helper()
	b.Run(chromedp.Navigate(url))
}

// Eval runs an expression in the page through the DevTools protocol (not
// eval in the page, which the CSP forbids; for the same reason chromedp.Poll
// cannot be used) and returns its value as a string; undefined and null
// become "".
func (b *Tab) Eval(expr string) string {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](expr))
	if err != nil {
		b.T.Fatalf("evaluate %s: %v", expr, err)
	}
	if v == nil {
		return ""
	}
	return *v
}

// EvalBool evaluates expr in the page and reports whether it is truthy.
func (b *Tab) EvalBool(expr string) bool {
	b.T.Helper()
	return b.Eval(`String(Boolean(`+expr+`))`) == "true"
}

// Text returns the text content of the first element that matches selector,
// or "" when there is none.
func (b *Tab) Text(selector string) string {
	b.T.Helper()
	sel, _ := json.Marshal(selector)
	return b.Eval(`document.querySelector(` + string(sel) + `)?.textContent ?? ''`)
}

// WaitFor polls cond from Go until it holds, and fails the test when d
// passes first. chromedp.Poll would compile the predicate with new Function
// inside the page, which a strict CSP blocks.
func (b *Tab) WaitFor(what string, d time.Duration, cond func() bool) {
	b.T.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %s", d, what)
			if b.opts.Describe != nil {
				msg += "\n" + b.opts.Describe()
			}
			b.T.Fatal(msg)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Screenshot captures the viewport as a PNG.
func (b *Tab) Screenshot() []byte {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.T.Fatalf("screenshot: %v", err)
	}
	return png
}
