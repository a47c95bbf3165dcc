package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
)

// flaky is a Driver whose transactions fail with errRetry the first fails
// times, after running fn.
type flaky struct {
	Driver
	fails, runs int
}

var errRetry = errors.New("serialization failure")

func (f *flaky) Tx(ctx context.Context, fn func(Querier) error) error {
	f.runs++
	if err := fn(nil); err != nil {
		return err
	}
	if f.runs <= f.fails {
		return errRetry
	}
	return nil
}

func TestInTxRetry(t *testing.T) {
	d := Dialect{Retryable: func(err error) bool { return errors.Is(err, errRetry) }, MaxAttempts: 3}
	for _, tc := range []struct {
		name      string
		fails     int
		dialect   Dialect
		wantRuns  int
		wantError error
	}{
		{"no failure", 0, d, 1, nil},
		{"retried", 2, d, 3, nil},
		{"gives up", 5, d, 3, errRetry},
		{"no retry without Retryable", 1, Dialect{MaxAttempts: 3}, 1, errRetry},
		{"MaxAttempts zero runs once", 1, Dialect{Retryable: d.Retryable}, 1, errRetry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{fails: tc.fails}
			s := New(f, tc.dialect, nil)
			calls := 0
			err := s.InTx(t.Context(), func(engine.Tx) error { calls++; return nil })
			if !errors.Is(err, tc.wantError) || f.runs != tc.wantRuns || calls != tc.wantRuns {
				t.Fatalf("InTx = %v after %d runs (%d calls of fn); want %v after %d", err, f.runs, calls, tc.wantError, tc.wantRuns)
			}
		})
	}
	// fn's own errors are not retried, and come back as they are.
	f := &flaky{}
	boom := errors.New("boom")
	if err := New(f, d, nil).InTx(t.Context(), func(engine.Tx) error { return boom }); err != boom || f.runs != 1 {
		t.Fatalf("InTx = %v after %d runs, want boom after 1", err, f.runs)
	}
	// A cancelled context stops the retries.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	f = &flaky{fails: 10}
	if err := New(f, d, nil).InTx(ctx, func(engine.Tx) error { return nil }); !errors.Is(err, context.Canceled) || f.runs != 1 {
		t.Fatalf("InTx on a cancelled context = %v after %d runs", err, f.runs)
	}
}

func TestDecimalText(t *testing.T) {
	for in, want := range map[string]string{
		"0.10": "0.10", "1234567.89": "1234567.89", "100": "100", "-0.50": "-0.50", "0": "0",
	} {
		if got := decimalText(decimal.RequireFromString(in)); got != want {
			t.Errorf("decimalText(%s) = %s, want %s", in, got, want)
		}
	}
	if got := decimalText(decimal.New(1, 12)); got != "1000000000000" {
		t.Errorf("decimalText(1e12) = %s", got)
	}
}

func TestMicros(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(2026, 11, 28, 15, 4, 5, 123456000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
	} {
		if got := fromMicros(micros(tm)); got != tm {
			t.Errorf("round trip of %v = %v", tm, got)
		}
	}
	// Other zones come back as the same instant in UTC.
	tm := time.Date(2026, 11, 28, 9, 0, 0, 0, time.FixedZone("CST", -6*3600))
	if got := fromMicros(micros(tm)); !got.Equal(tm) || got.Location() != time.UTC {
		t.Errorf("round trip of %v = %v", tm, got)
	}
}

func TestBulkSQL(t *testing.T) {
	b := newBulk("outbox", "", column{"event_key", "text", ""}, column{"payload", "bytea", ""}, column{"amount", "text", "NUMERIC"})
	if want := `INSERT INTO outbox (event_key, payload, amount) SELECT c1, c2, CAST(c3 AS NUMERIC) FROM unnest($1::text[], $2::bytea[], $3::text[]) WITH ORDINALITY AS u(c1, c2, c3, ord) ORDER BY ord`; b.unnest != want {
		t.Errorf("unnest SQL =\n%s\nwant\n%s", b.unnest, want)
	}
	if want := `INSERT INTO outbox (event_key, payload, amount) VALUES ($1, $2, $3), ($4, $5, $6)`; b.values[0][1] != want {
		t.Errorf("VALUES SQL of 2 rows =\n%s\nwant\n%s", b.values[0][1], want)
	}
	if want := `INSERT INTO outbox (event_key, payload, amount) VALUES (?, ?, ?), (?, ?, ?)`; b.values[1][1] != want {
		t.Errorf("VALUES SQL of 2 rows, anonymous =\n%s\nwant\n%s", b.values[1][1], want)
	}
}

func TestBulkStmts(t *testing.T) {
	b := newBulk("t", "ON CONFLICT DO NOTHING", column{"a", "text", ""}, column{"b", "bigint", ""})
	rows := func(n int) []any {
		var out []any
		for i := range n {
			out = append(out, fmt.Sprint(i), int64(i))
		}
		return out
	}
	if got := b.stmts(&Dialect{}, nil); len(got) != 0 {
		t.Fatalf("stmts of no rows = %v", got)
	}
	// Without arrays: VALUES lists of powers of two, at most 64 rows, in order.
	for n, want := range map[int][]int{1: {1}, 45: {32, 8, 4, 1}, 64: {64}, 150: {64, 64, 16, 4, 2}} {
		var sizes []int
		next := 0
		for _, st := range b.stmts(&Dialect{}, rows(n)) {
			k := len(st.Args) / 2
			sizes = append(sizes, k)
			if st.SQL != b.values[0][bits.Len(uint(k))-1] || !strings.HasSuffix(st.SQL, " ON CONFLICT DO NOTHING") {
				t.Errorf("%d rows: statement %q for %d rows", n, st.SQL, k)
			}
			if st.Args[0] != fmt.Sprint(next) {
				t.Errorf("%d rows: a statement starts at row %v, want %d", n, st.Args[0], next)
			}
			next += k
		}
		if !slices.Equal(sizes, want) {
			t.Errorf("%d rows in statements of %v rows, want %v", n, sizes, want)
		}
	}
	// With arrays: one statement, one array per column.
	got := b.stmts(&Dialect{Arrays: true}, rows(3))
	if len(got) != 1 || got[0].SQL != b.unnest || len(got[0].Args) != 2 ||
		!slices.Equal(got[0].Args[0].([]any), []any{"0", "1", "2"}) ||
		!slices.Equal(got[0].Args[1].([]any), []any{int64(0), int64(1), int64(2)}) {
		t.Fatalf("stmts with arrays = %+v", got)
	}
}

func TestIn(t *testing.T) {
	keys := make([]string, 1001)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	if got := in(&Dialect{Arrays: true}, "key", keys); len(got) != 1 || got[0].sql != "key = ANY($1)" {
		t.Errorf("in with arrays = %+v", got)
	}
	got := in(&Dialect{}, "key", keys)
	if len(got) != 2 || len(got[0].args) != maxInList || len(got[1].args) != 512 || got[1].args[488] != "1000" || got[1].args[511] != "1000" {
		t.Errorf("in without arrays: %d conditions", len(got))
	}
	// Padded to a power of two with the last value.
	got = in(&Dialect{}, "key", keys[:3])
	if len(got) != 1 || got[0].sql != "key IN ($1, $2, $3, $4)" || !slices.Equal(got[0].args, []any{"0", "1", "2", "2"}) {
		t.Errorf("in of 3 keys = %+v", got)
	}
	refs := []engine.DealRef{{Source: "a", ExternalID: "1"}, {Source: "b", ExternalID: "2"}, {Source: "c", ExternalID: "3"}}
	if got := dealsIn(&Dialect{}, refs); len(got) != 1 || got[0].sql != "(source, external_id) IN (VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8))" ||
		!slices.Equal(got[0].args, []any{"a", "1", "b", "2", "c", "3", "c", "3"}) {
		t.Errorf("dealsIn = %+v", got)
	}
	if got := in(&Dialect{Anonymous: true}, "key", keys[:3]); got[0].sql != "key IN (?, ?, ?, ?)" {
		t.Errorf("in with anonymous parameters = %+v", got)
	}
	if got := dealsIn(&Dialect{Anonymous: true}, refs[:1]); got[0].sql != "(source, external_id) IN (VALUES (?, ?))" {
		t.Errorf("dealsIn with anonymous parameters = %+v", got)
	}
	for n, want := range map[int]int{1: 1, 2: 2, 3: 4, 64: 64, 65: 128, 512: 512} {
		if got := padded(n); got != want {
			t.Errorf("padded(%d) = %d, want %d", n, got, want)
		}
	}
}

// counter is a Driver that answers every read with no rows, except reps
// with one row per id asked, and counts the calls that would each be a
// round trip. With batch set its Querier is a Batcher, as pgx's is.
type counter struct {
	Driver
	batch bool
	calls int      // Exec, Query, QueryRow and Batch calls
	stmts []string // every statement run
}

func (c *counter) Tx(ctx context.Context, fn func(Querier) error) error {
	if c.batch {
		return fn(batchQuerier{countQuerier{c}})
	}
	return fn(countQuerier{c})
}

type countQuerier struct{ c *counter }

func (q countQuerier) Exec(_ context.Context, sql string, _ ...any) (int64, error) {
	q.c.calls++
	q.c.stmts = append(q.c.stmts, sql)
	return 0, nil
}

func (q countQuerier) Query(_ context.Context, sql string, args ...any) (Rows, error) {
	q.c.calls++
	q.c.stmts = append(q.c.stmts, sql)
	return q.rows(sql, args), nil
}

func (q countQuerier) rows(sql string, args []any) *fakeRows {
	r := &fakeRows{}
	if strings.Contains(sql, "FROM reps") {
		for _, a := range args {
			ids, ok := a.([]int64)
			if !ok {
				ids = []int64{a.(int64)}
			}
			for _, id := range ids {
				r.rows = append(r.rows, []any{id, int64(0), "Rep", "", true})
			}
		}
	}
	return r
}

func (q countQuerier) QueryRow(context.Context, string, ...any) Row {
	panic("the Tx reads through Query and Batch only")
}

type batchQuerier struct{ countQuerier }

func (q batchQuerier) Batch(_ context.Context, stmts []Stmt) (int, error) {
	q.c.calls++
	for _, st := range stmts {
		q.c.stmts = append(q.c.stmts, st.SQL)
		if st.Scan != nil {
			if err := st.Scan(q.rows(st.SQL, st.Args)); err != nil {
				return 0, err
			}
		}
	}
	return len(stmts), nil
}

type fakeRows struct {
	rows [][]any
	cur  []any
}

func (r *fakeRows) Next() bool {
	if len(r.rows) == 0 {
		return false
	}
	r.cur, r.rows = r.rows[0], r.rows[1:]
	return true
}

func (r *fakeRows) Scan(dest ...any) error {
	for i, d := range dest {
		switch d := d.(type) {
		case *int64:
			*d = r.cur[i].(int64)
		case *string:
			*d = r.cur[i].(string)
		case *bool:
			*d = r.cur[i].(bool)
		default:
			return fmt.Errorf("fakeRows: cannot scan into %T", d)
		}
	}
	return nil
}

func (r *fakeRows) Err() error { return nil }
func (r *fakeRows) Close()     {}

// TestRoundTrips checks that a group of events costs a number of round trips
// that does not grow with the group: on a Batcher (Postgres), Prefetch, the
// first Reps and the flush, one batch each.
func TestRoundTrips(t *testing.T) {
	group := func(s *Store, n int) error {
		return s.InTx(t.Context(), func(tx engine.Tx) error {
			var keys []string
			var deals []engine.DealRef
			for i := range n {
				keys = append(keys, fmt.Sprintf("e%d", i))
				deals = append(deals, engine.DealRef{Source: "crm", ExternalID: fmt.Sprint(i)})
			}
			if err := tx.Prefetch(t.Context(), keys, deals); err != nil {
				return err
			}
			for i, key := range keys {
				if e, err := tx.Event(t.Context(), key); e != nil || err != nil {
					return fmt.Errorf("Event = %v, %v", e, err)
				}
				if reps, err := tx.Reps(t.Context(), []int64{7}); len(reps) != 1 || err != nil {
					return fmt.Errorf("Reps = %v, %v", reps, err)
				}
				if d, err := tx.Deal(t.Context(), "crm", fmt.Sprint(i)); d != nil || err != nil {
					return fmt.Errorf("Deal = %v, %v", d, err)
				}
				d := engine.DealState{Deal: game.Deal{Source: "crm", ExternalID: fmt.Sprint(i), Amount: decimal.New(1, 0)}, EventKey: key}
				for range 2 { // the second write replaces the first
					if err := tx.PutDeal(t.Context(), d); err != nil {
						return err
					}
				}
				entries := make([]game.LedgerEntry, 3)
				if err := tx.AppendLedger(t.Context(), key, time.Time{}, entries); err != nil {
					return err
				}
				if err := tx.AddOutbox(t.Context(), key, nil, time.Time{}); err != nil {
					return err
				}
				if err := tx.PutEvent(t.Context(), engine.StoredEvent{Key: key}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	pg := Dialect{Arrays: true, LockDeals: "LOCK", ForUpdate: " FOR UPDATE"}
	for _, n := range []int{1, 64, 1000} {
		c := &counter{batch: true}
		if err := group(New(c, pg, nil), n); err != nil {
			t.Fatal(err)
		}
		if c.calls != 3 || len(c.stmts) != 8 {
			t.Errorf("batcher, %d events: %d round trips, %d statements, want 3 and 8:\n%s", n, c.calls, len(c.stmts), strings.Join(c.stmts, "\n"))
		}
	}
	// Without a Batcher (SQLite) each statement is a call, and a group of
	// 64 still needs only a few: 192 ledger rows are three statements.
	c := &counter{}
	if err := group(New(c, Dialect{}, nil), 64); err != nil {
		t.Fatal(err)
	}
	if c.calls != 9 {
		t.Errorf("64 events without a Batcher: %d statements, want 9:\n%s", c.calls, strings.Join(c.stmts, "\n"))
	}
}
