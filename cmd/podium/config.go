package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"podium/game"
)

// Config is every setting of a Podium node. Each flag falls back to an
// environment variable; the README's configuration table lists them.
type Config struct {
	Addr             string         // --addr, PODIUM_ADDR; default ":8080"
	DataDir          string         // --data-dir, PODIUM_DATA_DIR; embedded mode's SQLite file and admin token; default "./data"
	DatabaseURL      string         // --database-url, DATABASE_URL; Postgres, switches to production mode
	RedisURL         string         // --redis-url, REDIS_URL; Redis boards and bus
	RedisPrefix      string         // --redis-prefix, PODIUM_REDIS_PREFIX; default "podium:"
	AdminToken       string         // --admin-token, PODIUM_ADMIN_TOKEN; optional operator token for automation
	AdminEmail       string         // --admin-email, PODIUM_ADMIN_EMAIL; the first admin, created on first start; default "admin@example.com"
	PublicURL        string         // --public-url, PODIUM_PUBLIC_URL; the address people use, for sign-in links
	RateLimit        int            // --rate-limit, PODIUM_RATE_LIMIT; requests a minute per token or browser, 0 default 6000, -1 off
	AnonRateLimit    int            // --anon-rate-limit, PODIUM_ANON_RATE_LIMIT; per IP without credentials, 0 default 600, -1 off
	LoginRateLimit   int            // --login-rate-limit, PODIUM_LOGIN_RATE_LIMIT; sign-in attempts a minute per IP, 0 default 10, -1 off
	ProxyHeader      string         // --proxy-header, PODIUM_PROXY_HEADER; client address header behind a proxy (X-Forwarded-For)
	TimeZone         string         // --timezone, PODIUM_TIMEZONE; IANA name, default "UTC"
	Location         *time.Location // resolved TimeZone
	Currency         string         // --currency, PODIUM_CURRENCY; default "USD"
	Demo             bool           // --demo, PODIUM_DEMO; seed a demo company and simulate deals
	DemoInterval     time.Duration  // --demo-interval, PODIUM_DEMO_INTERVAL; default 3s
	PublicBoards     bool           // --public-boards, PODIUM_PUBLIC_BOARDS; default false (true with --demo)
	PublicCommission bool           // --public-commission, PODIUM_PUBLIC_COMMISSION; commission boards readable by every board reader
	AllowedOrigins   []string       // --allowed-origins, PODIUM_ALLOWED_ORIGINS; comma separated
	NoMigrate        bool           // --no-migrate, PODIUM_NO_MIGRATE; do not migrate on serve
	Committers       int            // --committers, PODIUM_COMMITTERS; 0 means 1 for SQLite, 4 for Postgres
	BatchSize        int            // --batch-size, PODIUM_BATCH_SIZE; events per transaction, 0 means 64
	LogFormat        string         // --log-format, PODIUM_LOG_FORMAT; text or json, default text
	LogLevel         string         // --log-level, PODIUM_LOG_LEVEL; debug, info, warn, error; default info
	ShutdownTimeout  time.Duration  // --shutdown-timeout, PODIUM_SHUTDOWN_TIMEOUT; default 15s
}

// Production reports whether Postgres and Redis are configured.
func (c Config) Production() bool { return c.DatabaseURL != "" }

func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, []string, error) {
	var c Config
	fs := flag.NewFlagSet("podium "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	envBool := func(key string, def bool) bool {
		if v := getenv(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err == nil {
				return b
			}
		}
		return def
	}
	envInt := func(key string) int {
		n, _ := strconv.Atoi(getenv(key))
		return n
	}
	envDur := func(key string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv(key)); err == nil {
			return d
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("PODIUM_ADDR", ":8080"), "listen address")
	fs.StringVar(&c.DataDir, "data-dir", env("PODIUM_DATA_DIR", "./data"), "data directory of embedded mode")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "Postgres URL (production mode)")
	fs.StringVar(&c.RedisURL, "redis-url", env("REDIS_URL", ""), "Redis URL (production mode)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", env("PODIUM_REDIS_PREFIX", "podium:"), "prefix of every Redis key")
	fs.StringVar(&c.AdminToken, "admin-token", env("PODIUM_ADMIN_TOKEN", ""), "operator bearer token with every permission (automation, recovery); optional")
	fs.StringVar(&c.AdminEmail, "admin-email", env("PODIUM_ADMIN_EMAIL", "admin@example.com"), "email of the first admin, created on first start")
	fs.StringVar(&c.PublicURL, "public-url", env("PODIUM_PUBLIC_URL", ""), "the address people use (https://podium.example.com), for sign-in links")
	fs.IntVar(&c.RateLimit, "rate-limit", envInt("PODIUM_RATE_LIMIT"), "requests a minute per token or signed-in browser (0: 6000, -1: off)")
	fs.IntVar(&c.AnonRateLimit, "anon-rate-limit", envInt("PODIUM_ANON_RATE_LIMIT"), "requests a minute per IP address without credentials (0: 600, -1: off)")
	fs.IntVar(&c.LoginRateLimit, "login-rate-limit", envInt("PODIUM_LOGIN_RATE_LIMIT"), "sign-in attempts a minute per IP address (0: 10, -1: off)")
	fs.StringVar(&c.ProxyHeader, "proxy-header", env("PODIUM_PROXY_HEADER", ""), "header with the client address when behind a proxy that sets it (X-Forwarded-For)")
	fs.StringVar(&c.TimeZone, "timezone", env("PODIUM_TIMEZONE", "UTC"), "company time zone (IANA name, e.g. America/New_York)")
	fs.StringVar(&c.Currency, "currency", env("PODIUM_CURRENCY", "USD"), "company currency (ISO 4217)")
	fs.BoolVar(&c.Demo, "demo", envBool("PODIUM_DEMO", false), "seed a demo company and simulate deals")
	fs.DurationVar(&c.DemoInterval, "demo-interval", envDur("PODIUM_DEMO_INTERVAL", 3*time.Second), "time between simulated events")
	publicBoards := fs.String("public-boards", env("PODIUM_PUBLIC_BOARDS", ""), "let anyone who reaches the server read boards and the win feed: true or false (default false, true with --demo)")
	fs.BoolVar(&c.PublicCommission, "public-commission", envBool("PODIUM_PUBLIC_COMMISSION", false), "let everyone who reads boards (TVs, reps) read commission boards; pay is private by default")
	origins := fs.String("allowed-origins", env("PODIUM_ALLOWED_ORIGINS", ""), "extra browser origins allowed to open WebSockets, comma separated")
	fs.BoolVar(&c.NoMigrate, "no-migrate", envBool("PODIUM_NO_MIGRATE", false), "do not apply migrations on serve")
	fs.IntVar(&c.Committers, "committers", envInt("PODIUM_COMMITTERS"), "parallel committing goroutines (0: 1 for SQLite, 4 for Postgres)")
	fs.IntVar(&c.BatchSize, "batch-size", envInt("PODIUM_BATCH_SIZE"), "events per transaction under load (0: 64)")
	fs.StringVar(&c.LogFormat, "log-format", env("PODIUM_LOG_FORMAT", "text"), "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", env("PODIUM_LOG_LEVEL", "info"), "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDur("PODIUM_SHUTDOWN_TIMEOUT", 15*time.Second), "longest graceful shutdown")
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	c.PublicBoards = c.Demo
	if *publicBoards != "" {
		b, err := strconv.ParseBool(*publicBoards)
		if err != nil {
			return Config{}, nil, fmt.Errorf("PODIUM_PUBLIC_BOARDS %q: use true or false", *publicBoards)
		}
		c.PublicBoards = b
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	return c, fs.Args(), c.validate()
}

// validate checks the configuration before anything starts.
func (c *Config) validate() error {
	var errs []error
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		errs = append(errs, fmt.Errorf("PODIUM_TIMEZONE %q is not a time zone name such as Europe/Paris", c.TimeZone))
	}
	c.Location = loc
	if _, err := game.MinorDigits(c.Currency); err != nil {
		errs = append(errs, fmt.Errorf("PODIUM_CURRENCY %q is not a supported ISO 4217 code", c.Currency))
	}
	if (c.DatabaseURL == "") != (c.RedisURL == "") {
		errs = append(errs, errors.New("production mode needs both DATABASE_URL and REDIS_URL (set neither for embedded mode)"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 24 {
		errs = append(errs, errors.New("PODIUM_ADMIN_TOKEN must be at least 24 characters (e.g. openssl rand -hex 32)"))
	}
	if _, err := game.NormalizeEmail("", c.AdminEmail); err != nil {
		errs = append(errs, fmt.Errorf("PODIUM_ADMIN_EMAIL %q is not an email address", c.AdminEmail))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: use text or json", c.LogFormat))
	}
	if c.DemoInterval < 10*time.Millisecond {
		errs = append(errs, errors.New("demo interval must be at least 10ms"))
	}
	if c.Committers < 0 || c.Committers > 64 || c.BatchSize < 0 || c.BatchSize > 10000 {
		errs = append(errs, errors.New("committers must be 0–64 and batch size 0–10000"))
	}
	return errors.Join(errs...)
}
