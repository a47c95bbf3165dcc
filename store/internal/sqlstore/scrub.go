package sqlstore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A scrubber replaces a person's names and email addresses, wherever they
// appear in free text or JSON, with pseudonyms. The strings are matched
// exactly, as substrings: "Ann Lee" is found inside "Ann Lee closed Acme"
// too, because erasure must not miss a copy; the price is that a short
// name also matches inside other words, which then read oddly. Strings
// shorter than minScrubLen are left out: they identify no one, and would
// match almost everywhere.
type scrubber struct {
	pairs []pair // longest first, so "Ann Lee" goes before "Ann"
	r     *strings.Replacer
	// needles are what to look for in stored text and JSON: each old
	// string as it is and as it appears inside an encoded JSON string (Go's
	// encoder writes "<", ">" and "&" as \u003c, \u003e and \u0026, a
	// quote as \", and other encoders may not escape the first three).
	needles []string
}

// minScrubLen is the length, in characters, of the shortest string a
// scrubber replaces.
const minScrubLen = 3

type pair struct{ old, new string }

// newScrubber returns a scrubber that replaces each key of m with its
// value. Keys shorter than minScrubLen, and keys equal to their value, are
// left out.
func newScrubber(m map[string]string) *scrubber {
	sc := &scrubber{}
	for old, new := range m {
		if utf8.RuneCountInString(old) >= minScrubLen && old != new {
			sc.pairs = append(sc.pairs, pair{old, new})
		}
	}
	slices.SortFunc(sc.pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(len(b.old), len(a.old)), cmp.Compare(a.old, b.old))
	})
	args := make([]string, 0, 2*len(sc.pairs))
	for _, p := range sc.pairs {
		args = append(args, p.old, p.new)
	}
	// strings.Replacer tries the olds in argument order at each position:
	// longest first.
	sc.r = strings.NewReplacer(args...)
	for _, p := range sc.pairs {
		sc.needles = append(sc.needles, p.old, jsonInner(p.old, true), jsonInner(p.old, false))
	}
	slices.Sort(sc.needles)
	sc.needles = slices.Compact(sc.needles)
	return sc
}

// empty reports whether there is nothing to replace.
func (sc *scrubber) empty() bool { return len(sc.pairs) == 0 }

// text returns s with every old string replaced.
func (sc *scrubber) text(s string) string { return sc.r.Replace(s) }

// jsonInner returns s encoded as a JSON string, without the quotes.
func jsonInner(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	e := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return string(e[1 : len(e)-1])
}

// contains reports whether b holds any needle.
func (sc *scrubber) contains(b []byte) bool {
	for _, n := range sc.needles {
		if bytes.Contains(b, []byte(n)) {
			return true
		}
	}
	return false
}

// json returns the JSON document b with the old strings replaced inside
// its strings, keys included.
//
// The document is rewritten token by token, in its own order, so that the
// result stays valid JSON that decodes like the original but for the
// scrubbed strings (the relay decodes outbox payloads again), and a
// document Go's encoder wrote comes out byte for byte the same elsewhere. A
// byte-level replace of the JSON-escaped name would mostly do too, but it
// would also hit a name that happens to match across tokens or inside a
// literal, and break the document. Only when b is not JSON are the old
// strings, and their JSON-escaped forms, replaced byte for byte.
func (sc *scrubber) json(b []byte) []byte {
	if out, err := rewriteStrings(b, sc.text); err == nil {
		return out
	}
	out := slices.Clone(b)
	for _, p := range sc.pairs {
		for _, html := range []bool{true, false} {
			out = bytes.ReplaceAll(out, []byte(jsonInner(p.old, html)), []byte(jsonInner(p.new, html)))
		}
		out = bytes.ReplaceAll(out, []byte(p.old), []byte(p.new))
	}
	return out
}

// rewriteStrings re-encodes the JSON in b with f applied to every string,
// object keys included. Numbers keep their text; insignificant space is
// dropped.
func rewriteStrings(b []byte, f func(string) string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int // tokens written in the container
	}
	var (
		out   bytes.Buffer
		stack []frame
		top   int // top-level values written
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out.WriteByte(byte(d))
			continue
		}
		if len(stack) == 0 {
			if top > 0 {
				out.WriteByte('\n')
			}
			top++
		} else {
			fr := &stack[len(stack)-1]
			switch {
			case fr.object && fr.n%2 == 1:
				out.WriteByte(':')
			case fr.n > 0:
				out.WriteByte(',')
			}
			fr.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{'})
		case string:
			enc, err := json.Marshal(f(v))
			if err != nil {
				return nil, err
			}
			out.Write(enc)
		case json.Number:
			out.WriteString(string(v))
		case bool:
			out.WriteString(strconv.FormatBool(v))
		case nil:
			out.WriteString("null")
		}
	}
	if len(stack) > 0 || top == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	return out.Bytes(), nil
}
