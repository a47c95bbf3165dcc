package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/engine"
	"podium/game"
)

// entry is an audit entry as a test expects it; before and after are
// marshalled to JSON (nil for none) and compared byte for byte.
type entry struct {
	actor          game.Actor
	action, object string
	before, after  any
}

func obj(kind string, id int64) string { return fmt.Sprintf("%s:%d", kind, id) }

// auditLog returns the whole log, read in small pages so that paging is
// exercised too.
func auditLog(t testing.TB, s engine.Directory) []game.AuditEntry {
	t.Helper()
	var (
		out   []game.AuditEntry
		after int64
	)
	for {
		page := try(s.AuditLog(ctx(t), after, 7)).must(t)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// verifyLog runs game.AuditVerifier over entries.
func verifyLog(entries []game.AuditEntry) error {
	var v game.AuditVerifier
	for _, e := range entries {
		if err := v.Add(e); err != nil {
			return err
		}
	}
	_, err := v.Done()
	return err
}

// verify checks that the store's chain verifies.
func verify(t testing.TB, s engine.Directory) {
	t.Helper()
	if err := verifyLog(auditLog(t, s)); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}

// wantLog checks that the log holds exactly want, in order, numbered from
// 1, and that its chain verifies.
func wantLog(t testing.TB, s engine.Directory, want []entry) {
	t.Helper()
	got := auditLog(t, s)
	if len(got) != len(want) {
		t.Fatalf("audit log has %d entries, want %d: %s", len(got), len(want), describe(got))
	}
	for i, w := range want {
		wantEntry(t, got[i], w)
		if got[i].Seq != int64(i+1) {
			t.Errorf("entry %d has seq %d", i+1, got[i].Seq)
		}
	}
	verify(t, s)
}

// wantTail checks the last entries of the log and returns them.
func wantTail(t testing.TB, s engine.Directory, want ...entry) []game.AuditEntry {
	t.Helper()
	got := auditLog(t, s)
	if len(got) < len(want) {
		t.Fatalf("audit log has %d entries, want at least %d", len(got), len(want))
	}
	got = got[len(got)-len(want):]
	for i, w := range want {
		wantEntry(t, got[i], w)
	}
	return got
}

func wantEntry(t testing.TB, e game.AuditEntry, w entry) {
	t.Helper()
	if e.Actor != w.actor || e.Action != w.action || e.Object != w.object {
		t.Errorf("entry %d is %s %s by %s, want %s %s by %s", e.Seq, e.Action, e.Object, e.Actor, w.action, w.object, w.actor)
	}
	for _, p := range []struct {
		name string
		got  json.RawMessage
		want any
	}{{"before", e.Before, w.before}, {"after", e.After, w.after}} {
		var want []byte
		if p.want != nil {
			var err error
			if want, err = json.Marshal(p.want); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(p.got, want) {
			t.Errorf("entry %d (%s %s) %s = %s, want %s", e.Seq, e.Action, e.Object, p.name, p.got, want)
		}
	}
	if e.At.IsZero() || e.At.Location() != time.UTC || e.Redacted {
		t.Errorf("entry %d at %v (redacted %v), want a UTC time and not redacted", e.Seq, e.At, e.Redacted)
	}
}

func describe(entries []game.AuditEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "\n  %d %s %s %s", e.Seq, e.Actor, e.Action, e.Object)
	}
	return b.String()
}

// noSecrets checks that no audit entry holds any of secrets, anywhere.
func noSecrets(t testing.TB, s engine.Directory, secrets ...string) {
	t.Helper()
	for _, e := range auditLog(t, s) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("audit entry %d (%s) holds the secret %q: %s", e.Seq, e.Action, secret, b)
			}
		}
	}
}

func testAudit(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	// Spaces and key order that JSONB would change: the bytes must come
	// back as they went in, or the digest no longer matches.
	payload := json.RawMessage(`{ "z": 1,  "a": [2, 3], "m": "caf\u00e9" }`)
	before := time.Now().Truncate(time.Microsecond)
	e1 := try(s.Audit(c, game.AuditEntry{Actor: game.ActorSystem, Action: "boards.rebuild", Object: "boards", After: payload})).must(t)
	e2 := try(s.Audit(c, game.AuditEntry{Actor: admin, Action: "user.lockout", Object: "user:9",
		Before: json.RawMessage(`{"failed":4}`), Reason: "5 failed sign-ins",
		Seq: 77, Hash: "ignored", Redacted: true})).must(t)
	after := time.Now()
	if e1.Seq != 1 || e1.PrevHash != "" || e2.Seq != 2 || e2.PrevHash != e1.Hash || e2.Redacted {
		t.Fatalf("entries %+v, %+v: want seqs 1 and 2 chained, the store's numbering", e1, e2)
	}
	for _, e := range []game.AuditEntry{e1, e2} {
		if e.At.Before(before) || e.At.After(after) || e.At.Location() != time.UTC || e.At.Nanosecond()%1000 != 0 {
			t.Errorf("entry %d at %v, want the store's clock between %v and %v, in microseconds", e.Seq, e.At, before, after)
		}
	}
	for _, tc := range []struct {
		e           game.AuditEntry
		code, field string
	}{
		{game.AuditEntry{Action: "x", Object: "y"}, game.EMissingField, "actor"},
		{game.AuditEntry{Actor: admin, Object: "y"}, game.EMissingField, "action"},
		{game.AuditEntry{Actor: admin, Action: "x"}, game.EMissingField, "object"},
		{game.AuditEntry{Actor: admin, Action: "x", Object: "y", Before: json.RawMessage(`{`)}, game.EInvalid, "before"},
		{game.AuditEntry{Actor: admin, Action: "x", Object: "y", After: json.RawMessage(`nope`)}, game.EInvalid, "after"},
		{game.AuditEntry{Actor: admin, Action: game.ActionErase, Object: "rep:1", After: json.RawMessage(`{"rep":1,"redacted":[1]}`)}, game.EInvalid, "action"},
	} {
		_, err := s.Audit(c, tc.e)
		wantCode(t, err, tc.code, tc.field)
	}

	same := func(got []game.AuditEntry, want ...game.AuditEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("AuditLog = %s, want %d entries", describe(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Seq != w.Seq || !g.At.Equal(w.At) || g.Actor != w.Actor || g.Action != w.Action ||
				g.Object != w.Object || !bytes.Equal(g.Before, w.Before) || !bytes.Equal(g.After, w.After) ||
				g.Reason != w.Reason || g.Digest != w.Digest || g.PrevHash != w.PrevHash || g.Hash != w.Hash ||
				g.Redacted != w.Redacted {
				t.Errorf("stored entry %+v\nwant %+v", g, w)
			}
		}
	}
	same(try(s.AuditLog(c, 0, 10)).must(t), e1, e2)
	same(try(s.AuditLog(c, 1, 10)).must(t), e2)
	same(try(s.AuditLog(c, 0, 1)).must(t), e1)
	same(try(s.AuditLog(c, 2, 10)).must(t))
	same(try(s.AuditLog(c, 0, 0)).must(t))
	if got := auditLog(t, s)[0].After; !bytes.Equal(got, payload) {
		t.Fatalf("after = %s, want the bytes stored: %s", got, payload)
	}
	verify(t, s)
}

// testAuditConcurrent appends from many goroutines through two Stores on
// one database (two nodes, on Postgres two pools), by Audit and by audited
// changes: the log must be one unbroken chain with every entry.
func testAuditConcurrent(t *testing.T, db DB) {
	const workers, each = 8, 8
	c := ctx(t)
	nodes := []Store{db.Store, db.Node(t)}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := nodes[w%len(nodes)]
		wg.Go(func() {
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = s.Audit(c, game.AuditEntry{Actor: game.ActorSystem, Action: "test.append", Object: obj("worker", int64(w)),
						After: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
				} else {
					_, err = s.CreateTeam(c, game.Team{Name: fmt.Sprintf("Team %d/%d", w, i)}, admin)
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d append %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	entries := auditLog(t, nodes[1])
	if len(entries) != workers*each {
		t.Fatalf("%d entries, want %d", len(entries), workers*each)
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: want 1…%d without gaps", i+1, e.Seq, workers*each)
		}
	}
	if err := verifyLog(entries); err != nil {
		t.Fatalf("chain after concurrent appends: %v", err)
	}
}

// testAuditAppendOnly checks that the database itself refuses to change or
// delete audit entries, but for the one redaction an erasure makes.
func testAuditAppendOnly(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	team := try(s.CreateTeam(c, game.Team{Name: "East"}, admin)).must(t)
	team.Active = true
	try(s.UpdateTeam(c, team, admin)).must(t)
	const marker = `'{"redacted":true}'`
	for _, q := range []string{
		`UPDATE audit_log SET actor = 'user:666' WHERE seq = 1`,
		`UPDATE audit_log SET hash = 'x', prev_hash = 'y' WHERE seq = 2`,
		`UPDATE audit_log SET redacted = TRUE WHERE seq = 2`,                                       // payloads left in place
		`UPDATE audit_log SET before = '{}', after = '{}', redacted = TRUE WHERE seq = 2`,          // not blanked
		`UPDATE audit_log SET before = ` + marker + `, after = ` + marker + ` WHERE seq = 2`,       // not marked
		`UPDATE audit_log SET after = ` + marker + `, redacted = TRUE, reason = 'x' WHERE seq = 1`, // more than a redaction
		`DELETE FROM audit_log WHERE seq = 2`,
		`DELETE FROM audit_log`,
	} {
		if _, err := db.SQL.ExecContext(c, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
	verify(t, s)
}

// disableAuditTriggers removes the protection of the audit log, as the
// owner of the database can.
func disableAuditTriggers(t testing.TB, db DB) {
	t.Helper()
	stmts := []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}
	if db.Dialect == "postgres" {
		stmts = []string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`}
	}
	for _, q := range stmts {
		if _, err := db.SQL.ExecContext(ctx(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// testAuditTamper changes the log behind the store's back in the ways
// someone with access to the database could, and checks that
// game.AuditVerifier, reading the log through the store, catches each.
func testAuditTamper(t *testing.T, open func(*testing.T) DB) {
	exec := func(t *testing.T, db DB, q string, args ...any) {
		t.Helper()
		if _, err := db.SQL.ExecContext(ctx(t), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// forge appends an entry after the last one with prevHash and hash.
	forge := func(t *testing.T, db DB, last game.AuditEntry, prevHash, hash string) {
		after := `{"role":"admin"}`
		exec(t, db, `INSERT INTO audit_log (seq, at, actor, action, object, before, after, reason, digest, prev_hash, hash)
			VALUES ($1, $2, 'user:666', 'user.update', 'user:666', NULL, $3, '', $4, $5, $6)`,
			last.Seq+1, last.At.UnixMicro()+1, after, game.PayloadDigest(nil, []byte(after)), prevHash, hash)
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, db DB, log []game.AuditEntry)
		want   string
	}{
		{"forged entry on the chain", func(t *testing.T, db DB, log []game.AuditEntry) {
			last := log[len(log)-1]
			forge(t, db, last, last.Hash, strings.Repeat("0", 64))
		}, "entry 4: its fields were changed"},
		{"forged entry off the chain", func(t *testing.T, db DB, log []game.AuditEntry) {
			forge(t, db, log[len(log)-1], strings.Repeat("1", 64), strings.Repeat("0", 64))
		}, "entry 4: it does not point at the entry before it"},
		{"redacted without an erasure", func(t *testing.T, db DB, log []game.AuditEntry) {
			// The one UPDATE the triggers allow, used without an erasure.
			exec(t, db, `UPDATE audit_log SET before = '{"redacted":true}', after = '{"redacted":true}', redacted = TRUE WHERE seq = 3`)
		}, "entry 3 is marked redacted but no erasure lists it"},
		{"actor changed", func(t *testing.T, db DB, log []game.AuditEntry) {
			disableAuditTriggers(t, db)
			exec(t, db, `UPDATE audit_log SET actor = 'user:666' WHERE seq = 2`)
		}, "entry 2: its fields were changed"},
		{"after changed", func(t *testing.T, db DB, log []game.AuditEntry) {
			disableAuditTriggers(t, db)
			exec(t, db, `UPDATE audit_log SET after = '{"name":"Mallory"}' WHERE seq = 2`)
		}, "entry 2: its before or after was changed"},
		{"entry deleted", func(t *testing.T, db DB, log []game.AuditEntry) {
			disableAuditTriggers(t, db)
			exec(t, db, `DELETE FROM audit_log WHERE seq = 2`)
		}, "entry 3: it does not point at the entry before it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			c, s := ctx(t), db.Store
			rep := try(s.CreateRep(c, game.Rep{Name: "Ann", Active: true}, admin)).must(t)
			rep.Name = "Ann Lee"
			try(s.UpdateRep(c, rep, admin)).must(t)
			rep.Active = false
			try(s.UpdateRep(c, rep, admin)).must(t)
			log := auditLog(t, s)
			if err := verifyLog(log); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tc.tamper(t, db, log)
			err := verifyLog(auditLog(t, s))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify after tampering = %v, want %q", err, tc.want)
			}
		})
	}
}
