package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"podium/game"
)

// BenchmarkPasswordCheck is one sign-in's argon2id check with the OWASP
// parameters Podium uses (19 MiB, 2 iterations, 1 lane): the price of a
// sign-in, and of an unknown email, which is checked against a dummy hash.
func BenchmarkPasswordCheck(b *testing.B) {
	hash, err := argon2id.CreateHash("correct horse battery staple", OWASPParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := argon2id.ComparePasswordAndHash("correct horse battery staple", hash); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkAuthenticate compares what each kind of credential costs on a
// read (GET /api/v1/reps): the operator token (a constant-time compare, the
// baseline), an API token and a session cookie (one indexed lookup each, so
// a revocation takes effect on the next request).
func BenchmarkAuthenticate(b *testing.B) {
	h := newHarness(b, func(c *Config) { c.RateLimit, c.AnonRateLimit = -1, -1 })
	secret := newSecret(tokenPrefix + "api_")
	_, err := h.dir.CreateToken(b.Context(), game.Token{Kind: game.TokenAPI, Name: "bench", Scopes: []string{"directory:read"}, Hash: hashSecret(secret), Prefix: secret[:10]}, game.ActorSystem)
	if err != nil {
		b.Fatal(err)
	}
	u, err := h.dir.CreateUser(b.Context(), game.User{Email: "bench@example.com", Name: "Bench", Role: game.RoleFinance}, game.ActorSystem)
	if err != nil {
		b.Fatal(err)
	}
	cookie := newSecret("")
	now := time.Now()
	if err := h.dir.CreateSession(b.Context(), game.Session{Hash: hashSecret(cookie), UserID: u.ID, CSRF: "x", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		set  func(*http.Request)
	}{
		{"operator", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }},
		{"api-token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }},
		{"session", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieSession, Value: cookie}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/v1/reps", nil)
				c.set(req)
				resp, err := h.s.App().Test(req, -1)
				if err != nil || resp.StatusCode != 200 {
					b.Fatal(fmt.Sprint(err, resp))
				}
				resp.Body.Close()
			}
		})
	}
}
