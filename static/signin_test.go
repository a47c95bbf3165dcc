package static

import (
	"net/url"
	"strings"
	"testing"

	"podium/internal/browsertest"
)

// TestSignIn drives the sign-in page in a real headless Chromium against a
// fake server, under the strict CSP: a password link sets a password (and a
// used link says so), a wrong password shows the server's message, a sign-in
// goes where the page was asked to go back to (a path on this site only),
// and a signed-in browser sees who it is and signs out with its CSRF token.
func TestSignIn(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	srv := newFakeServer(t)
	srv.setPublic(false)
	secret := srv.addUser(fakeUser{Email: "ann@example.com", Name: "Ann Lee", Role: "admin"})
	b := newTab(t, browsertest.NewBrowser(t, chrome))
	const password = "correct horse battery staple"

	// The link an admin hands out: choose a password.
	b.Navigate(srv.URL + "/signin.html#reset=" + secret)
	b.waitFor("the password form", func() bool { return b.visible("reset-form") })
	if got := b.Text("#reset-form .lead"); !containsAll(got, "12 characters", "Length") {
		t.Errorf("the password form does not explain the rule: %q", got)
	}
	// Too short and not the same twice: the page says so and sends nothing.
	b.fill("new-password", "short one")
	b.fill("repeat-password", "short one")
	b.click("reset-submit")
	b.waitFor("the too-short message", func() bool { return b.visible("reset-error") })
	if got, want := b.Text("#reset-error"), "Use at least 12 characters (this one has 9). A few words in a row are easy to remember."; got != want {
		t.Errorf("too-short message = %q, want %q", got, want)
	}
	b.fill("new-password", password)
	b.fill("repeat-password", password+"!")
	b.click("reset-submit")
	b.waitFor("the mismatch message", func() bool {
		return b.Text("#reset-error") == "The two passwords are not the same. Type it again."
	})
	if got := srv.sent("POST", "/api/v1/auth/reset"); len(got) != 0 {
		t.Fatalf("the page sent %d password(s) it should have refused itself", len(got))
	}
	b.fill("repeat-password", password)
	b.click("reset-submit")
	b.waitFor("the password-set note", func() bool { return b.visible("note") && b.visible("signin-form") })
	if got, want := b.Text("#note"), "Your password is set. Sign in now."; got != want {
		t.Errorf("note = %q, want %q", got, want)
	}
	if got := b.location(); got != "/signin.html" {
		t.Errorf("after the password is set the address is %s, want the link gone from it", got)
	}
	resets := srv.sent("POST", "/api/v1/auth/reset")
	if len(resets) != 1 || resets[0].Body["token"] != secret || resets[0].Body["password"] != password {
		t.Fatalf("reset requests = %+v, want one with the link's secret and the new password", resets)
	}

	// The same link again: it works once.
	b.Navigate(srv.URL + "/signin.html?again#reset=" + secret)
	b.waitFor("the password form", func() bool { return b.visible("reset-form") })
	b.fill("new-password", password)
	b.fill("repeat-password", password)
	b.click("reset-submit")
	b.waitFor("the used-link message", func() bool { return b.visible("reset-error") })
	if got, want := b.Text("#reset-error"), "This link has expired or was already used; ask an admin for a new one."; got != want {
		t.Errorf("used link message = %q, want %q", got, want)
	}

	// A wrong password: the form is disabled while the answer is out, then
	// shows the server's message.
	next := "/?board=deals&period=week"
	b.Navigate(srv.URL + "/signin.html?next=" + url.QueryEscape(next))
	b.waitFor("the sign-in form", func() bool { return b.visible("signin-form") })
	b.fill("email", "ann@example.com")
	b.fill("password", "not my password")
	release := srv.holdLogins()
	b.click("signin-submit")
	b.waitFor("the form to wait for the answer", func() bool {
		return b.EvalBool(`document.getElementById('signin-submit').disabled && document.getElementById('email').disabled`)
	})
	if got := b.Text("#signin-submit"); got != "Signing in…" {
		t.Errorf("button while sending = %q, want %q", got, "Signing in…")
	}
	release()
	b.waitFor("the wrong-password message", func() bool { return b.visible("signin-error") })
	if got, want := b.Text("#signin-error"), "The email or password is wrong."; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if b.EvalBool(`document.getElementById('signin-submit').disabled`) || b.Eval(`document.getElementById('password').value`) != "" {
		t.Error("after a wrong password the form is not ready for another try (enabled, password cleared)")
	}

	// The right one: on to the page that sent us here, which is live by
	// the session cookie alone.
	b.fill("password", password)
	b.click("signin-submit")
	b.waitFor("the board the page came from", func() bool { return b.location() == next })
	conn := srv.hub.next(t)
	if conn.who != "user:ann@example.com" {
		t.Errorf("the board's socket was authenticated as %q, want Ann's session", conn.who)
	}
	conn.expectSubscribes(t, map[string]*since{"board:deals:week:company": nil, "feed": nil})
	b.waitState("live")

	// Signed in already: who, a way to the board, and sign out.
	b.Navigate(srv.URL + "/signin.html")
	b.waitFor("the signed-in view", func() bool { return b.visible("signed-in") })
	if got, want := b.Text("#signed-in-as"), "Signed in as Ann Lee (admin)"; got != want {
		t.Errorf("signed-in view = %q, want %q", got, want)
	}
	if got := b.Eval(`new URL(document.getElementById('board-link').href).pathname`); got != "/" {
		t.Errorf("the board link goes to %q, want /", got)
	}
	b.click("signout")
	b.waitFor("the signed-out note", func() bool { return b.visible("signin-form") && b.Text("#note") == "You are signed out." })
	logouts := srv.sent("POST", "/api/v1/auth/logout")
	if len(logouts) != 1 || logouts[0].CSRF == "" {
		t.Errorf("sign-out requests = %+v, want one with the CSRF token", logouts)
	}
	b.Navigate(srv.URL + "/signin.html")
	b.waitFor("the sign-in form after signing out", func() bool { return b.visible("signin-form") })

	// A "next" that leaves the site is ignored: the page goes to the board.
	b.Navigate(srv.URL + "/signin.html?next=" + url.QueryEscape("//evil.example/steal"))
	b.waitFor("the sign-in form", func() bool { return b.visible("signin-form") })
	b.fill("email", "ann@example.com")
	b.fill("password", password)
	b.click("signin-submit")
	b.waitFor("the board", func() bool { return b.Eval(`location.href`) == srv.URL+"/" })
	srv.hub.next(t)

	b.expectNoProblems()
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
