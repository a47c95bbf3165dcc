package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
)

func testPersonData(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	team := try(s.CreateTeam(c, game.Team{Name: "East", Active: true}, admin)).must(t)
	ann := try(s.CreateRep(c, game.Rep{Name: "Ann", Email: "ann@example.com", TeamID: team.ID, Active: true}, admin)).must(t)
	bob := try(s.CreateRep(c, game.Rep{Name: "Bob", TeamID: team.ID, Active: true}, admin)).must(t)
	ann.Name = "Ann Lee"
	try(s.UpdateRep(c, ann, admin)).must(t)
	user := try(s.CreateUser(c, game.User{Email: "ann@example.com", Name: "Ann Lee", Role: game.RoleRep, RepID: ann.ID,
		PasswordHash: "secret-hash"}, admin)).must(t)
	pilots := try(s.CreateTeam(c, game.Team{Name: "Ann's pilots"}, game.UserActor(user.ID))).must(t) // by her
	try(s.UpdateRep(c, bob, admin)).must(t)                                                          // not about her
	now := time.Now()
	for _, sess := range []game.Session{
		{Hash: "expired", UserID: user.ID, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{Hash: "live", UserID: user.ID, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(time.Hour)},
	} {
		if err := s.CreateSession(c, sess); err != nil {
			t.Fatal(err)
		}
	}

	shared := deal("shared", ann.ID, "1000.00")
	shared.Splits = []game.Split{{RepID: bob.ID, Share: decimal.RequireFromString("0.5")}, {RepID: ann.ID, Share: decimal.RequireFromString("0.5")}}
	// Bob's alone, with digits that contain Ann's id: found by SQL, dropped by Go.
	bobs := deal(fmt.Sprintf("bob-%d%d", ann.ID, ann.ID), bob.ID, fmt.Sprintf("%d%d.%d", ann.ID, ann.ID, ann.ID))
	hers := deal("hers", ann.ID, "10.00")
	acts := []game.Activity{
		{Source: "crm", ExternalID: "call-2", RepID: ann.ID, Kind: game.ActivityCall, Count: 2, OccurredAt: t0.Add(time.Hour)},
		{Source: "crm", ExternalID: "call-1", RepID: ann.ID, Kind: game.ActivityCall, Count: 1, OccurredAt: t0},
		{Source: "crm", ExternalID: "call-3", RepID: bob.ID, Kind: game.ActivityEmail, Count: 1, OccurredAt: t0},
	}
	led := []game.LedgerEntry{
		{RepID: ann.ID, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won"},
		{RepID: bob.ID, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won"},
		{RepID: ann.ID, TeamID: team.ID, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 5, Reason: "call"},
	}
	inTx(t, s, func(tx engine.Tx) error {
		for _, d := range []game.Deal{shared, bobs, hers} {
			if err := tx.PutDeal(c, engine.DealState{Deal: d, EventKey: "e1"}); err != nil {
				return err
			}
		}
		for _, a := range acts {
			if err := tx.PutActivity(c, a); err != nil {
				return err
			}
		}
		return tx.AppendLedger(c, "e1", t0, led[:2])
	})
	inTx(t, s, func(tx engine.Tx) error { return tx.AppendLedger(c, "e2", t0.Add(time.Minute), led[2:]) })

	got := try(s.PersonData(c, ann.ID)).must(t)
	if got.Rep != ann {
		t.Errorf("Rep = %+v, want %+v", got.Rep, ann)
	}
	if got.User == nil {
		t.Fatal("User = nil, want the linked user")
	}
	wantUser(t, *got.User, user)
	if names := dealIDs(got.Deals); !slices.Equal(names, []string{"hers", "shared"}) {
		t.Errorf("Deals = %v, want hers and shared", names)
	}
	if len(got.Activities) != 2 || got.Activities[0].ExternalID != "call-1" || got.Activities[1].ExternalID != "call-2" ||
		!got.Activities[0].OccurredAt.Equal(t0) {
		t.Errorf("Activities = %+v, want call-1 then call-2", got.Activities)
	}
	if len(got.Ledger) != 2 || got.Ledger[0].Metric != game.MetricDeals || got.Ledger[1].Metric != game.MetricPoints ||
		got.Ledger[0].EventKey != "e1" || got.Ledger[1].EventKey != "e2" {
		t.Errorf("Ledger = %+v, want her two rows, oldest first", got.Ledger)
	}
	var about []string
	for _, e := range got.Audit {
		about = append(about, e.Action+" "+e.Object+" by "+string(e.Actor))
	}
	if want := []string{
		"rep.create " + obj("rep", ann.ID) + " by " + string(admin),
		"rep.update " + obj("rep", ann.ID) + " by " + string(admin),
		"user.create " + obj("user", user.ID) + " by " + string(admin),
		"team.create " + obj("team", pilots.ID) + " by " + obj("user", user.ID),
	}; !slices.Equal(about, want) {
		t.Errorf("Audit = %q\nwant %q", about, want)
	}
	if got.Sessions != 1 {
		t.Errorf("Sessions = %d, want 1 (the live one)", got.Sessions)
	}
	if b, err := json.Marshal(got); err != nil || bytes.Contains(b, []byte("secret-hash")) {
		t.Errorf("export %s, %v: holds the password hash", b, err)
	}

	// Someone with nothing: lists are empty, not null.
	lone := try(s.CreateRep(c, game.Rep{Name: "Cat"}, admin)).must(t)
	empty := try(s.PersonData(c, lone.ID)).must(t)
	b, err := json.Marshal(empty)
	if err != nil {
		t.Fatal(err)
	}
	if empty.User != nil || empty.Sessions != 0 || bytes.Contains(b, []byte("null")) {
		t.Errorf("PersonData of a rep without anything = %s", b)
	}
	_, err = s.PersonData(c, 999)
	wantCode(t, err, game.ENotFound, "id")
}

func dealIDs(deals []game.Deal) []string {
	out := make([]string, len(deals))
	for i, d := range deals {
		out[i] = d.ExternalID
	}
	slices.Sort(out)
	return out
}

func testEraseErrors(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	rep := try(s.CreateRep(c, game.Rep{Name: "Ann"}, admin)).must(t)
	for _, reason := range []string{"", "  \n"} {
		_, err := s.ErasePerson(c, rep.ID, reason, admin)
		wantCode(t, err, game.EMissingField, "reason")
	}
	_, err := s.ErasePerson(c, 999, "their request", admin)
	wantCode(t, err, game.ENotFound, "id")
	if n := len(auditLog(t, s)); n != 1 {
		t.Fatalf("%d audit entries after refused erasures, want 1", n)
	}
	if got := try(s.ListReps(c)).must(t); len(got) != 1 || got[0] != rep {
		t.Fatalf("reps after refused erasures = %+v", got)
	}
}

// The person testErase erases: the rep was renamed once, and the user's
// name has a quote, which JSON escapes.
const (
	oldName   = "Zelda Quixote"
	repName   = "Zelda Quixote-Marlowe"
	repEmail  = "zelda.qm@example.com"
	userName  = `Zelda "Z" Marlowe`
	userEmail = "zelda@example.org"
)

// personal returns what must not be found after the erasure: each string
// as it is and inside a JSON string.
func personal() []string {
	var out []string
	for _, s := range []string{oldName, repName, repEmail, userName, userEmail} {
		b, _ := json.Marshal(s)
		out = append(out, s, string(b[1:len(b)-1]))
	}
	return out
}

// findAnywhere returns "table.column" for every column of every table
// where a value holds one of needles. It reads the catalog, so a table or
// column added later is searched too.
func findAnywhere(t *testing.T, db DB, needles []string) (hits []string) {
	t.Helper()
	c := ctx(t)
	catalog := `SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY 1, 2`
	if db.Dialect == "postgres" {
		catalog = `SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema()
			  AND data_type IN ('text', 'bytea', 'json', 'jsonb', 'character varying', 'character')
			ORDER BY 1, 2`
	}
	rows, err := db.SQL.QueryContext(c, catalog)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var tc [2]string
		if err := rows.Scan(&tc[0], &tc[1]); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, tc)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for _, must := range [][2]string{{"audit_log", "after"}, {"outbox", "payload"}, {"events", "response"}, {"users", "email"}} {
		if !slices.Contains(cols, must) {
			t.Fatalf("the catalog lists %v, without %s.%s", cols, must[0], must[1])
		}
	}
	for _, tc := range cols {
		rows, err := db.SQL.QueryContext(c, fmt.Sprintf(`SELECT "%s" FROM "%s"`, tc[1], tc[0]))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v any
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			var b []byte
			switch v := v.(type) {
			case nil:
			case []byte:
				b = v
			case string:
				b = []byte(v)
			default:
				b = fmt.Append(nil, v)
			}
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					hits = append(hits, fmt.Sprintf("%s.%s holds %q: %s", tc[0], tc[1], n, b))
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return hits
}

// testErase erases a person who left traces in every table that can hold
// them, then searches every column of every table for their names and
// emails.
func testErase(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	team := try(s.CreateTeam(c, game.Team{Name: "East", Active: true}, admin)).must(t)
	hersTeam := try(s.CreateTeam(c, game.Team{Name: repName + "'s pilots", ParentID: team.ID}, admin)).must(t)
	rep := try(s.CreateRep(c, game.Rep{Name: oldName, Email: repEmail, TeamID: team.ID, Active: true}, admin)).must(t)
	rep.Name = repName
	try(s.UpdateRep(c, rep, admin)).must(t)
	bob := try(s.CreateRep(c, game.Rep{Name: "Bob Builder", Email: "bob@example.com", TeamID: team.ID, Active: true}, admin)).must(t)
	user := try(s.CreateUser(c, game.User{Email: userEmail, Name: "Zelda", Role: game.RoleRep, RepID: rep.ID,
		PasswordHash: "argon-hash"}, admin)).must(t)
	user.Name = userName
	user = try(s.UpdateUser(c, user, game.UserActor(user.ID))).must(t)
	bobUser := try(s.CreateUser(c, game.User{Email: "bob@example.com", Name: "Bob Builder", Role: game.RoleRep, RepID: bob.ID}, admin)).must(t)
	tok := try(s.CreateToken(c, game.Token{Kind: game.TokenDisplay, Name: oldName + "'s phone", Channels: []string{"rep:1"},
		Prefix: "pod_z", Hash: "token-hash", CreatedBy: string(game.UserActor(user.ID))}, game.UserActor(user.ID))).must(t)
	now := time.Now()
	if err := s.CreateSession(c, game.Session{Hash: "her-session", UserID: user.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(c, game.Session{Hash: "bob-session", UserID: bobUser.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateReset(c, game.Reset{Hash: "her-reset", UserID: user.ID, ExpiresAt: now.Add(time.Hour)}, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Audit(c, game.AuditEntry{Actor: game.ActorSystem, Action: "user.lockout", Object: obj("user", user.ID),
		After: json.RawMessage(`{"email":"` + userEmail + `"}`)}); err != nil {
		t.Fatal(err)
	}

	// What the engine stores with a won deal: the deal (named after her by
	// the CRM), its answer, ledger rows and an outbox row whose feed
	// message names her (Go's encoder escapes the quotes in her user name).
	d := deal("opp-z", rep.ID, "1200.00")
	d.Name = "Renewal for " + repName
	d.Splits = []game.Split{{RepID: rep.ID, Share: decimal.RequireFromString("0.5")}, {RepID: bob.ID, Share: decimal.RequireFromString("0.5")}}
	answer, _ := json.Marshal(map[string]any{"status": "created", "deal": d, "contact": repEmail})
	feed, _ := json.Marshal(map[string]any{"key": "crm/opp-z/1",
		"moves": []map[string]any{{"r": rep.ID, "m": "revenue", "v": 60000}},
		"pubs": []map[string]any{{"channel": "feed", "data": map[string]any{"kind": "deal_won", "deal_name": d.Name,
			"reps": []map[string]any{{"rep_id": rep.ID, "name": repName}, {"rep_id": bob.ID, "name": "Bob Builder"}},
			"note": "congrats " + userName + " <" + userEmail + ">"}}}})
	led := []game.LedgerEntry{
		{RepID: rep.ID, TeamID: team.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 60000, Amount: dec("600.00"), Reason: "deal won", DealID: "crm/opp-z"},
		{RepID: rep.ID, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won", DealID: "crm/opp-z"},
		{RepID: bob.ID, TeamID: team.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 60000, Amount: dec("600.00"), Reason: "deal won", DealID: "crm/opp-z"},
	}
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.PutEvent(c, engine.StoredEvent{Key: "crm/opp-z/1", Kind: "deal", Hash: "h", Status: 201, Response: answer, At: t0}); err != nil {
			return err
		}
		if err := tx.PutDeal(c, engine.DealState{Deal: d, EventKey: "crm/opp-z/1"}); err != nil {
			return err
		}
		if err := tx.PutActivity(c, game.Activity{Source: "crm", ExternalID: "call-z", RepID: rep.ID, Kind: game.ActivityCall, Count: 1, OccurredAt: t0}); err != nil {
			return err
		}
		if err := tx.AppendLedger(c, "crm/opp-z/1", t0, led); err != nil {
			return err
		}
		return tx.AddOutbox(c, "crm/opp-z/1", feed, t0)
	})
	// A pay line she disputed, in a thread that names her.
	pay := []engine.PayLine{{RepID: rep.ID, Period: "2026-11", PostedIn: "2026-11", Component: "commission", Kind: "earned",
		Amount: *dec("60.00"), Currency: "USD", Text: "10 % on 600.00", Actor: game.ActorSystem, At: t0}}
	if err := s.InCompTx(c, func(tx engine.CompTx) error { return tx.AppendPay(c, pay) }); err != nil {
		t.Fatal(err)
	}
	dsp := try(s.OpenDispute(c, engine.Dispute{RepID: rep.ID, Period: "2026-11", LineID: pay[0].ID,
		Comments: []engine.DisputeComment{{Body: "I am " + repName + ", the Acme deal was bigger"}}}, game.UserActor(user.ID))).must(t)
	try(s.CommentDispute(c, dsp.ID, engine.DisputeComment{Body: "Mailed " + userEmail + " about it"}, admin)).must(t)
	try(s.ResolveDispute(c, dsp.ID, "Checked with "+repName, nil, admin)).must(t)

	needles := personal()
	if hits := findAnywhere(t, db, needles); len(hits) == 0 {
		t.Fatal("the search finds nothing before the erasure: it would find nothing after it either")
	}
	ledgerBefore := try(s.Ledger(c, rep.ID, 100)).must(t)
	logBefore := auditLog(t, s)
	// Redacted: the entries about her, and those that name her.
	var wantRedacted []int64
	for _, e := range logBefore {
		about := (e.Object == obj("rep", rep.ID) || e.Object == obj("user", user.ID)) && (e.Before != nil || e.After != nil)
		if about || slices.ContainsFunc(needles, func(n string) bool {
			return bytes.Contains(e.Before, []byte(n)) || bytes.Contains(e.After, []byte(n))
		}) {
			wantRedacted = append(wantRedacted, e.Seq)
		}
	}

	er := try(s.ErasePerson(c, rep.ID, "their request of 28 November, signed "+repName+" <"+userEmail+">", admin)).must(t)
	if er.Rep != rep.ID || er.User != user.ID || !slices.Equal(er.Redacted, wantRedacted) {
		t.Fatalf("ErasePerson = %+v, want rep %d, user %d, redacted %v", er, rep.ID, user.ID, wantRedacted)
	}

	// Nothing of her is left, anywhere.
	for _, hit := range findAnywhere(t, db, needles) {
		t.Error(hit)
	}

	pseudonym := fmt.Sprintf("Erased person %d", rep.ID)
	rep.Name, rep.Email = pseudonym, ""
	if got := try(s.ListReps(c)).must(t); !slices.Equal(got, []game.Rep{rep, bob}) {
		t.Errorf("reps after erasure = %+v, want %+v", got, []game.Rep{rep, bob})
	}
	gotUser := try(s.User(c, user.ID)).must(t)
	user.Email, user.Name, user.Disabled, user.PasswordHash = fmt.Sprintf("erased-user-%d@erased.invalid", user.ID), "Erased person", true, ""
	wantUser(t, gotUser, user)
	if _, _, err := s.Session(c, "her-session", now); game.ErrorCode(err) != game.ENotFound {
		t.Errorf("her session after erasure: %v, want ENotFound", err)
	}
	if _, _, err := s.Session(c, "bob-session", now); err != nil {
		t.Errorf("Bob's session after her erasure: %v", err)
	}
	if _, err := s.UseReset(c, "her-reset", now); game.ErrorCode(err) != game.ENotFound {
		t.Errorf("her reset link after erasure: %v, want ENotFound", err)
	}
	teams := try(s.ListTeams(c)).must(t)
	if want := pseudonym + "'s pilots"; len(teams) != 2 || teams[1].ID != hersTeam.ID || teams[1].Name != want || teams[1].ParentID != team.ID {
		t.Errorf("teams after erasure = %+v, want the second named %q", teams, want)
	}
	if got := try(s.TokenByHash(c, "token-hash")).must(t); got.Name != pseudonym+"'s phone" || got.ID != tok.ID {
		t.Errorf("token after erasure = %+v", got)
	}

	// The pay ledger is untouched; the outbox payload still decodes, keys
	// and numbers intact, with her pseudonym where her name was.
	if got := try(s.Ledger(c, rep.ID, 100)).must(t); !slices.EqualFunc(got, ledgerBefore, sameRow) {
		t.Errorf("ledger after erasure = %+v\nwant %+v", got, ledgerBefore)
	}
	out := try(s.PendingOutbox(c, t0.Add(time.Hour), 10)).must(t)
	if len(out) != 1 {
		t.Fatalf("outbox = %+v", out)
	}
	var payload struct {
		Moves []struct {
			R int64 `json:"r"`
			V int64 `json:"v"`
		} `json:"moves"`
		Pubs []struct {
			Data struct {
				Reps []struct {
					RepID int64  `json:"rep_id"`
					Name  string `json:"name"`
				} `json:"reps"`
			} `json:"data"`
		} `json:"pubs"`
	}
	if err := json.Unmarshal(out[0].Payload, &payload); err != nil {
		t.Fatalf("outbox payload after erasure %s: %v", out[0].Payload, err)
	}
	if len(payload.Moves) != 1 || payload.Moves[0].R != rep.ID || payload.Moves[0].V != 60000 ||
		len(payload.Pubs) != 1 || len(payload.Pubs[0].Data.Reps) != 2 ||
		payload.Pubs[0].Data.Reps[0].Name != pseudonym || payload.Pubs[0].Data.Reps[1].Name != "Bob Builder" {
		t.Errorf("outbox payload after erasure: %s", out[0].Payload)
	}

	// The log: her entries redacted, Bob's intact, the erasure recorded,
	// and the chain verifies.
	logAfter := auditLog(t, s)
	if len(logAfter) != len(logBefore)+1 {
		t.Fatalf("%d entries after erasure, want %d", len(logAfter), len(logBefore)+1)
	}
	for i, e := range logBefore {
		got := logAfter[i]
		if slices.Contains(er.Redacted, e.Seq) {
			if !got.Redacted || (got.Before != nil && string(got.Before) != `{"redacted":true}`) || string(got.After) != `{"redacted":true}` ||
				got.Hash != e.Hash || got.Digest != e.Digest {
				t.Errorf("entry %d after erasure = %+v, want redacted, hashes kept", e.Seq, got)
			}
		} else if got.Redacted || !bytes.Equal(got.Before, e.Before) || !bytes.Equal(got.After, e.After) {
			t.Errorf("entry %d (%s %s) changed by the erasure: %s → %s", e.Seq, e.Action, e.Object, e.After, got.After)
		}
	}
	erasure, _ := json.Marshal(er)
	last := wantTail(t, s, entry{admin, game.ActionErase, obj("rep", rep.ID), nil, json.RawMessage(erasure)})[0]
	if want := "their request of 28 November, signed " + pseudonym + " <" + user.Email + ">"; last.Reason != want {
		t.Errorf("erasure reason = %q, want %q", last.Reason, want)
	}
	verify(t, s)

	// Her export holds no trace either.
	data := try(s.PersonData(c, rep.ID)).must(t)
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range needles {
		if bytes.Contains(b, []byte(n)) {
			t.Errorf("her export holds %q: %s", n, b)
		}
	}

	// Erasing again finds nothing more to redact, and the chain holds.
	again := try(s.ErasePerson(c, rep.ID, "audit of the erasure", admin)).must(t)
	if len(again.Redacted) != 0 || again.User != user.ID {
		t.Errorf("second erasure = %+v, want nothing redacted", again)
	}
	verify(t, s)
	if _, err := s.PersonData(c, bob.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(erasure), "null") {
		t.Errorf("erasure record %s: want a list of seqs", erasure)
	}

	// A name too short to search for everywhere: the entries about the
	// person are redacted all the same.
	al := try(s.CreateRep(c, game.Rep{Name: "Al", Active: true}, admin)).must(t)
	al.Active = false
	try(s.UpdateRep(c, al, admin)).must(t)
	n := len(auditLog(t, s))
	er = try(s.ErasePerson(c, al.ID, "their request", admin)).must(t)
	if !slices.Equal(er.Redacted, []int64{int64(n - 1), int64(n)}) {
		t.Errorf("erasing Al redacted %v, want %v", er.Redacted, []int64{int64(n - 1), int64(n)})
	}
	verify(t, s)
}

func sameRow(a, b engine.LedgerRow) bool {
	return a.ID == b.ID && a.EventKey == b.EventKey && a.At.Equal(b.At) && a.RepID == b.RepID && a.TeamID == b.TeamID &&
		a.Metric == b.Metric && a.Day == b.Day && a.Delta == b.Delta && a.Reason == b.Reason && a.DealID == b.DealID &&
		a.Corrects == b.Corrects && (a.Amount == nil) == (b.Amount == nil) && (a.Amount == nil || a.Amount.Equal(*b.Amount))
}
