package game_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"podium/game"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		name, in, currency string
		want               string // decimal value when accepted
		minor              int64
		code               string // error code when refused
		field              string // error field when refused
	}{
		{name: "plain", in: "1250.00", currency: "USD", want: "1250", minor: 125000},
		{name: "integer", in: "1250", currency: "USD", want: "1250", minor: 125000},
		{name: "zero", in: "0", currency: "USD", want: "0", minor: 0},
		{name: "zero with cents", in: "0.00", currency: "EUR", want: "0", minor: 0},
		{name: "ten cents", in: "0.10", currency: "USD", want: "0.1", minor: 10},
		{name: "one decimal", in: "0.1", currency: "USD", want: "0.1", minor: 10},
		{name: "one cent", in: "0.01", currency: "GBP", want: "0.01", minor: 1},
		{name: "leading zeros", in: "0007.50", currency: "USD", want: "7.5", minor: 750},
		{name: "no integer part", in: ".5", currency: "USD", want: "0.5", minor: 50},
		{name: "trailing point", in: "5.", currency: "USD", want: "5", minor: 500},
		{name: "trailing zeros past minor digits", in: "1.000", currency: "USD", want: "1", minor: 100},
		{name: "JPY integer", in: "1500", currency: "JPY", want: "1500", minor: 1500},
		{name: "JPY zero fraction", in: "1500.0", currency: "JPY", want: "1500", minor: 1500},
		{name: "KRW", in: "99", currency: "KRW", want: "99", minor: 99},
		{name: "KWD three digits", in: "1.234", currency: "KWD", want: "1.234", minor: 1234},
		{name: "KWD one fils", in: "0.001", currency: "KWD", want: "0.001", minor: 1},
		{name: "BHD two digits", in: "12.5", currency: "BHD", want: "12.5", minor: 12500},
		{name: "max amount", in: "1000000000000", currency: "USD", want: "1000000000000", minor: 100000000000000},
		{name: "max amount with cents", in: "1000000000000.00", currency: "USD", want: "1000000000000", minor: 100000000000000},
		{name: "max amount KWD", in: "1000000000000.000", currency: "KWD", want: "1000000000000", minor: 1000000000000000},
		{name: "32 characters", in: "000000000000000000000000000001.5", currency: "USD", want: "1.5", minor: 150},

		{name: "empty", in: "", currency: "USD", code: game.EMissingField, field: "amount"},
		{name: "negative", in: "-5", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "negative cents", in: "-0.01", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "huge exponent", in: "1e400", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "upper exponent", in: "1E5", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "negative exponent", in: "5e-1", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "plus sign", in: "+5", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "leading space", in: " 5", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "trailing space", in: "5 ", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "thousands separator", in: "1,000", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "underscore", in: "1_000", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "two points", in: "1.2.3", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "lone point", in: ".", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "hex", in: "0x10", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "words", in: "ten", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "NaN", in: "NaN", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "Infinity", in: "Infinity", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "too many decimals USD", in: "1.005", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "too many decimals JPY", in: "1500.5", currency: "JPY", code: game.EInvalid, field: "amount"},
		{name: "too many decimals KWD", in: "1.2345", currency: "KWD", code: game.EInvalid, field: "amount"},
		{name: "over max by a cent", in: "1000000000000.01", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "over max", in: "1000000000001", currency: "JPY", code: game.EInvalid, field: "amount"},
		{name: "33 characters", in: "0000000000000000000000000000001.5", currency: "USD", code: game.EInvalid, field: "amount"},
		{name: "unsupported currency", in: "5", currency: "XXX", code: game.ECurrency, field: "currency"},
		{name: "lower-case currency", in: "5", currency: "usd", code: game.ECurrency, field: "currency"},
		{name: "empty currency", in: "5", currency: "", code: game.ECurrency, field: "currency"},
		{name: "currency checked before amount", in: "", currency: "BTC", code: game.ECurrency, field: "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, minor, err := game.ParseAmount(tt.in, tt.currency, "amount")
			if tt.code != "" {
				wantError(t, err, tt.code, tt.field)
				if !d.IsZero() || minor != 0 {
					t.Errorf("refused amount returned %s, %d; want zero values", d, minor)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAmount(%q, %s) = %v", tt.in, tt.currency, err)
			}
			if !d.Equal(dec(tt.want)) || minor != tt.minor {
				t.Errorf("ParseAmount(%q, %s) = %s, %d; want %s, %d", tt.in, tt.currency, d, minor, tt.want, tt.minor)
			}
		})
	}
}

func TestParseAmountReportsTheCallersField(t *testing.T) {
	_, _, err := game.ParseAmount("-1", "USD", "lines[3].amount")
	wantError(t, err, game.EInvalid, "lines[3].amount")
	_, _, err = game.ParseAmount("", "USD", "quota")
	wantError(t, err, game.EMissingField, "quota")
}

// The largest accepted amount in minor units must stay an exact float64 score
// (DESIGN.md, invariant 4), with room to sum many deals.
func TestMaxAmountIsAnExactScore(t *testing.T) {
	for _, cur := range []string{"USD", "JPY", "KWD"} {
		_, minor, err := game.ParseAmount(game.MaxAmount.String(), cur, "amount")
		if err != nil {
			t.Fatal(err)
		}
		if minor >= 1<<53/8 {
			t.Errorf("%s: max amount is %d minor units; want well below 2^53", cur, minor)
		}
		if float64(minor) != math.Trunc(float64(minor)) || int64(float64(minor)) != minor {
			t.Errorf("%s: %d is not exact as a float64", cur, minor)
		}
	}
}

func TestMinorDigits(t *testing.T) {
	for cur, want := range map[string]int32{"USD": 2, "EUR": 2, "JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3} {
		got, err := game.MinorDigits(cur)
		if err != nil || got != want {
			t.Errorf("MinorDigits(%s) = %d, %v; want %d", cur, got, err, want)
		}
	}
	_, err := game.MinorDigits("DOGE")
	wantError(t, err, game.ECurrency, "currency")
}

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{125000, "USD", "1250.00"},
		{0, "USD", "0.00"},
		{1, "USD", "0.01"},
		{10, "EUR", "0.10"},
		{1500, "JPY", "1500"},
		{1, "KWD", "0.001"},
		{1234, "KWD", "1.234"},
		{-250, "USD", "-2.50"},
		{100000000000000, "USD", "1000000000000.00"},
		{199, "XXX", "1.99"}, // unknown currency: rendered with 2 digits rather than failing
	}
	for _, tt := range tests {
		if got := game.FormatMinor(tt.minor, tt.currency); got != tt.want {
			t.Errorf("FormatMinor(%d, %s) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
	}
}

func shares(ss ...string) []decimal.Decimal {
	out := make([]decimal.Decimal, len(ss))
	for i, s := range ss {
		out[i] = dec(s)
	}
	return out
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name   string
		total  int64
		shares []decimal.Decimal
		want   []int64
	}{
		{"no shares", 100, nil, []int64{}},
		{"one rep", 10001, shares("1"), []int64{10001}},
		{"halves even", 1000, shares("0.5", "0.5"), []int64{500, 500}},
		{"halves odd: tie to the earlier part", 1001, shares("0.5", "0.5"), []int64{501, 500}},
		{"thirds style, largest remainder", 10001, shares("0.3333", "0.3333", "0.3334"), []int64{3333, 3333, 3335}},
		{"thirds style, 100.00", 10000, shares("0.3333", "0.3333", "0.3334"), []int64{3333, 3333, 3334}},
		{"one cent in three", 1, shares("0.3333", "0.3333", "0.3334"), []int64{0, 0, 1}},
		{"two cents in three: largest, then the earlier of a tie", 2, shares("0.3333", "0.3333", "0.3334"), []int64{1, 0, 1}},
		{"zero total", 0, shares("0.25", "0.75"), []int64{0, 0}},
		{"remainder to the largest fraction", 7, shares("0.1", "0.6", "0.3"), []int64{1, 4, 2}},
		{"zero share gets nothing", 99, shares("0", "1"), []int64{0, 99}},
		{"twenty reps", 101, shares("0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0.05"),
			[]int64{6, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
		{"max amount in KWD", 1000000000000000, shares("0.3333", "0.3333", "0.3334"), []int64{333300000000000, 333300000000000, 333400000000000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := game.Allocate(tt.total, tt.shares)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Allocate(%d, %v) = %v, want %v", tt.total, tt.shares, got, tt.want)
			}
		})
	}
}

// shareVector draws n shares that are non-negative, have up to scale decimal
// places and sum to exactly 1: the gaps between sorted cut points in [0, 10^scale].
func shareVector(t *rapid.T) []decimal.Decimal {
	n := rapid.IntRange(1, game.MaxSplits).Draw(t, "n")
	scale := rapid.Int32Range(0, 18).Draw(t, "scale")
	unit := decimal.New(1, scale).IntPart()
	cuts := rapid.SliceOfN(rapid.Int64Range(0, unit), n-1, n-1).Draw(t, "cuts")
	slices.Sort(cuts)
	out := make([]decimal.Decimal, n)
	prev := int64(0)
	for i := range n {
		next := unit
		if i < n-1 {
			next = cuts[i]
		}
		out[i] = decimal.New(next-prev, -scale)
		prev = next
	}
	return out
}

func TestAllocateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := rapid.OneOf(rapid.Int64Range(0, 1000), rapid.Int64Range(0, 1_000_000_000_000_000)).Draw(t, "total")
		sh := shareVector(t)
		sum := decimal.Zero
		for _, s := range sh {
			sum = sum.Add(s)
		}
		if !sum.Equal(decimal.NewFromInt(1)) {
			t.Fatalf("generator bug: shares %v sum to %s", sh, sum)
		}

		parts := game.Allocate(total, sh)
		if len(parts) != len(sh) {
			t.Fatalf("%d parts for %d shares", len(parts), len(sh))
		}
		var got int64
		one := decimal.NewFromInt(1)
		for i, p := range parts {
			got += p
			exact := decimal.NewFromInt(total).Mul(sh[i])
			diff := decimal.NewFromInt(p).Sub(exact).Abs()
			if !diff.LessThan(one) {
				t.Fatalf("part %d = %d, exact share %s: off by %s", i, p, exact, diff)
			}
			if p < 0 {
				t.Fatalf("part %d = %d is negative", i, p)
			}
		}
		if got != total {
			t.Fatalf("parts %v of %d sum to %d", parts, total, got)
		}
		if again := game.Allocate(total, sh); !slices.Equal(again, parts) {
			t.Fatalf("Allocate is not deterministic: %v then %v", parts, again)
		}
	})
}

func TestParseAmountRefusesLongInputWithoutParsing(t *testing.T) {
	// 10 000 digits would be a costly big.Int; the length guard answers first.
	_, _, err := game.ParseAmount(strings.Repeat("9", 10000), "USD", "amount")
	wantError(t, err, game.EInvalid, "amount")
}
