package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/internal/testsvc"
)

// session is a signed-in person's client.
type session struct {
	t    *testing.T
	n    *runningNode
	c    *http.Client
	csrf string
}

func (s *session) do(method, path, body string, want int) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.n.url(path), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func newSession(t *testing.T, n *runningNode, body, email string) *session {
	t.Helper()
	u := n.post(t, "/api/v1/users", body, 201)
	c, csrf := signIn(t, n, u["sign_in_link"].(map[string]any)["link"].(string), email, "a long enough password")
	return &session{t: t, n: n, c: c, csrf: csrf}
}

func dec(v any) decimal.Decimal {
	s, _ := v.(string)
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.NewFromInt(-999999)
	}
	return d
}

// TestPayPeriodEndToEnd runs a pay period through the public API on both
// stores: a plan with every kind of line this period needs, the worked
// example's quota and deals, a clawback, live earnings on the rep's
// channel, a what-if, a dispute resolved with an adjustment, the manager's
// and finance's approvals, the lock, the payroll export agreeing with the
// statement to the cent, and a late deal landing in the open period.
func TestPayPeriodEndToEnd(t *testing.T) {
	modes := map[string]func(t *testing.T) map[string]string{
		"embedded": func(t *testing.T) map[string]string {
			return map[string]string{"PODIUM_ADMIN_TOKEN": token, "PODIUM_DATA_DIR": t.TempDir()}
		},
		"production": func(t *testing.T) map[string]string {
			_, prefix := testsvc.Redis(t)
			return map[string]string{"PODIUM_ADMIN_TOKEN": token, "DATABASE_URL": testsvc.PostgresURL(t), "REDIS_URL": testsvc.RedisURL(), "PODIUM_REDIS_PREFIX": prefix}
		},
	}
	for name, env := range modes {
		t.Run(name, func(t *testing.T) { payPeriod(t, mustRunMain(t, env(t))) })
	}
}

func payPeriod(t *testing.T, n *runningNode) {
	// The period under test is last month, so that "now" is the open period
	// a correction of it lands in.
	now := time.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC)
	lastMonth := thisMonth.AddDate(0, -1, 0)
	period, open := lastMonth.Format("2006-01"), thisMonth.Format("2006-01")
	day := func(d int) string { return lastMonth.AddDate(0, 0, d-1).Format(time.RFC3339) }

	team := n.post(t, "/api/v1/teams", `{"name":"Pay team"}`, 201)
	rep := func(name string) int64 {
		r := n.post(t, "/api/v1/reps", fmt.Sprintf(`{"name":%q,"team_id":%v}`, name, team["id"]), 201)
		return int64(r["id"].(float64))
	}
	ana, bob := rep("Ana Pay"), rep("Bob Pay")
	anaS := newSession(t, n, fmt.Sprintf(`{"email":"ana.pay@example.com","name":"Ana","role":"rep","rep_id":%d}`, ana), "ana.pay@example.com")
	bobS := newSession(t, n, fmt.Sprintf(`{"email":"bob.pay@example.com","name":"Bob","role":"rep","rep_id":%d}`, bob), "bob.pay@example.com")
	mgr := newSession(t, n, fmt.Sprintf(`{"email":"mgr.pay@example.com","name":"Mia","role":"manager","teams":[%v]}`, team["id"]), "mgr.pay@example.com")
	fin := newSession(t, n, `{"email":"fin.pay@example.com","name":"Finn","role":"finance"}`, "fin.pay@example.com")

	// Finance defines the plan; a bad one is refused with the field at fault.
	bad := fin.do("POST", "/api/v1/plans", `{"id":"ae","name":"AE","version":1,"currency":"USD","period":"month","effective_from":"2026-01-01","rounding":{"mode":"half_up","where":"total"},
		"components":[{"kind":"commission","name":"commission","mode":"marginal","tiers":[{"from":"0","rate":"5"},{"from":"0","rate":"10"}]}]}`, 422)
	if !strings.HasPrefix(bad["field"].(string), "components[0].tiers[1]") {
		t.Fatalf("overlapping tiers answered %v", bad)
	}
	fin.do("POST", "/api/v1/plans", `{"id":"ae","name":"AE","version":1,"currency":"USD","period":"month","effective_from":"2026-01-01",
		"rounding":{"mode":"half_up","where":"total"},"clawback_days":90,
		"components":[
			{"kind":"commission","name":"commission","mode":"marginal","tiers":[{"from":"0","rate":"5"},{"from":"50","rate":"10"},{"from":"100","rate":"12"},{"from":"150","rate":"15"}]},
			{"kind":"spiff","name":"platform spiff","amount":"100.00","products":["Platform"]},
			{"kind":"bonus","name":"quota club","steps":[{"at":"100","amount":"500.00"}]}]}`, 201)
	fin.do("POST", "/api/v1/assignments", fmt.Sprintf(`{"plan_id":"ae","team_id":%v,"from":"2026-01-01"}`, team["id"]), 201)
	// Every kind of component is defined through the API: the package's
	// full example plan (commission with gate, soft cap, cap and product
	// rates; spiffs; a bonus; a draw; an override) is accepted as is.
	full, err := os.ReadFile("../../game/comp/testdata/plan_full.json")
	if err != nil {
		t.Fatal(err)
	}
	fin.do("POST", "/api/v1/plans/validate", string(full), 200)
	fin.do("POST", "/api/v1/plans", strings.Replace(string(full), `"version": 2`, `"version": 1`, 1), 201)
	fin.do("POST", "/api/v1/plans", strings.Replace(string(full), `"version": 2`, `"version": 1`, 1), 409)
	// Bob is on the retroactive variant: his own assignment wins over his team's.
	fin.do("POST", "/api/v1/plans", `{"id":"ae-retro","name":"AE retroactive","version":1,"currency":"USD","period":"month","effective_from":"2026-01-01",
		"rounding":{"mode":"half_up","where":"total"},
		"components":[{"kind":"commission","name":"commission","mode":"retroactive","tiers":[{"from":"0","rate":"5"},{"from":"50","rate":"10"},{"from":"100","rate":"12"},{"from":"150","rate":"15"}]}]}`, 201)
	fin.do("POST", "/api/v1/assignments", fmt.Sprintf(`{"plan_id":"ae-retro","rep_id":%d,"from":"2026-01-01"}`, bob), 201)
	for _, id := range []int64{ana, bob} {
		mgr.do("PUT", fmt.Sprintf("/api/v1/reps/%d/quotas", id), fmt.Sprintf(`{"period":"month","instance":%q,"amount":"33000.00"}`, period), 200)
	}
	rollup := mgr.do("GET", fmt.Sprintf("/api/v1/teams/%v/quotas/month/%s", team["id"], period), "", 200)
	if !dec(rollup["amount"]).Equal(decimal.NewFromInt(66000)) {
		t.Fatalf("team quota rolls up to %v", rollup["amount"])
	}
	// A rep may not set their own quota.
	anaS.do("PUT", fmt.Sprintf("/api/v1/reps/%d/quotas", ana), fmt.Sprintf(`{"period":"month","instance":%q,"amount":"1.00"}`, period), 403)

	// Ana watches her channel with her own session.
	ws := dialWSWith(t, n, http.Header{"Cookie": {cookieHeader(anaS.c, n)}}, []string{"podium.v1"})
	ws.send(map[string]any{"op": "subscribe", "channel": fmt.Sprintf("rep:%d", ana)})
	ws.await("subscribed", func(m map[string]any) bool { return m["type"] == "subscribed" })

	deal := func(id, amount, product, stage string, version, closeDay int) {
		want := 201
		if version > 1 {
			want = 200
		}
		n.post(t, "/api/v1/deals", fmt.Sprintf(`{"external_id":%q,"version":%d,"rep_id":%d,"amount":%q,"stage":%q,"close_time":%q,"product":%q}`,
			id, version, ana, amount, stage, day(closeDay), product), want)
	}
	deal("PAY-1", "20000.00", "Platform", "won", 1, 5)
	earned := ws.await("earnings", func(m map[string]any) bool {
		d, _ := m["data"].(map[string]any)
		return m["type"] == "event" && d["kind"] == "earnings"
	})["data"].(map[string]any)
	if earned["provisional"] != true || !dec(earned["earned"]).Equal(decimal.NewFromInt(1275)) || earned["lines"] == nil {
		t.Fatalf("first earnings = %v (want 1,175.00 commission + 100.00 spiff)", earned)
	}
	deal("PAY-2", "35000.00", "Services", "won", 1, 12)
	deal("PAY-3", "5000.00", "Services", "won", 1, 14)
	deal("PAY-3", "5000.00", "Services", "lost", 2, 14) // lost within the clawback window

	whatIf := anaS.do("GET", fmt.Sprintf("/api/v1/reps/%d/what-if?amount=1000.00&period=%s", ana, period), "", 200)
	if whatIf["projection"] == nil {
		t.Fatalf("what-if = %v", whatIf)
	}

	// Bob closes the same 55,000 in two other deals: retroactive pays 8,250.00.
	for i, amount := range []string{"41000.00", "14000.00"} {
		n.post(t, "/api/v1/deals", fmt.Sprintf(`{"external_id":"BOB-%d","version":1,"rep_id":%d,"amount":%q,"stage":"won","close_time":%q}`,
			i, bob, amount, day(3+i)), 201)
	}
	waitStatement(t, bobS, bob, period, "8250.00")

	// 5,280.00 commission (the worked example) + 100.00 spiff + 500.00 bonus.
	st := waitStatement(t, anaS, ana, period, "5880.00")
	bobS.do("GET", fmt.Sprintf("/api/v1/reps/%d/statements/%s", ana, period), "", 403)
	lines := st["lines"].([]any)
	first := lines[0].(map[string]any)
	if txt, _ := first["text"].(string); txt == "" {
		t.Fatalf("a line without its explanation: %v", first)
	}

	// Ana disputes a line; finance resolves it with a 50.00 adjustment.
	d := anaS.do("POST", fmt.Sprintf("/api/v1/reps/%d/disputes", ana), fmt.Sprintf(`{"line_id":%v,"comment":"The Platform deal was 20,500"}`, first["id"]), 201)
	anaS.do("POST", fmt.Sprintf("/api/v1/disputes/%v/resolve", d["id"]), `{"resolution":"mine"}`, 403)
	mgr.do("POST", fmt.Sprintf("/api/v1/disputes/%v/comments", d["id"]), `{"body":"Checked the order form: 20,500 is right."}`, 200)
	fin.do("POST", fmt.Sprintf("/api/v1/disputes/%v/resolve", d["id"]), `{"resolution":"Order form says 20,500","adjustment":{"component":"commission","amount":"50.00"}}`, 200)
	waitStatement(t, anaS, ana, period, "5930.00")

	// Approvals in order, each by its role; then the lock.
	fin.do("POST", fmt.Sprintf("/api/v1/reps/%d/statements/%s/lock", ana, period), "", 409)
	anaS.do("POST", fmt.Sprintf("/api/v1/reps/%d/statements/%s/manager-approve", ana, period), "", 403)
	mgr.do("POST", fmt.Sprintf("/api/v1/reps/%d/statements/%s/finance-approve", ana, period), "", 403)
	mgr.do("POST", fmt.Sprintf("/api/v1/reps/%d/statements/%s/manager-approve", ana, period), "", 200)
	fin.do("POST", fmt.Sprintf("/api/v1/reps/%d/statements/%s/finance-approve", ana, period), "", 200)
	locked := fin.do("POST", fmt.Sprintf("/api/v1/reps/%d/statements/%s/lock", ana, period), "", 200)
	if locked["status"] != "locked" || locked["hash"] == "" || locked["provisional"] != false {
		t.Fatalf("locked statement = %v", locked)
	}
	// Anyone holding the statement can check its hash against the frozen bytes.
	sreq, _ := http.NewRequest("GET", n.url(fmt.Sprintf("/api/v1/reps/%d/statements/%s/snapshot", ana, period)), nil)
	sresp, err := anaS.c.Do(sreq)
	if err != nil || sresp.StatusCode != 200 {
		t.Fatalf("snapshot: %v %v", err, sresp)
	}
	snap, _ := io.ReadAll(sresp.Body)
	sresp.Body.Close()
	if sum := sha256.Sum256(snap); hex.EncodeToString(sum[:]) != locked["hash"] {
		t.Fatalf("sha256 of the snapshot is %x, the statement says %v", sum, locked["hash"])
	}

	// Payroll agrees with the statement to the cent, in JSON and CSV.
	pay := fin.do("GET", "/api/v1/payroll/"+period, "", 200)
	sum := decimal.Zero
	for _, r := range pay["rows"].([]any) {
		if row := r.(map[string]any); int64(row["rep_id"].(float64)) == ana {
			sum = sum.Add(dec(row["amount"]))
		}
	}
	if !sum.Equal(dec(locked["total"])) {
		t.Fatalf("payroll rows for Ana sum to %s, statement total %v", sum, locked["total"])
	}
	req, _ := http.NewRequest("GET", n.url("/api/v1/payroll/"+period+"?format=csv"), nil)
	resp, err := fin.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("payroll csv: %v %v", err, resp)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(rows) < 2 || rows[0][4] != "amount" {
		t.Fatalf("payroll csv: %v %v", rows, err)
	}
	csvSum := decimal.Zero
	for _, r := range rows[1:] {
		if r[1] == fmt.Sprint(ana) {
			csvSum = csvSum.Add(decimal.RequireFromString(r[4]))
		}
	}
	if !csvSum.Equal(sum) {
		t.Fatalf("csv sums to %s, JSON to %s", csvSum, sum)
	}
	anaS.do("GET", "/api/v1/payroll/"+period, "", 403)

	// A late deal of the locked period lands in the open one, labelled.
	deal("PAY-4", "1000.00", "Services", "won", 1, 20)
	late := waitStatement(t, anaS, ana, open, "150.00") // 15 % above 150 % attainment
	l := late["lines"].([]any)[0].(map[string]any)
	if l["period"] != period || l["posted_in"] != open || l["kind"] != "adjustment" {
		t.Fatalf("late line = %v", l)
	}
	// A manual adjustment for the locked month lands in the open one too;
	// a rep cannot adjust their own pay.
	anaS.do("POST", fmt.Sprintf("/api/v1/reps/%d/adjustments", ana), fmt.Sprintf(`{"period":%q,"amount":"25.00","reason":"mine"}`, period), 403)
	adj := fin.do("POST", fmt.Sprintf("/api/v1/reps/%d/adjustments", ana), fmt.Sprintf(`{"period":%q,"amount":"25.00","reason":"Travel allowance"}`, period), 201)
	if adj["posted_in"] != open || adj["id"] == float64(0) {
		t.Fatalf("adjustment = %v", adj)
	}
	waitStatement(t, anaS, ana, open, "175.00")
	again := anaS.do("GET", fmt.Sprintf("/api/v1/reps/%d/statements/%s", ana, period), "", 200)
	if again["hash"] != locked["hash"] || again["total"] != locked["total"] {
		t.Fatalf("the locked statement changed: %v", again)
	}
	if v := n.get(t, "/api/v1/audit/verify", 200); v["ok"] != true {
		t.Fatalf("audit: %v", v)
	}
	// Her data export holds her pay.
	export := n.get(t, fmt.Sprintf("/api/v1/people/%d/export", ana), 200)
	exported, _ := export["pay"].(map[string]any)
	if lines, _ := exported["lines"].([]any); len(lines) < 4 || len(exported["statements"].([]any)) == 0 || len(exported["disputes"].([]any)) != 1 {
		t.Fatalf("export pay = %v", exported)
	}
}

// waitStatement polls a statement until its total is want.
func waitStatement(t *testing.T, s *session, rep int64, period, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := s.do("GET", fmt.Sprintf("/api/v1/reps/%d/statements/%s", rep, period), "", 200)
		if dec(st["total"]).Equal(decimal.RequireFromString(want)) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("statement %s of rep %d totals %v, want %s:\n%s", period, rep, st["total"], want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cookieHeader returns the Cookie header the client's jar sends to n.
func cookieHeader(c *http.Client, n *runningNode) string {
	req, _ := http.NewRequest("GET", n.url("/"), nil)
	var parts []string
	for _, ck := range c.Jar.Cookies(req.URL) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}
