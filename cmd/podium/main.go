// Command podium runs a Podium node and its maintenance tasks.
//
//	podium [serve]   run the server (default)
//	podium migrate   apply database migrations and exit
//	podium rebuild   recompute every board from the ledger
//	podium seed      create the demo company (3 teams, 20 reps)
//	podium user      create users and issue sign-in links
//	podium audit     verify or export the audit log
//
// With no configuration Podium runs embedded: SQLite in the data directory and
// in-process boards. DATABASE_URL and REDIS_URL switch to production mode.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goredis "github.com/redis/go-redis/v9"

	"podium/engine"
	"podium/engine/memory"
	predis "podium/engine/redis"
	"podium/server"
	"podium/store/postgres"
	"podium/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "podium:", err)
		os.Exit(1)
	}
}

// Run runs one podium command until it is done or ctx is cancelled. ready, if
// not nil, is called with the listen address once a server accepts requests.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "migrate", "rebuild", "seed":
	case "user", "audit":
		return runAdmin(ctx, cmd, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: podium [serve|migrate|rebuild|seed|user|audit] [flags]; podium <command> -h lists the flags")
		return nil
	default:
		return fmt.Errorf("unknown command %q: use serve, migrate, rebuild, seed, user or audit", cmd)
	}
	cfg, _, err := parseConfig(cmd, args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "rebuild":
		return rebuild(ctx, cfg, stdout, log)
	case "seed":
		return seed(ctx, cfg, stdout, log)
	}
	return serve(ctx, cfg, stdout, log, ready)
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// relational is what the SQL stores provide: the engine's store and the
// directory of users, tokens and the audit log.
type relational interface {
	engine.Store
	engine.Directory
	engine.CompStore
}

// node is a wired set of ports.
type node struct {
	store  relational
	boards engine.Boards
	bus    engine.Bus
	redis  *goredis.Client
	desc   string
}

func (n *node) Close() {
	if n.redis != nil {
		n.redis.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}

func openStore(ctx context.Context, cfg Config, migrate bool) (relational, string, error) {
	if cfg.Production() {
		if migrate {
			if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
				return nil, "", fmt.Errorf("migrate postgres: %w", err)
			}
		}
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		return s, "postgres " + redactURL(cfg.DatabaseURL), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "podium.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{SkipMigrate: !migrate})
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite: %w", err)
	}
	return s, "sqlite " + path, nil
}

func open(ctx context.Context, cfg Config, log *slog.Logger, migrate bool) (*node, error) {
	n := &node{}
	var err error
	var storeDesc string
	n.store, storeDesc, err = openStore(ctx, cfg, migrate)
	if err != nil {
		return nil, err
	}
	if !cfg.Production() {
		n.boards, n.bus = memory.NewBoards(), memory.NewBus(1000)
		n.desc = storeDesc + ", in-process boards and bus"
		return n, nil
	}
	opt, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	n.redis = goredis.NewClient(opt)
	if err := n.redis.Ping(ctx).Err(); err != nil {
		n.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opt.Addr, err)
	}
	switch err := predis.CheckNoEviction(ctx, n.redis); {
	case errors.Is(err, predis.ErrPolicyUnknown):
		log.Warn("cannot read Redis maxmemory-policy; make sure it is noeviction, or boards may silently lose entries")
	case err != nil:
		n.Close()
		return nil, err
	}
	n.boards = predis.NewBoards(n.redis, cfg.RedisPrefix)
	n.bus = predis.NewBus(n.redis, cfg.RedisPrefix, 1000)
	n.desc = storeDesc + ", redis " + opt.Addr
	return n, nil
}

func engineConfig(cfg Config, log *slog.Logger, m *engine.Metrics) engine.Config {
	committers := cfg.Committers
	if committers == 0 && cfg.Production() {
		committers = 4
	}
	return engine.Config{
		Location:   cfg.Location,
		Currency:   cfg.Currency,
		BatchSize:  cfg.BatchSize,
		Committers: committers,
		Logger:     log,
		Metrics:    m,
	}
}

func serve(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger, ready func(string)) error {
	// Listen first, so the first log line can name the URL to open.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	n, err := open(ctx, cfg, log, !cfg.NoMigrate)
	if err != nil {
		return err
	}
	defer n.Close()
	mode := "embedded"
	if cfg.Production() {
		mode = "production"
	}
	log.Info("podium is starting", "mode", mode, "stores", n.desc, "url", browseURL(ln.Addr()), "demo", cfg.Demo)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := engine.NewMetrics()
	if err := metrics.Register(reg); err != nil {
		return err
	}
	e := engine.New(engineConfig(cfg, log, metrics), n.store, n.boards, n.bus)
	e.UseComp(n.store)
	if err := e.Start(ctx); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if cfg.Demo {
		if err := seedDemo(ctx, e, stdout, time.Now()); err != nil {
			e.Close(context.Background())
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	if err := firstAdmin(ctx, n.store, cfg, publicURL(cfg, ln.Addr()), stdout); err != nil {
		e.Close(context.Background())
		return err
	}
	srv, err := server.New(server.Config{
		Directory:        n.store,
		AdminToken:       cfg.AdminToken,
		PublicBoards:     cfg.PublicBoards,
		PublicCommission: cfg.PublicCommission,
		PublicURL:        cfg.PublicURL,
		AllowedOrigins:   cfg.AllowedOrigins,
		RateLimit:        cfg.RateLimit,
		AnonRateLimit:    cfg.AnonRateLimit,
		LoginRateLimit:   cfg.LoginRateLimit,
		ProxyHeader:      cfg.ProxyHeader,
		Logger:           log,
		Registry:         reg,
	}, e)
	if err != nil {
		e.Close(context.Background())
		return err
	}
	log.Info("podium is up", "url", browseURL(ln.Addr()))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	if cfg.Demo {
		go simulate(ctx, e, cfg.DemoInterval, log)
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil {
			e.Close(context.Background())
			return fmt.Errorf("serve: %w", err)
		}
	}
	// Shutdown order: stop accepting and finish requests, close live
	// connections with 1001 and drain the outbox, then the stores close
	// (deferred above).
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := e.Close(sctx); err != nil {
		log.Warn("engine shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

func browseURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

func migrate(ctx context.Context, cfg Config, stdout io.Writer) error {
	s, desc, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "migrations applied (%s)\n", desc)
	return nil
}

// rebuild recomputes every board from the ledger, printing progress. Running
// nodes notice the new epoch; they also rebuild by themselves whenever the
// board store loses its data.
func rebuild(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	if !cfg.Production() {
		fmt.Fprintln(stdout, "embedded mode keeps boards in memory and rebuilds them from the ledger at every start; nothing to do")
		return nil
	}
	n, err := open(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer n.Close()
	e := engine.New(engineConfig(cfg, log, nil), n.store, n.boards, n.bus)
	start := time.Now()
	last := time.Time{}
	count, err := e.Rebuild(ctx, func(done, total int) {
		if time.Since(last) > 500*time.Millisecond || done == total {
			last = time.Now()
			fmt.Fprintf(stdout, "\rrebuilding boards: %d/%d (%d%%)", done, total, done*100/max(total, 1))
		}
	})
	fmt.Fprintln(stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt %d boards from the ledger in %s\n", count, time.Since(start).Round(time.Millisecond))
	return nil
}

func seed(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	n, err := open(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer n.Close()
	e := engine.New(engineConfig(cfg, log, nil), n.store, n.boards, n.bus)
	e.UseComp(n.store)
	if err := e.Start(ctx); err != nil {
		return err
	}
	defer e.Close(context.Background())
	return seedDemo(ctx, e, stdout, time.Now())
}
