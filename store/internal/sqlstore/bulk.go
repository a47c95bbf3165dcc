package sqlstore

import (
	"context"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"podium/engine"
)

// runBatch runs stmts on q: in one round trip when q is a Batcher, else one
// after the other. Either way it stops at the first statement that fails and
// returns its index with its error.
func runBatch(ctx context.Context, q Querier, stmts []Stmt) (int, error) {
	if len(stmts) == 0 {
		return 0, nil
	}
	if b, ok := q.(Batcher); ok {
		return b.Batch(ctx, stmts)
	}
	for i, st := range stmts {
		if st.Scan == nil {
			if _, err := q.Exec(ctx, st.SQL, st.Args...); err != nil {
				return i, err
			}
			continue
		}
		rows, err := q.Query(ctx, st.SQL, st.Args...)
		if err != nil {
			return i, err
		}
		err = st.Scan(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return i, err
		}
	}
	return len(stmts), nil
}

// maxInList bounds the values bound in one IN (...) list, well below the
// parameter limits of both databases (SQLite 32766, Postgres 65535). A
// power of two, as padded lists are.
const maxInList = 512

// padded returns the length an IN list of n values is padded to: the next
// power of two, so that a query has a handful of statement texts (SQLite
// keeps a bounded number of them prepared) rather than one per length. The
// padding repeats the last value, which changes nothing in an IN list.
func padded(n int) int { return 1 << bits.Len(uint(n-1)) }

// params returns the n parameters from $from on, for a generated list:
// "$from, $from+1, …", or "?, ?, …" where the dialect binds lists with
// anonymous parameters. Those bind by position, which is right because
// every generated statement uses its parameters once each, in order.
func (d *Dialect) params(from, n int) string {
	if !d.Anonymous {
		return placeholders(from, n)
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// A cond is a WHERE condition with its arguments, numbered from $1.
type cond struct {
	sql  string
	args []any
}

// in returns "col IN (vals)" as the conditions the dialect binds: one
// "col = ANY($1)" with the slice where it binds arrays, else padded IN
// lists of at most maxInList values. None when vals is empty.
func in[T any](d *Dialect, col string, vals []T) []cond {
	if len(vals) == 0 {
		return nil
	}
	if d.Arrays {
		return []cond{{col + ` = ANY($1)`, []any{vals}}}
	}
	out := make([]cond, 0, (len(vals)+maxInList-1)/maxInList)
	for chunk := range slices.Chunk(vals, maxInList) {
		args := make([]any, padded(len(chunk)))
		for i := range args {
			args[i] = chunk[min(i, len(chunk)-1)]
		}
		out = append(out, cond{col + ` IN (` + d.params(1, len(args)) + `)`, args})
	}
	return out
}

// dealsIn returns "(source, external_id) IN (refs)" as the conditions the
// dialect binds, as in does.
func dealsIn(d *Dialect, refs []engine.DealRef) []cond {
	if len(refs) == 0 {
		return nil
	}
	if d.Arrays {
		src, ext := splitRefs(refs)
		return []cond{{`(source, external_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, []any{src, ext}}}
	}
	var out []cond
	for chunk := range slices.Chunk(refs, maxInList/2) {
		var b strings.Builder
		b.WriteString(`(source, external_id) IN (VALUES `)
		n := padded(len(chunk))
		args := make([]any, 0, 2*n)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			b.WriteString(d.params(1+2*i, 2))
			b.WriteByte(')')
			r := chunk[min(i, len(chunk)-1)]
			args = append(args, r.Source, r.ExternalID)
		}
		b.WriteByte(')')
		out = append(out, cond{b.String(), args})
	}
	return out
}

// splitRefs returns the sources and the external ids of refs, as the two
// array parameters of Dialect.LockDeals.
func splitRefs(refs []engine.DealRef) (src, ext []string) {
	src, ext = make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		src[i], ext[i] = r.Source, r.ExternalID
	}
	return src, ext
}

// A column is one column of a bulk insert.
type column struct {
	name string
	// array is the element type of the array that binds the column where
	// the dialect binds arrays ("text", "bigint", …).
	array string
	// cast, when set, is the type the array element is cast to before it is
	// inserted: a decimal string to NUMERIC, a JSON string to JSONB. Only
	// where the dialect binds arrays: SQLite stores the string as it is.
	cast string
}

// bulkMaxShift bounds a VALUES list to 1<<bulkMaxShift rows (64: 832
// parameters for a deal, the widest row).
const bulkMaxShift = 6

// A bulk is a multi-row INSERT of one table, written once and rendered for
// each dialect: with arrays, one INSERT … SELECT FROM unnest whatever the
// number of rows; without, VALUES lists whose lengths are powers of two, so
// that a table has at most bulkMaxShift+1 statement texts (SQLite keeps
// them prepared, see store/sqlite's statement cache).
type bulk struct {
	cols   int
	unnest string
	// values[0][k] inserts 1<<k rows with $n parameters, values[1][k]
	// with anonymous ones (Dialect.Anonymous).
	values [2][bulkMaxShift + 1]string
}

// newBulk returns the bulk insert into table of cols, with suffix (an ON
// CONFLICT clause, or "") appended.
func newBulk(table string, suffix string, cols ...column) *bulk {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	head := `INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `)`
	if suffix != "" {
		suffix = " " + suffix
	}
	b := &bulk{cols: len(cols)}

	// unnest yields the rows in array order, and the ORDER BY on its
	// ordinality makes that the order of insertion, hence of identity ids
	// (ledger rows are read newest, highest id, first).
	sel, arrays, aliases := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		alias := "c" + strconv.Itoa(i+1)
		aliases[i] = alias
		sel[i] = alias
		if c.cast != "" {
			sel[i] = `CAST(` + alias + ` AS ` + c.cast + `)`
		}
		arrays[i] = `$` + strconv.Itoa(i+1) + `::` + c.array + `[]`
	}
	b.unnest = head + ` SELECT ` + strings.Join(sel, ", ") +
		` FROM unnest(` + strings.Join(arrays, ", ") + `) WITH ORDINALITY AS u(` +
		strings.Join(aliases, ", ") + `, ord) ORDER BY ord` + suffix

	for anon := range b.values {
		d := &Dialect{Anonymous: anon == 1}
		for k := range b.values[anon] {
			n := 1 << k
			var s strings.Builder
			s.Grow(len(head) + 10 + n*len(cols)*6 + len(suffix))
			s.WriteString(head)
			s.WriteString(` VALUES `)
			for r := range n {
				if r > 0 {
					s.WriteString(", ")
				}
				s.WriteByte('(')
				s.WriteString(d.params(1+r*len(cols), len(cols)))
				s.WriteByte(')')
			}
			s.WriteString(suffix)
			b.values[anon][k] = s.String()
		}
	}
	return b
}

// stmts returns the statements that insert rows, given row after row
// (len(rows) a multiple of the column count).
func (b *bulk) stmts(d *Dialect, rows []any) []Stmt {
	n := len(rows) / b.cols
	if n == 0 {
		return nil
	}
	if d.Arrays {
		// Transpose the rows into one array per column, all in one backing
		// slice.
		args, cols := make([]any, b.cols), make([]any, len(rows))
		for c := range b.cols {
			col := cols[c*n : (c+1)*n : (c+1)*n]
			for r := range n {
				col[r] = rows[r*b.cols+c]
			}
			args[c] = col
		}
		return []Stmt{{SQL: b.unnest, Args: args}}
	}
	values := &b.values[0]
	if d.Anonymous {
		values = &b.values[1]
	}
	var out []Stmt
	for n > 0 {
		k := min(bulkMaxShift, bits.Len(uint(n))-1) // the largest power of two that fits
		size := (1 << k) * b.cols
		out = append(out, Stmt{SQL: values[k], Args: rows[:size:size]})
		rows, n = rows[size:], n-1<<k
	}
	return out
}
