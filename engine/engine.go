package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/shopspring/decimal"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"podium/game"
)

// Config holds the engine's settings. The zero value of each field means the
// documented default.
type Config struct {
	// Location is the company's time zone; periods and days are computed in
	// it. Nil means UTC.
	Location *time.Location
	// Currency is the company currency (ISO 4217) revenue is counted in.
	// Empty means USD.
	Currency string
	// BatchSize caps how many queued events one transaction takes. Zero means 64.
	BatchSize int
	// Committers is the number of goroutines committing in parallel. Zero
	// means 1, right for SQLite (one writer); Postgres profits from a few.
	Committers int
	// RelayInterval is how often the outbox relay and the board-epoch check
	// run. Zero means 2s.
	RelayInterval time.Duration
	// RelayGrace is how old an unapplied outbox row must be before the relay
	// takes it over from the node that committed it. Zero means 15s; it must
	// stay well below DedupWindow.
	RelayGrace time.Duration
	// BoardTop is the number of entries in live board snapshots. Zero means 10.
	BoardTop int
	// CoalesceInterval is the shortest time between two updates of one board
	// channel sent to clients. Zero means 250ms.
	CoalesceInterval time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// CompPoll is how often the pay worker looks for work other nodes
	// marked. Zero means 2s.
	CompPoll time.Duration
	// Logger receives the engine's logs. Nil discards them.
	Logger *slog.Logger
	// Metrics, when set, records ingest and fan-out figures.
	Metrics *Metrics
}

func (c *Config) setDefaults() {
	if c.CompPoll <= 0 {
		c.CompPoll = 2 * time.Second
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.Committers <= 0 {
		c.Committers = 1
	}
	if c.RelayInterval <= 0 {
		c.RelayInterval = 2 * time.Second
	}
	if c.RelayGrace <= 0 {
		c.RelayGrace = 15 * time.Second
	}
	if c.BoardTop <= 0 {
		c.BoardTop = 10
	}
	if c.CoalesceInterval <= 0 {
		c.CoalesceInterval = 250 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
}

// Engine is one node's live core. Create it with New, start it with Start and
// stop it with Close.
type Engine struct {
	cfg    Config
	store  Store
	boards Boards
	bus    Bus
	log    *slog.Logger
	hub    *Hub

	queue  chan *request
	applyQ chan []group
	closed atomic.Bool
	// ingestMu is held shared by a committer from before commit until its
	// effects are applied, and exclusively by Rebuild.
	ingestMu sync.RWMutex

	comp     CompStore
	compWake chan struct{}
	compMu   sync.RWMutex
	compCfg  *compCache
	// compGen numbers comp loads as they start; compLoaded is the number of
	// the load compCfg came from (see loadComp).
	compGen    atomic.Uint64
	compLoaded uint64

	rosterMu     sync.RWMutex
	rosterGen    atomic.Uint64 // as compGen, for the roster
	rosterLoaded uint64
	reps         map[int64]game.Rep
	teams        map[int64]game.Team

	stop       context.CancelFunc
	wg         sync.WaitGroup // relay and hub
	committers sync.WaitGroup
	appliers   sync.WaitGroup
	closing    sync.Once
}

// Internal bus channels, not subscribable by clients (they start with "_").
const (
	chanBoards = "_boards" // data: JSON list of board keys an event touched
	chanRoster = "_roster" // data: anything; reps or teams changed
	chanRevoke = "_revoke" // data: a credential ("user:7", "token:3") whose connections must close
)

// New returns an engine over the given ports. It does nothing until Start.
func New(cfg Config, store Store, boards Boards, bus Bus) *Engine {
	cfg.setDefaults()
	e := &Engine{
		cfg: cfg, store: store, boards: boards, bus: bus, log: cfg.Logger,
		queue:  make(chan *request, cfg.BatchSize*cfg.Committers*4),
		applyQ: make(chan []group, cfg.Committers),
		reps:   map[int64]game.Rep{}, teams: map[int64]game.Team{},
	}
	e.hub = newHub(e)
	return e
}

// Hub returns the engine's connection hub.
func (e *Engine) Hub() *Hub { return e.hub }

// Config returns the engine's effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// Start loads the roster, rebuilds the boards if the board store lost them,
// subscribes to the bus and starts the committers, the outbox relay and the
// hub. It returns once the node is ready to serve.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.loadRoster(ctx); err != nil {
		return err
	}
	if err := e.loadComp(ctx); err != nil {
		return err
	}
	if _, err := e.ensureBoards(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	// Subscribe before serving, so that nothing published by another node
	// after this node is ready goes unseen.
	if err := e.bus.Subscribe(runCtx, e.onBus); err != nil {
		cancel()
		return fmt.Errorf("subscribe to the bus: %w", err)
	}
	for range e.cfg.Committers {
		e.committers.Add(1)
		go func() { defer e.committers.Done(); e.commitLoop(runCtx) }()
		e.appliers.Add(1)
		go func() { defer e.appliers.Done(); e.applyLoop() }()
	}
	e.wg.Add(2)
	go func() { defer e.wg.Done(); e.relayLoop(runCtx) }()
	go func() { defer e.wg.Done(); e.hub.run(runCtx) }()
	if e.comp != nil {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.compLoop(runCtx) }()
	}
	return nil
}

// Close stops accepting ingest, closes every connection with 1001 (going
// away), drains the outbox of what this node committed and stops the
// background work. The caller closes the ports afterwards.
func (e *Engine) Close(ctx context.Context) error {
	var err error
	e.closing.Do(func() {
		e.closed.Store(true)
		e.hub.closeAll(CloseGoingAway, "server shutting down")
		if e.stop != nil {
			e.stop()
		}
		done := make(chan struct{})
		go func() {
			// Committers finish their transaction, appliers apply what was
			// committed, then the queue between them closes.
			e.committers.Wait()
			close(e.applyQ)
			e.appliers.Wait()
			e.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		// Anything committed but not applied is picked up by the relay of a
		// live node, or by this node's next start.
		if rerr := e.relayOnce(ctx, e.cfg.Now().Add(time.Hour)); rerr != nil && err == nil {
			err = rerr
		}
	})
	return err
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ---- roster: reps and teams, cached on every node ----

func (e *Engine) loadRoster(ctx context.Context) error {
	// As loadComp: a load that started later wins, whatever finishes first.
	gen := e.rosterGen.Add(1)
	reps, err := e.store.ListReps(ctx)
	if err != nil {
		return fmt.Errorf("load reps: %w", err)
	}
	teams, err := e.store.ListTeams(ctx)
	if err != nil {
		return fmt.Errorf("load teams: %w", err)
	}
	rm := make(map[int64]game.Rep, len(reps))
	for _, r := range reps {
		rm[r.ID] = r
	}
	tm := make(map[int64]game.Team, len(teams))
	for _, t := range teams {
		tm[t.ID] = t
	}
	e.rosterMu.Lock()
	if gen > e.rosterLoaded {
		e.reps, e.teams, e.rosterLoaded = rm, tm, gen
	}
	e.rosterMu.Unlock()
	return nil
}

func (e *Engine) rosterChanged(ctx context.Context) error {
	if err := e.loadRoster(ctx); err != nil {
		return err
	}
	if _, err := e.bus.Publish(ctx, chanRoster, []byte(`{}`)); err != nil {
		e.log.Warn("publish roster change", "err", err)
	}
	return nil
}

// Revoke closes, on every node, the live connections opened with credential
// owner (see Conn.SetOwners). This node's close at once; the others' when
// the bus delivers the notice.
func (e *Engine) Revoke(ctx context.Context, owner string) error {
	e.hub.closeOwned(owner)
	if _, err := e.bus.Publish(ctx, chanRevoke, []byte(owner)); err != nil {
		return fmt.Errorf("publish revocation: %w", err)
	}
	return nil
}

// Forgotten is called after a person was erased from the store: it drops
// the bus history that named them (the win feed and their channel), reloads
// the roster on every node so no cache keeps the old name, and closes the
// connections of their user. Boards hold rep ids only, never names.
func (e *Engine) Forgotten(ctx context.Context, repID, userID int64) error {
	for _, ch := range []string{"feed", RepChannel(repID)} {
		if err := e.bus.Forget(ctx, ch); err != nil {
			return err
		}
	}
	if err := e.rosterChanged(ctx); err != nil {
		return err
	}
	if userID != 0 {
		return e.Revoke(ctx, game.UserActor(userID).String())
	}
	return nil
}

// TeamsUnder returns the teams at or below roots in the cached hierarchy.
func (e *Engine) TeamsUnder(roots []int64) map[int64]bool {
	e.rosterMu.RLock()
	defer e.rosterMu.RUnlock()
	teams := make([]game.Team, 0, len(e.teams))
	for _, t := range e.teams {
		teams = append(teams, t)
	}
	return game.TeamsUnder(teams, roots)
}

// Rep returns a cached rep.
func (e *Engine) Rep(id int64) (game.Rep, bool) {
	e.rosterMu.RLock()
	defer e.rosterMu.RUnlock()
	r, ok := e.reps[id]
	return r, ok
}

// Team returns a cached team.
func (e *Engine) Team(id int64) (game.Team, bool) {
	e.rosterMu.RLock()
	defer e.rosterMu.RUnlock()
	t, ok := e.teams[id]
	return t, ok
}

// Teams lists teams by id.
func (e *Engine) Teams(ctx context.Context) ([]game.Team, error) { return e.store.ListTeams(ctx) }

// Reps lists reps by id.
func (e *Engine) Reps(ctx context.Context) ([]game.Rep, error) { return e.store.ListReps(ctx) }

// CreateTeam validates and stores a new team.
func (e *Engine) CreateTeam(ctx context.Context, t game.Team, by game.Actor) (game.Team, error) {
	if err := validateName(t.Name); err != nil {
		return game.Team{}, err
	}
	t.Active = true
	t, err := e.store.CreateTeam(ctx, t, by)
	if err != nil {
		return game.Team{}, err
	}
	return t, e.rosterChanged(ctx)
}

// UpdateTeam renames, deactivates or reactivates a team.
func (e *Engine) UpdateTeam(ctx context.Context, t game.Team, by game.Actor) (game.Team, error) {
	if err := validateName(t.Name); err != nil {
		return game.Team{}, err
	}
	t, err := e.store.UpdateTeam(ctx, t, by)
	if err != nil {
		return game.Team{}, err
	}
	return t, e.rosterChanged(ctx)
}

// CreateRep validates and stores a new rep.
func (e *Engine) CreateRep(ctx context.Context, r game.Rep, by game.Actor) (game.Rep, error) {
	if err := validateRep(r); err != nil {
		return game.Rep{}, err
	}
	r.Active = true
	r, err := e.store.CreateRep(ctx, r, by)
	if err != nil {
		return game.Rep{}, err
	}
	return r, e.rosterChanged(ctx)
}

// UpdateRep changes a rep's name, email, team or active flag. Credits already
// posted keep the team they were posted to.
func (e *Engine) UpdateRep(ctx context.Context, r game.Rep, by game.Actor) (game.Rep, error) {
	if err := validateRep(r); err != nil {
		return game.Rep{}, err
	}
	r, err := e.store.UpdateRep(ctx, r, by)
	if err != nil {
		return game.Rep{}, err
	}
	return r, e.rosterChanged(ctx)
}

func validateName(name string) error {
	if name == "" {
		return game.Errorf(game.EMissingField, "name", "name is required")
	}
	if len(name) > 200 {
		return game.Errorf(game.EInvalid, "name", "name is longer than 200 characters")
	}
	return nil
}

func validateRep(r game.Rep) error {
	if err := validateName(r.Name); err != nil {
		return err
	}
	if r.TeamID < 0 {
		return game.Errorf(game.EInvalid, "team_id", "team_id must be a team's id")
	}
	if len(r.Email) > 320 {
		return game.Errorf(game.EInvalid, "email", "email is too long")
	}
	return nil
}

// Deal returns a deal's current state, or a not-found error.
func (e *Engine) Deal(ctx context.Context, source, externalID string) (*DealState, error) {
	d, err := e.store.Deal(ctx, source, externalID)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, game.Errorf(game.ENotFound, "", "no deal %s/%s", source, externalID)
	}
	return d, nil
}

// Ledger returns a rep's most recent ledger rows.
func (e *Engine) Ledger(ctx context.Context, repID int64, limit int) ([]LedgerRow, error) {
	if _, ok := e.Rep(repID); !ok {
		return nil, game.Errorf(game.ENotFound, "rep_id", "no rep %d", repID)
	}
	return e.store.Ledger(ctx, repID, limit)
}

// ---- boards ----

// BoardEntry is a standing with what a screen shows about the rep.
type BoardEntry struct {
	game.Standing
	Name   string `json:"name"`
	TeamID int64  `json:"team_id"`
	Team   string `json:"team"`
	Value  string `json:"value"` // score as the metric shows it: "12000.00" for revenue
}

// BoardView is a snapshot of one board.
type BoardView struct {
	Board    string       `json:"board"`
	Metric   game.Metric  `json:"metric"`
	Period   game.Period  `json:"period"`
	Instance string       `json:"instance"`
	Scope    string       `json:"scope"`
	Currency string       `json:"currency,omitempty"`
	Entries  []BoardEntry `json:"entries"`
}

// CurrentBoard names the board of metric, period and scope that contains now.
func (e *Engine) CurrentBoard(m game.Metric, p game.Period, scope string) (game.BoardKey, error) {
	inst, err := p.Instance(game.Day(e.cfg.Now(), e.cfg.Location))
	if err != nil {
		return game.BoardKey{}, err
	}
	return game.BoardKey{Metric: m, Period: p, Instance: inst, Scope: scope}, nil
}

func (e *Engine) entry(k game.BoardKey, s game.Standing) BoardEntry {
	be := BoardEntry{Standing: s}
	e.rosterMu.RLock()
	if r, ok := e.reps[s.RepID]; ok {
		be.Name, be.TeamID = r.Name, r.TeamID
		if t, ok := e.teams[r.TeamID]; ok {
			be.Team = t.Name
		}
	}
	e.rosterMu.RUnlock()
	if be.Name == "" {
		be.Name = fmt.Sprintf("Rep %d", s.RepID)
	}
	switch {
	case k.Metric.Money():
		be.Value = game.FormatMinor(s.Score, e.cfg.Currency)
	case k.Metric == game.MetricAttainment:
		be.Value = decimal.New(s.Score, -2).StringFixed(2) + " %" // basis points
	default:
		be.Value = fmt.Sprint(s.Score)
	}
	return be
}

func (e *Engine) view(k game.BoardKey, st []game.Standing) BoardView {
	v := BoardView{Board: k.String(), Metric: k.Metric, Period: k.Period, Instance: k.Instance, Scope: k.Scope, Entries: make([]BoardEntry, len(st))}
	if k.Metric.Money() {
		v.Currency = e.cfg.Currency
	}
	for i, s := range st {
		v.Entries[i] = e.entry(k, s)
	}
	return v
}

// Top returns the first n entries of a board.
func (e *Engine) Top(ctx context.Context, k game.BoardKey, n int) (BoardView, error) {
	st, err := e.boards.Top(ctx, k.String(), n)
	if err != nil {
		return BoardView{}, fmt.Errorf("board top: %w", err)
	}
	return e.view(k, st), nil
}

// Around returns a rep's standing with radius neighbours on each side.
func (e *Engine) Around(ctx context.Context, k game.BoardKey, repID int64, radius int) (BoardView, error) {
	if _, ok := e.Rep(repID); !ok {
		return BoardView{}, game.Errorf(game.ENotFound, "rep_id", "no rep %d", repID)
	}
	st, err := e.boards.Around(ctx, k.String(), repID, radius)
	if err != nil {
		return BoardView{}, fmt.Errorf("board around: %w", err)
	}
	return e.view(k, st), nil
}

// Ready reports whether the stores are reachable.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := e.boards.Ping(ctx); err != nil {
		return fmt.Errorf("boards: %w", err)
	}
	return nil
}

// ---- bus ----

func (e *Engine) onBus(m Message) {
	switch m.Channel {
	case chanRoster:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.loadRoster(ctx); err != nil {
			e.log.Warn("reload roster", "err", err)
		}
	case chanComp:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.loadComp(ctx); err != nil {
			e.log.Warn("reload plans", "err", err)
		}
	case chanRevoke:
		e.hub.closeOwned(string(m.Data))
	case chanBoards:
		var keys []string
		if err := json.Unmarshal(m.Data, &keys); err != nil {
			e.log.Warn("bad board notice", "err", err)
			return
		}
		e.hub.boardsTouched(keys)
	default:
		e.hub.deliver(m)
	}
}

// ---- rebuild ----

// RebuildProgress reports rebuild progress: boards written so far of total.
type RebuildProgress func(done, total int)

// Rebuild recomputes every board from the ledger and replaces the board store's
// content with it, removes boards the ledger no longer backs, marks committed
// effects applied (the ledger already includes them) and sets a new epoch. It
// holds this node's ingest lock, so no event of this node is between commit
// and board update meanwhile. It returns the number of boards written.
func (e *Engine) Rebuild(ctx context.Context, progress RebuildProgress) (int, error) {
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	return e.rebuildLocked(ctx, progress)
}

func (e *Engine) rebuildLocked(ctx context.Context, progress RebuildProgress) (int, error) {
	pending, err := e.store.PendingOutbox(ctx, e.cfg.Now().Add(24*time.Hour), 1<<30)
	if err != nil {
		return 0, fmt.Errorf("rebuild: pending outbox: %w", err)
	}
	boards, err := ComputeBoards(ctx, e.store)
	if err != nil {
		return 0, fmt.Errorf("rebuild: %w", err)
	}
	existing, err := e.boards.Boards(ctx)
	if err != nil {
		return 0, fmt.Errorf("rebuild: list boards: %w", err)
	}
	for _, k := range existing {
		if _, ok := boards[k]; !ok {
			boards[k] = nil // stale: no ledger row backs it any more
		}
	}
	keys := make([]string, 0, len(boards))
	for k := range boards {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if err := e.boards.Replace(ctx, k, boards[k]); err != nil {
			return i, fmt.Errorf("rebuild: replace %s: %w", k, err)
		}
		if progress != nil {
			progress(i+1, len(keys))
		}
	}
	if len(pending) > 0 {
		keys := make([]string, len(pending))
		for i, p := range pending {
			keys[i] = p.EventKey
		}
		if err := e.store.MarkApplied(ctx, keys); err != nil {
			return len(keys), fmt.Errorf("rebuild: mark applied: %w", err)
		}
	}
	if err := e.boards.SetEpoch(ctx, newEpoch()); err != nil {
		return len(keys), fmt.Errorf("rebuild: set epoch: %w", err)
	}
	e.hub.boardsTouched(nil) // every board channel: resend
	return len(keys), nil
}

// ComputeBoards folds the ledger into every board's scores: the SQL aggregate
// that every board value must equal (invariant 1 of DESIGN.md).
func ComputeBoards(ctx context.Context, s Store) (map[string]map[int64]int64, error) {
	out := make(map[string]map[int64]int64)
	err := s.LedgerTotals(ctx, func(t LedgerTotal) error {
		deltas, err := game.BoardDeltas([]game.LedgerEntry{{RepID: t.RepID, TeamID: t.TeamID, Metric: t.Metric, Day: t.Day, Delta: t.Total}})
		if err != nil {
			return err
		}
		for _, d := range deltas {
			m := out[d.Board]
			if m == nil {
				m = make(map[int64]int64)
				out[d.Board] = m
			}
			m[d.RepID] += d.Delta
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger totals: %w", err)
	}
	return out, nil
}

// ensureBoards rebuilds when the board store has no epoch (it lost its data,
// or never had any). It reports whether it rebuilt.
func (e *Engine) ensureBoards(ctx context.Context) (bool, error) {
	ep, err := e.boards.Epoch(ctx)
	if err != nil {
		return false, fmt.Errorf("board epoch: %w", err)
	}
	if ep != "" {
		return false, nil
	}
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	// Another goroutine may have rebuilt while this one waited.
	if ep, err := e.boards.Epoch(ctx); err != nil || ep != "" {
		return false, err
	}
	start := time.Now()
	n, err := e.rebuildLocked(ctx, nil)
	if err != nil {
		return false, err
	}
	e.log.Info("boards rebuilt from the ledger", "boards", n, "took", time.Since(start).Round(time.Millisecond))
	return true, nil
}
