package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite"

	"podium/internal/testsvc"
)

var signInLink = regexp.MustCompile(`http://\S+/signin\.html#reset=(\S+)`)

// signIn sets a password through a sign-in link and signs in, returning a
// client that keeps the session cookie and the CSRF token.
func signIn(t *testing.T, n *runningNode, link, email, password string) (*http.Client, string) {
	t.Helper()
	m := signInLink.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("no sign-in link in %q", link)
	}
	req, _ := http.NewRequest("POST", n.url("/api/v1/auth/reset"), strings.NewReader(fmt.Sprintf(`{"token":%q,"password":%q}`, m[1], password)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("set password: %v %v", err, resp)
	}
	resp.Body.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ = http.NewRequest("POST", n.url("/api/v1/auth/login"), strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	req.Header.Set("Content-Type", "application/json")
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign in: %v %v", err, resp)
	}
	defer resp.Body.Close()
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return c, body.CSRF
}

// TestFirstStartAndUserCommand: the first start creates the first admin and
// prints a one-time link; `podium user create` adds people the same way.
func TestFirstStartAndUserCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PODIUM_DATA_DIR": dir, "PODIUM_ADMIN_EMAIL": "owner@example.com"}
	n := mustRunMain(t, env)
	out := n.out.String()
	if !strings.Contains(out, "the admin is owner@example.com") {
		t.Fatalf("first start did not announce the admin:\n%s", out)
	}
	admin, csrf := signIn(t, n, out, "owner@example.com", "a long enough password")
	req, _ := http.NewRequest("POST", n.url("/api/v1/teams"), strings.NewReader(`{"name":"North"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	if resp, err := admin.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("the signed-in admin creates a team: %v %v", err, resp)
	}
	n.stop()

	var cli bytes.Buffer
	if err := Run(t.Context(), []string{"user", "create", "--email", "Fin@Example.com", "--name", "Fin", "--role", "finance"}, func(k string) string { return env[k] }, &cli, &cli, nil); err != nil {
		t.Fatalf("podium user create: %v\n%s", err, &cli)
	}
	if err := Run(t.Context(), []string{"user", "create", "--email", "x@example.com", "--name", "X", "--role", "rep"}, func(k string) string { return env[k] }, &cli, &cli, nil); err == nil || !strings.Contains(err.Error(), "rep_id") {
		t.Errorf("a rep user without --rep: %v", err)
	}
	n2 := mustRunMain(t, env)
	if strings.Contains(n2.out.String(), "First start") {
		t.Error("a second start announced a first admin again")
	}
	signIn(t, n2, cli.String(), "fin@example.com", "another long password")

	cli.Reset()
	if err := Run(t.Context(), []string{"audit", "verify"}, func(k string) string { return env[k] }, &cli, &cli, nil); err != nil || !strings.Contains(cli.String(), "chain intact") {
		t.Fatalf("audit verify: %v %s", err, &cli)
	}
}

// TestAuditVerifyCatchesTampering: `podium audit verify` passes on an
// untouched log and fails on one changed behind Podium's back.
func TestAuditVerifyCatchesTampering(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PODIUM_DATA_DIR": dir, "PODIUM_ADMIN_TOKEN": token}
	n := mustRunMain(t, env)
	seedTeamAndReps(t, n)
	n.post(t, "/api/v1/teams", `{"name":"Second"}`, 201)
	n.stop()
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := Run(t.Context(), []string{"audit", "verify"}, getenv, &out, &out, nil); err != nil {
		t.Fatalf("untouched log: %v", err)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "podium.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Someone with database access rewrites history: the trigger stops a
	// plain UPDATE, so they drop it first.
	if _, err := db.Exec(`UPDATE audit_log SET after = replace(after, 'Second', 'Renamed') WHERE action = 'team.create'`); err == nil {
		t.Fatal("the append-only trigger let an UPDATE through")
	}
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`UPDATE audit_log SET after = replace(after, 'Second', 'Renamed') WHERE action = 'team.create'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out.Reset()
	err = Run(t.Context(), []string{"audit", "verify"}, getenv, &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "does NOT verify") {
		t.Fatalf("tampered log: %v %s, want a verification failure", err, &out)
	}
}

// TestRevokedDisplayTokenClosesSocket: a TV on node 2 runs on a display
// token that cannot write; revoking it on node 1 closes its socket with 4001.
func TestRevokedDisplayTokenClosesSocket(t *testing.T) {
	dbURL := testsvc.PostgresURL(t)
	_, prefix := testsvc.Redis(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": testsvc.RedisURL(), "PODIUM_REDIS_PREFIX": prefix, "PODIUM_ADMIN_TOKEN": token}
	n1, n2 := mustRunMain(t, env), mustRunMain(t, env)
	reps := seedTeamAndReps(t, n1)
	tv := n1.post(t, "/api/v1/tokens", `{"kind":"display","name":"TV","channels":["board:revenue:month:company","feed"]}`, 201)
	secret := tv["secret"].(string)
	ws := dialWSWith(t, n2, nil, []string{"podium.v1", "bearer." + secret})
	ws.send(map[string]any{"op": "subscribe", "channel": "board:revenue:month:company"})
	ws.await("snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
	n1.post(t, "/api/v1/deals", wonDeal("TV-1", reps[0], "100.00"), 201)
	ws.await("delta", isBoardUpdateWith(reps[0], 10000))

	req, _ := http.NewRequest("POST", n2.url("/api/v1/deals"), strings.NewReader(wonDeal("TV-2", reps[0], "1.00")))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	if m := doJSON(t, req, 403); m["code"] != "forbidden" {
		t.Fatalf("a display token writing: %v", m)
	}

	req, _ = http.NewRequest("DELETE", n1.url(fmt.Sprintf("/api/v1/tokens/%v", tv["token"].(map[string]any)["id"])), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	doJSON(t, req, 200)
	if code := ws.awaitClose("revoked display token"); code != 4001 {
		t.Fatalf("revoked token's socket closed with %d, want 4001", code)
	}
	d := websocket.Dialer{Subprotocols: []string{"podium.v1", "bearer." + secret}}
	if _, resp, err := d.Dial("ws://"+n2.addr+"/ws", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("a revoked token opening a socket: %v %v, want HTTP 401", err, resp)
	}
}

// TestErasureLeavesNoPersonalData erases a rep who signed in and won deals,
// then searches every text column of every table and every Redis key and
// value for their name and email: nothing is left, while the pay ledger and
// the boards keep their numbers under the rep's id.
func TestErasureLeavesNoPersonalData(t *testing.T) {
	dbURL := testsvc.PostgresURL(t)
	rc, prefix := testsvc.Redis(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": testsvc.RedisURL(), "PODIUM_REDIS_PREFIX": prefix, "PODIUM_ADMIN_TOKEN": token}
	n := mustRunMain(t, env)
	const name, email = "Zelda Quixote-Marlowe", "zelda.qm@example.com"
	team := n.post(t, "/api/v1/teams", `{"name":"Privacy"}`, 201)
	rep := n.post(t, "/api/v1/reps", fmt.Sprintf(`{"name":%q,"email":%q,"team_id":%v}`, name, email, team["id"]), 201)
	repID := int64(rep["id"].(float64))
	u := n.post(t, "/api/v1/users", fmt.Sprintf(`{"email":%q,"name":%q,"role":"rep","rep_id":%d}`, email, name, repID), 201)
	signIn(t, n, u["sign_in_link"].(map[string]any)["link"].(string), email, "zelda's long password")
	ws := dialLive(t, n)
	n.post(t, "/api/v1/deals", wonDeal("Z-1", repID, "4200.00"), 201)
	ws.await("feed event naming her", isFeedWin("Deal Z-1"))

	export := n.get(t, fmt.Sprintf("/api/v1/people/%d/export", repID), 200)
	if export["rep"].(map[string]any)["name"] != name || len(export["ledger"].([]any)) == 0 {
		t.Fatalf("export = %v", export)
	}
	before := n.get(t, "/api/v1/boards/revenue/month/company", 200)
	ctx := context.Background()
	// The searches find her before the erasure, so they can find her at all.
	if found := searchPostgres(t, ctx, dbURL, name, email); len(found) < 4 {
		t.Fatalf("before erasure Postgres holds the person in only %v", found)
	}
	if found := searchRedis(t, ctx, rc, prefix, name); len(found) == 0 {
		t.Fatal("before erasure Redis does not hold the person's name: the search would prove nothing")
	}
	n.post(t, fmt.Sprintf("/api/v1/people/%d/erase", repID), `{"reason":"erasure request #42"}`, 200)

	if found := searchPostgres(t, ctx, dbURL, name, email); len(found) > 0 {
		t.Errorf("Postgres still holds the person: %v", found)
	}
	if found := searchRedis(t, ctx, rc, prefix, name, email); len(found) > 0 {
		t.Errorf("Redis still holds the person: %v", found)
	}
	after := n.get(t, "/api/v1/boards/revenue/month/company", 200)
	e := after["entries"].([]any)[0].(map[string]any)
	if e["name"] == name || e["value"] != before["entries"].([]any)[0].(map[string]any)["value"] {
		t.Errorf("board after erasure: %v (before %v)", e, before["entries"])
	}
	if v := n.get(t, "/api/v1/audit/verify", 200); v["ok"] != true {
		t.Errorf("audit after erasure: %v", v)
	}
}

// searchPostgres returns "table.column" for every text, JSON or bytea value
// in the test's schema that contains any of needles.
func searchPostgres(t *testing.T, ctx context.Context, url string, needles ...string) []string {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 10 {
		t.Fatalf("found only %d text columns: the search is not looking at Podium's schema", len(cols))
	}
	var found []string
	for _, c := range cols {
		for _, needle := range needles {
			var n int
			q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE position(lower($1) in lower(convert_from(convert_to(%s::text, 'UTF8'), 'UTF8'))) > 0`,
				pgx.Identifier{c.table}.Sanitize(), pgx.Identifier{c.column}.Sanitize())
			if err := conn.QueryRow(ctx, q, needle).Scan(&n); err != nil {
				t.Fatalf("%s.%s: %v", c.table, c.column, err)
			}
			if n > 0 {
				found = append(found, fmt.Sprintf("%s.%s (%d rows with %q)", c.table, c.column, n, needle))
			}
		}
	}
	return found
}

// searchRedis returns the keys under prefix whose name or value contains
// any of needles.
func searchRedis(t *testing.T, ctx context.Context, rc *goredis.Client, prefix string, needles ...string) []string {
	t.Helper()
	var found []string
	seen := 0
	for _, pattern := range []string{prefix + "*", "{" + prefix + "*"} {
		iter := rc.Scan(ctx, 0, strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`).Replace(strings.TrimSuffix(pattern, "*"))+"*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			seen++
			var values []string
			switch typ := rc.Type(ctx, key).Val(); typ {
			case "string":
				values = []string{rc.Get(ctx, key).Val()}
			case "list":
				values = rc.LRange(ctx, key, 0, -1).Val()
			case "zset":
				values = rc.ZRange(ctx, key, 0, -1).Val()
			case "hash":
				for k, v := range rc.HGetAll(ctx, key).Val() {
					values = append(values, k, v)
				}
			case "set":
				values = rc.SMembers(ctx, key).Val()
			default:
				t.Fatalf("key %s of type %s: the search does not read it", key, typ)
			}
			for _, needle := range needles {
				if strings.Contains(strings.ToLower(key+strings.Join(values, "\x00")), strings.ToLower(needle)) {
					found = append(found, key)
				}
			}
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if seen == 0 {
		t.Fatal("no Redis keys under the test prefix: the search is not looking at Podium's data")
	}
	return found
}
