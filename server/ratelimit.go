package server

import (
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"podium/game"
)

func defaultLimit(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// rateLimits limits requests per minute: per credential (a bearer token or a
// session cookie, whichever the request carries, hashed) and, for requests
// without one, per IP address. Health checks are never limited. Counts are
// per node: behind a load balancer with N nodes a client gets up to N times
// the limit.
func (s *Server) rateLimits() []fiber.Handler {
	credential := func(c *fiber.Ctx) string {
		if a := c.Get(fiber.HeaderAuthorization); a != "" {
			return "t:" + hashSecret(a)
		}
		if ck := c.Cookies(CookieSession); ck != "" {
			return "s:" + hashSecret(ck)
		}
		return ""
	}
	skipHealth := func(c *fiber.Ctx) bool { p := c.Path(); return p == "/healthz" || p == "/readyz" }
	return []fiber.Handler{
		s.limiter(s.cfg.RateLimit, credential, func(c *fiber.Ctx) bool { return skipHealth(c) || credential(c) == "" }),
		s.limiter(s.cfg.AnonRateLimit, func(c *fiber.Ctx) string { return "ip:" + c.IP() }, func(c *fiber.Ctx) bool { return skipHealth(c) || credential(c) != "" }),
	}
}

// limiter returns a sliding-window limiter of perMinute requests per key,
// answering 429 rate_limited with Retry-After; a pass-through when
// perMinute < 0.
func (s *Server) limiter(perMinute int, key func(*fiber.Ctx) string, skip func(*fiber.Ctx) bool) fiber.Handler {
	if perMinute < 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max:               perMinute,
		Expiration:        time.Minute,
		KeyGenerator:      key,
		Next:              skip,
		LimiterMiddleware: limiter.SlidingWindow{},
		LimitReached: func(c *fiber.Ctx) error {
			return game.Errorf(game.ERateLimited, "", "too many requests; wait %s seconds and try again", strings.TrimSpace(c.GetRespHeader(fiber.HeaderRetryAfter)))
		},
	})
}

// failures counts, per client address, requests whose credentials were
// wrong in the current minute. Past LoginRateLimit×10 an address is refused
// before any lookup, so rotating made-up tokens (each its own rate-limit
// bucket) cannot hammer the token table.
type failures struct {
	mu     sync.Mutex
	minute int64
	counts map[string]int
}

func (s *Server) failureLimit() int { return s.cfg.LoginRateLimit * 10 }

func (s *Server) authFailed(c *fiber.Ctx) {
	if s.cfg.LoginRateLimit < 0 {
		return
	}
	f := &s.failures
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := s.now().Unix() / 60; m != f.minute || f.counts == nil {
		f.minute, f.counts = m, map[string]int{}
	}
	f.counts[c.IP()]++
}

func (s *Server) tooManyFailures(c *fiber.Ctx) bool {
	if s.cfg.LoginRateLimit < 0 {
		return false
	}
	f := &s.failures
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.minute != s.now().Unix()/60 {
		return false
	}
	return f.counts[c.IP()] >= s.failureLimit()
}
