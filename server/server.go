// Package server is Podium's HTTP face: the JSON API under /api/v1, the
// OpenAPI document, the WebSocket endpoint, operations endpoints and the
// static app. It is the only package that imports Fiber. Handlers are thin:
// decode, authorize, call the engine, encode.
//
// Every route is declared in one table (routes.go) with the permission it
// needs; authorization is checked in one middleware from that table, and a
// test fails when a route is missing from the table or from the OpenAPI
// document.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"podium/engine"
	"podium/game"
)

// Config holds the server's settings; zero values mean the documented defaults.
type Config struct {
	// Directory holds users, sessions, tokens and the audit log. Required.
	Directory engine.Directory
	// AdminToken, when set, is an operator bearer token that may do
	// everything (automation, recovery). People sign in instead; integrations
	// and TVs use API and display tokens.
	AdminToken string
	// PublicBoards lets anyone who can reach the server read boards and the
	// win feed without a token. Off by default: TVs use display tokens.
	PublicBoards bool
	// PublicCommission lets everyone who reads boards (display tokens, reps)
	// read commission boards too. Off by default: pay is private.
	PublicCommission bool
	// PublicURL is the address people use ("https://podium.example.com"),
	// for the links Podium hands out. Empty means the request's own.
	PublicURL string
	// SessionTTL is how long a sign-in lasts. Zero means 7 days.
	SessionTTL time.Duration
	// ResetTTL is how long a sign-in or reset link works. Zero means 72 hours.
	ResetTTL time.Duration
	// Lockout is the rule for repeated wrong passwords. Zero means
	// game.DefaultLockout.
	Lockout game.Lockout
	// PasswordParams are the argon2id parameters. Nil means OWASPParams.
	PasswordParams *argon2id.Params
	// HashConcurrency caps password hashes running at once. Zero means
	// GOMAXPROCS.
	HashConcurrency int
	// RateLimit is the requests per minute one token or signed-in browser
	// may make; AnonRateLimit per IP address without credentials;
	// LoginRateLimit sign-in and reset attempts per IP address. Zero means
	// the defaults (6000, 600, 10); negative turns the limit off.
	RateLimit, AnonRateLimit, LoginRateLimit int
	// ProxyHeader names the header holding the client's address when Podium
	// runs behind a proxy ("X-Forwarded-For"); empty means the peer address.
	// Set it only behind a proxy that overwrites it.
	ProxyHeader string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// AllowedOrigins lists the browser origins, besides the server's own,
	// that may open WebSockets ("https://tv.example.com").
	AllowedOrigins []string
	// BodyLimit caps request bodies in bytes. Zero means 10 MiB.
	BodyLimit int
	// WSQueue is each connection's send queue in messages. Zero means 64:
	// board updates are coalesced and the writer batches what is queued, so
	// a client 64 messages behind is not keeping up.
	WSQueue int
	// WSReadLimit caps one client message in bytes. Zero means 4 KiB.
	WSReadLimit int64
	// WSPingInterval is how often the server pings; a client silent for
	// twice as long is dropped. Zero means 25s.
	WSPingInterval time.Duration
	// WSWriteTimeout bounds one write to a client. Zero means 10s.
	WSWriteTimeout time.Duration
	// HandshakeTimeout bounds the WebSocket upgrade. Zero means 10s.
	HandshakeTimeout time.Duration
	// Logger receives request errors. Nil discards them.
	Logger *slog.Logger
	// Registry serves /metrics. Nil means a new registry.
	Registry *prometheus.Registry
}

func (c *Config) setDefaults() {
	if c.SessionTTL <= 0 {
		c.SessionTTL = 7 * 24 * time.Hour
	}
	if c.ResetTTL <= 0 {
		c.ResetTTL = 72 * time.Hour
	}
	if c.Lockout.MaxFailures <= 0 {
		c.Lockout = game.DefaultLockout
	}
	if c.PasswordParams == nil {
		c.PasswordParams = OWASPParams
	}
	c.RateLimit = defaultLimit(c.RateLimit, 6000)
	c.AnonRateLimit = defaultLimit(c.AnonRateLimit, 600)
	c.LoginRateLimit = defaultLimit(c.LoginRateLimit, 10)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = 10 << 20
	}
	if c.WSQueue <= 0 {
		c.WSQueue = 64
	}
	if c.WSReadLimit <= 0 {
		c.WSReadLimit = 4 << 10
	}
	if c.WSPingInterval <= 0 {
		c.WSPingInterval = 25 * time.Second
	}
	if c.WSWriteTimeout <= 0 {
		c.WSWriteTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
}

// Server serves one engine over HTTP.
type Server struct {
	cfg    Config
	e      *engine.Engine
	dir    engine.Directory
	app    *fiber.App
	log    *slog.Logger
	hasher *hasher
	now    func() time.Time

	loginLimit fiber.Handler
	failures   failures
}

// New builds the Fiber app with every route of the route table.
func New(cfg Config, e *engine.Engine) (*Server, error) {
	cfg.setDefaults()
	if cfg.Directory == nil {
		return nil, errors.New("server: a directory is required")
	}
	h, err := newHasher(cfg.PasswordParams, cfg.HashConcurrency)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, e: e, dir: cfg.Directory, log: cfg.Logger, hasher: h, now: cfg.Now}
	s.loginLimit = s.limiter(cfg.LoginRateLimit, func(c *fiber.Ctx) string { return "login:" + c.IP() }, nil)
	s.app = fiber.New(fiber.Config{
		AppName:               "podium",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// fasthttp keeps a connection's read buffer for the life of an
		// upgraded WebSocket: the default 4 KiB fits request headers and keeps
		// an idle live connection small.
		ReadBufferSize:    4096,
		ReduceMemoryUsage: true,
		ProxyHeader:       cfg.ProxyHeader,
	})
	s.app.Use(securityHeaders)
	for _, h := range s.rateLimits() {
		s.app.Use(h)
	}
	for _, r := range s.routes() {
		handlers := []fiber.Handler{s.authorize(r)}
		handlers = append(handlers, r.handlers...)
		s.app.Add(r.Method, r.Path, handlers...)
	}
	s.app.Use(s.notFound)
	return s, nil
}

// App returns the Fiber app, for tests (app.Test) and for Listen.
func (s *Server) App() *fiber.App { return s.app }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests, up to
// ctx. Hijacked WebSocket connections are closed by the engine (1001).
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

// securityHeaders sets the headers every response carries. The CSP allows no
// inline script or style: the app is plain files under static/.
func securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if c.Protocol() == "https" {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}

func (s *Server) notFound(c *fiber.Ctx) error {
	return game.Errorf(game.ENotFound, "", "no route %s %s", c.Method(), c.Path())
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// statusOf maps a domain error code to its HTTP status. It is the only place
// that does.
func statusOf(code string) int {
	switch code {
	case game.EInvalid, game.EMissingField, game.EUnknownRep, game.ECurrency, game.EIdempotency:
		return fiber.StatusUnprocessableEntity
	case codeBadJSON:
		return fiber.StatusBadRequest
	case game.ENotFound:
		return fiber.StatusNotFound
	case game.EConflict:
		return fiber.StatusConflict
	case game.EUnauthorized:
		return fiber.StatusUnauthorized
	case game.EForbidden, ECSRF:
		return fiber.StatusForbidden
	case game.ETooLarge:
		return fiber.StatusRequestEntityTooLarge
	case game.ERateLimited:
		return fiber.StatusTooManyRequests
	case game.EUnavailable:
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusInternalServerError
}

// httpCode is the stable code of a protocol-level error Fiber raised.
func httpCode(status int) string {
	switch status {
	case fiber.StatusUpgradeRequired:
		return "upgrade_required"
	case fiber.StatusRequestTimeout:
		return "timeout"
	case fiber.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	}
	if status >= 500 {
		return game.EInternal
	}
	return "bad_request"
}

// codeBadJSON is the code of a body that is not the JSON the route expects.
const codeBadJSON = "invalid_json"

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	body := errorBody{Code: game.EInternal, Message: "something went wrong on the server; it has been logged"}
	var fe *fiber.Error
	switch ge := game.AsError(err); {
	case ge != nil:
		body = errorBody{Code: ge.Code, Message: ge.Message, Field: ge.Field}
	case errors.As(err, &fe):
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			body = errorBody{Code: game.ETooLarge, Message: "the request body is larger than the server accepts; split it into smaller batches"}
		case fiber.StatusNotFound:
			body = errorBody{Code: game.ENotFound, Message: fe.Message}
		case fiber.StatusMethodNotAllowed:
			return c.Status(fe.Code).JSON(errorBody{Code: "method_not_allowed", Message: fe.Message})
		case fiber.StatusBadRequest:
			body = errorBody{Code: codeBadJSON, Message: fe.Message}
		default:
			return c.Status(fe.Code).JSON(errorBody{Code: httpCode(fe.Code), Message: fe.Message})
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		body = errorBody{Code: game.EUnavailable, Message: "the request timed out; retry with the same Idempotency-Key"}
	}
	status := statusOf(body.Code)
	if status >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	return c.Status(status).JSON(body)
}
