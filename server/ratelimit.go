package server

import (
	"strings"
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
