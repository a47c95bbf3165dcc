package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"podium/engine"
	"podium/internal/testsvc"
	"podium/internal/wstest"
	"podium/store/postgres"
)

const token = "e2e-admin-token-0123456789abcdef"

// runningNode is a podium serve started in-process on :0.
type runningNode struct {
	addr string
	stop func()
	out  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// mustRunMain runs the real Run like the binary does, with env as its
// environment, and returns once the node accepts requests.
func mustRunMain(t testing.TB, env map[string]string, args ...string) *runningNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		done <- Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, out, out, func(a string) { ready <- a })
	}()
	n := &runningNode{out: out}
	select {
	case n.addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("podium exited before serving: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("podium did not start within 60s\n%s", out)
	}
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("podium exited with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("podium did not shut down within 30s")
			}
		})
	}
	t.Cleanup(n.stop)
	return n
}

func (n *runningNode) url(path string) string { return "http://" + n.addr + path }

func (n *runningNode) post(t testing.TB, path, body string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", n.url(path), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return doJSON(t, req, want)
}

func (n *runningNode) get(t testing.TB, path string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", n.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return doJSON(t, req, want)
}

func doJSON(t testing.TB, req *http.Request, want int) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", req.Method, req.URL, resp.StatusCode, b, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", req.Method, req.URL, b)
	}
	return m
}

// wsClient is a test WebSocket client that splits array frames into messages.
type wsClient struct {
	t       *testing.T
	conn    *websocket.Conn
	msgs    chan map[string]any
	pending []map[string]any // received, not yet matched by await
	closed  chan int         // the close code, once the server closed the socket
}

// awaitClose waits for the server to close the socket and returns the code.
func (c *wsClient) awaitClose(what string) int {
	c.t.Helper()
	select {
	case code := <-c.closed:
		return code
	case <-time.After(10 * time.Second):
		c.t.Fatalf("the socket was not closed within 10s: %s", what)
	}
	return 0
}

// dialWS opens a live connection with the operator token.
func dialWS(t *testing.T, n *runningNode) *wsClient {
	t.Helper()
	return dialWSWith(t, n, http.Header{"Authorization": {"Bearer " + token}}, nil)
}

// dialWSWith opens a live connection with the given upgrade headers and
// subprotocols (a display token travels as "bearer.<token>").
func dialWSWith(t *testing.T, n *runningNode, hdr http.Header, protocols []string) *wsClient {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: protocols}
	conn, _, err := d.Dial("ws://"+n.addr+"/ws", hdr)
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	c := &wsClient{t: t, conn: conn, msgs: make(chan map[string]any, 1024), closed: make(chan int, 1)}
	go func() {
		defer close(c.msgs)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				code := 0
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = ce.Code
				}
				c.closed <- code
				return
			}
			for _, m := range wstest.Messages(b) {
				c.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// dialLive connects to n and subscribes, as the TV does, to this month's
// revenue board and the win feed, returning once the board snapshot arrived.
func dialLive(t *testing.T, n *runningNode) *wsClient {
	t.Helper()
	ws := dialWS(t, n)
	ws.send(map[string]any{"op": "subscribe", "channel": "board:revenue:month:company"})
	ws.send(map[string]any{"op": "subscribe", "channel": "feed"})
	ws.await("board snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
	return ws
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

// await returns the first message, received earlier or now, for which match
// is true; messages it skips stay for later awaits.
func (c *wsClient) await(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for i, m := range c.pending {
		if match(m) {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return m
		}
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("socket closed while waiting for %s", what)
			}
			if match(m) {
				return m
			}
			c.pending = append(c.pending, m)
		case <-timeout:
			c.t.Fatalf("no %s within 10s", what)
		}
	}
}

func seedTeamAndReps(t *testing.T, n *runningNode) []int64 {
	t.Helper()
	team := n.post(t, "/api/v1/teams", `{"name":"Enterprise"}`, 201)
	var ids []int64
	for _, name := range []string{"Ana Lima", "Ben Okafor"} {
		r := n.post(t, "/api/v1/reps", fmt.Sprintf(`{"name":%q,"team_id":%v}`, name, team["id"]), 201)
		ids = append(ids, int64(r["id"].(float64)))
	}
	return ids
}

// testCloseTime is the close time of every test deal: fixed, so that a
// re-sent deal is the same content even a second later, and recent, so that
// it lands on this month's boards and the TV still celebrates it.
var testCloseTime = time.Now().UTC().Format(time.RFC3339)

func wonDeal(id string, rep int64, amount string) string {
	return fmt.Sprintf(`{"external_id":%q,"version":1,"rep_id":%d,"amount":%q,"stage":"won","close_time":%q,"name":"Deal %s"}`,
		id, rep, amount, testCloseTime, id)
}

func isBoardUpdateWith(rep int64, score float64) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["type"] != "delta" && m["type"] != "snapshot" {
			return false
		}
		entries, _ := m["entries"].([]any)
		for _, e := range entries {
			em := e.(map[string]any)
			if int64(em["rep_id"].(float64)) == rep && em["score"] == score {
				return true
			}
		}
		return false
	}
}

func isFeedWin(deal string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["type"] != "event" || m["channel"] != "feed" {
			return false
		}
		d, _ := m["data"].(map[string]any)
		return d["kind"] == "deal_won" && d["deal_name"] == deal
	}
}

// TestEmbeddedEndToEnd runs the default mode: SQLite and in-process boards.
func TestEmbeddedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PODIUM_ADMIN_TOKEN": token, "PODIUM_DATA_DIR": dir}
	n := mustRunMain(t, env)
	if !strings.Contains(n.out.String(), "mode=embedded") {
		t.Fatalf("first log line does not name the mode:\n%s", n.out)
	}
	reps := seedTeamAndReps(t, n)
	ws := dialLive(t, n)

	n.post(t, "/api/v1/deals", wonDeal("E-1", reps[0], "1500.00"), 201)
	ws.await("board delta", isBoardUpdateWith(reps[0], 150000))
	ws.await("feed event", isFeedWin("Deal E-1"))

	// A rep channel is private: a TV's display token is refused it, the
	// operator token may read it.
	tv := n.post(t, "/api/v1/tokens", `{"kind":"display","name":"TV","channels":["board:revenue:month:company","feed"]}`, 201)
	tvWS := dialWSWith(t, n, nil, []string{"podium.v1", "bearer." + tv["secret"].(string)})
	tvWS.send(map[string]any{"op": "subscribe", "channel": fmt.Sprintf("rep:%d", reps[0])})
	tvWS.await("forbidden", func(m map[string]any) bool { return m["type"] == "error" && m["code"] == "forbidden" })
	ws.send(map[string]any{"op": "subscribe", "channel": fmt.Sprintf("rep:%d", reps[0])})
	ws.await("rep subscribed", func(m map[string]any) bool {
		return m["type"] == "subscribed" && strings.HasPrefix(m["channel"].(string), "rep:")
	})
	n.post(t, "/api/v1/deals", wonDeal("E-2", reps[0], "10.00"), 201)
	ws.await("rep credit", func(m map[string]any) bool {
		d, _ := m["data"].(map[string]any)
		return m["type"] == "event" && d["kind"] == "credited" && d["revenue"] == "10.00"
	})

	// A body over the limit is refused with the JSON error, not a bare 413.
	// The server answers as soon as it reads the Content-Length, so the
	// request is written by hand: a client still sending would see a reset.
	conn, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/v1/deals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", token, 11<<20)
	tooBig, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := io.ReadAll(tooBig.Body)
	conn.Close()
	if tooBig.StatusCode != 413 || !bytes.Contains(tb, []byte(`"code":"too_large"`)) {
		t.Fatalf("oversized body answered %d %s", tooBig.StatusCode, tb)
	}

	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(n.url(p))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	if resp, err := http.Get(n.url("/metrics")); err != nil || resp.StatusCode != 401 {
		t.Fatalf("metrics without a token: %v %v, want 401", err, resp)
	}
	mreq, _ := http.NewRequest("GET", n.url("/metrics"), nil)
	mreq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`podium_ingest_total{code="ok",kind="deal"} 2`)) || !bytes.Contains(metrics, []byte("podium_ws_connections 2")) {
		t.Fatalf("metrics lack ingest or connection counts:\n%s", metrics)
	}

	// Restart on the same data directory: boards come back from the ledger.
	n.stop()
	n2 := mustRunMain(t, env)
	board := n2.get(t, "/api/v1/boards/revenue/month/company", 200)
	e := board["entries"].([]any)[0].(map[string]any)
	if e["value"] != "1510.00" || e["name"] != "Ana Lima" {
		t.Fatalf("after restart the board is %v", board)
	}
}

// TestTwoNodes runs two production nodes sharing Postgres and Redis: a deal
// posted to node 1 reaches a WebSocket client of node 2; a duplicate and a
// reordered delivery change nothing; Redis flushed mid-run comes back equal to
// the ledger.
func TestTwoNodes(t *testing.T) {
	dbURL := testsvc.PostgresURL(t)
	rc, prefix := testsvc.Redis(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": testsvc.RedisURL(), "PODIUM_REDIS_PREFIX": prefix,
		"PODIUM_ADMIN_TOKEN": token,
	}
	n1 := mustRunMain(t, env)
	n2 := mustRunMain(t, env)
	if !strings.Contains(n1.out.String(), "mode=production") {
		t.Fatalf("node 1 is not in production mode:\n%s", n1.out)
	}
	reps := seedTeamAndReps(t, n1)

	ws := dialLive(t, n2)

	n1.post(t, "/api/v1/deals", wonDeal("P-1", reps[0], "2500.00"), 201)
	ws.await("board delta on node 2", isBoardUpdateWith(reps[0], 250000))
	ws.await("feed event on node 2", isFeedWin("Deal P-1"))
	// Node 2 knows the rep by name: rosters travel over the bus too.
	board := n2.get(t, "/api/v1/boards/revenue/month/company", 200)
	if e := board["entries"].([]any)[0].(map[string]any); e["name"] != "Ana Lima" {
		t.Fatalf("node 2 board = %v", board)
	}

	// A duplicate to the other node, then versions 3 and 2 arriving out of
	// order: the duplicate is answered as the first time, the late version 2
	// is stale, and the board shows version 3.
	dup := n2.post(t, "/api/v1/deals", wonDeal("P-1", reps[0], "2500.00"), 201)
	if dup["status"] != "created" {
		t.Fatalf("duplicate answered %v", dup)
	}
	version := func(v int, amount string) string {
		return strings.Replace(wonDeal("P-1", reps[0], amount), `"version":1`, fmt.Sprintf(`"version":%d`, v), 1)
	}
	if r := n2.post(t, "/api/v1/deals", version(3, "3000.00"), 200); r["status"] != "updated" {
		t.Fatalf("version 3 answered %v", r)
	}
	if r := n1.post(t, "/api/v1/deals", version(2, "2800.00"), 200); r["status"] != "stale" {
		t.Fatalf("late version 2 answered %v", r)
	}
	changed := strings.Replace(wonDeal("P-1", reps[0], "1.00"), `"name":"Deal P-1"`, `"name":"changed"`, 1)
	req, _ := http.NewRequest("POST", n1.url("/api/v1/deals"), strings.NewReader(changed))
	req.Header.Set("Authorization", "Bearer "+token)
	if r := doJSON(t, req, 422); r["code"] != "idempotency_key_reused" {
		t.Fatalf("version 1 with new content answered %v", r)
	}
	ws.await("correction on node 2", isBoardUpdateWith(reps[0], 300000))

	// Flush this test's Redis keys mid-run, keep ingesting, and check the
	// boards come back equal to the ledger.
	if err := testsvc.DeletePrefix(context.Background(), rc, prefix); err != nil {
		t.Fatal(err)
	}
	n1.post(t, "/api/v1/deals", wonDeal("P-2", reps[1], "700.00"), 201)
	n2.post(t, "/api/v1/activities", fmt.Sprintf(`{"external_id":"A-1","rep_id":%d,"kind":"demo","occurred_at":%q}`, reps[1], time.Now().UTC().Format(time.RFC3339)), 201)

	st, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		diff := boardsVsLedger(t, n2, st)
		if diff == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("boards do not equal the ledger after the Redis flush: %s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// boardsVsLedger compares the month, all-time and team revenue and points
// boards served by n with the SQL aggregate; "" means equal.
func boardsVsLedger(t *testing.T, n *runningNode, st engine.Store) string {
	t.Helper()
	want, err := engine.ComputeBoards(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for _, path := range []string{"revenue/month/company", "revenue/all/company", "points/all/company", "activities/day/company", "deals/year/company"} {
		b := n.get(t, "/api/v1/boards/"+path+"?top=100", 200)
		got := map[int64]int64{}
		for _, e := range b["entries"].([]any) {
			em := e.(map[string]any)
			if s := int64(em["score"].(float64)); s != 0 {
				got[int64(em["rep_id"].(float64))] = s
			}
		}
		exp := map[int64]int64{}
		for rep, v := range want[b["board"].(string)] {
			if v != 0 {
				exp[rep] = v
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			diffs = append(diffs, fmt.Sprintf("%s: board %v, ledger %v", b["board"], got, exp))
		}
	}
	return strings.Join(diffs, "; ")
}
