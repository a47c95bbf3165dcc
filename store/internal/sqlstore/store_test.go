package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
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

func TestInsertLedgerSQL(t *testing.T) {
	got := insertLedgerSQL(2)
	want := `INSERT INTO ledger (` + ledgerColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11), ($12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`
	if got != want {
		t.Fatalf("insertLedgerSQL(2) =\n%s\nwant\n%s", got, want)
	}
}
