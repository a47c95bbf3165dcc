//go:build unix

package server

// WebSocket benchmarks over real sockets on loopback: broadcast fan-out to
// 1, 100 and 10,000 subscribers, and the memory an idle connection costs the
// server. The node is an embedded one (SQLite, in-process boards and bus)
// wired as cmd/podium wires it, served by this package's Server on
// 127.0.0.1:0; the benchmark holds the bus, so it can publish exactly one
// message per iteration. engine/hub_bench_test.go measures the same fan-out
// without sockets (BenchmarkBroadcastHub): the ratio is the socket cost.
//
// Timings are never asserted: the machine may be shared and small.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"podium/engine"
	"podium/engine/memory"
	"podium/internal/testsvc"
	"podium/store/sqlite"
)

// wsBenchNode is a running node with its bus at hand.
type wsBenchNode struct {
	addr string
	e    *engine.Engine
	bus  *memory.Bus
}

// startWSBenchNode starts an embedded node serving on 127.0.0.1:0 and stops
// it at cleanup (after the cleanups registered later, e.g. closing clients).
func startWSBenchNode(tb testing.TB) *wsBenchNode {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	bus := memory.NewBus(1000) // as cmd/podium wires embedded mode
	e := engine.New(engine.Config{}, st, memory.NewBoards(), bus)
	if err := e.Start(ctx); err != nil {
		st.Close()
		tb.Fatal(err)
	}
	srv, err := New(Config{Directory: st, AdminToken: testToken, PublicBoards: true, RateLimit: -1, AnonRateLimit: -1}, e)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		// The order of cmd/podium's shutdown: HTTP, then the engine (which
		// closes the remaining live connections), then the store.
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			tb.Errorf("server shutdown: %v", err)
		}
		if err := e.Close(sctx); err != nil {
			tb.Errorf("engine close: %v", err)
		}
		if err := <-served; err != nil {
			tb.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return &wsBenchNode{addr: ln.Addr().String(), e: e, bus: bus}
}

// raiseFDLimit makes sure this process may open need file descriptors: it
// raises the soft RLIMIT_NOFILE, and the hard one too when the process is
// privileged enough; otherwise up to the hard limit. It returns the limit now
// in force.
func raiseFDLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	if lim.Max < need {
		// Raising the hard limit needs CAP_SYS_RESOURCE (root in a container).
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: need, Max: need}) == nil {
			return need, nil
		}
	}
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// Markers counted in received frames. The server sends single messages as
// JSON objects and batches as JSON arrays of them; every message it encodes
// starts with its "type".
var (
	markEvent      = []byte(`{"type":"event"`)
	markSubscribed = []byte(`{"type":"subscribed"`)
	markSnapshot   = []byte(`{"type":"snapshot"`)
)

// wsDialer keeps client buffers small: 10,000 clients live in this process.
var wsDialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 256}

// readFrame reads one whole message into buf, reusing its memory.
func readFrame(conn *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := conn.NextReader()
	if err != nil {
		return buf, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// dialAll opens n clients with at most 64 handshakes in flight (the listen
// backlog is finite) and calls start for each on its own goroutine. It
// returns the connections; the caller closes them.
func dialAll(tb testing.TB, addr string, n int, start func(i int, c *websocket.Conn)) []*websocket.Conn {
	tb.Helper()
	conns := make([]*websocket.Conn, n)
	idx := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(n, 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				c, _, err := wsDialer.Dial("ws://"+addr+"/ws", nil)
				if err != nil {
					select {
					case errs <- fmt.Errorf("dial client %d: %w", i, err):
					default:
					}
					continue
				}
				conns[i] = c
				go start(i, c)
			}
		}()
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errs:
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		tb.Fatal(err)
	default:
	}
	return conns
}

// benchFeedPayload is a realistic feed event.
func benchFeedPayload() []byte {
	b, _ := json.Marshal(engine.FeedEvent{
		Kind: "deal_won", DealName: "Acme Corp — platform renewal", Product: "Platform", Amount: "12500.00", Currency: "USD",
		Reps: []engine.FeedRep{{RepID: 17, Name: "Ana Lima", Team: "Enterprise", Amount: "12500.00"}},
		At:   time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC),
	})
	return b
}

// fanoutClients are the subscribers of BenchmarkBroadcast, in this process
// or in a child process.
type fanoutClients interface {
	// wait blocks until the clients together have received total events.
	wait(total int64, timeout time.Duration) error
}

// inProcessFanout counts events received by clients of this process and
// wakes the waiter when the count reaches the target.
type inProcessFanout struct {
	total  atomic.Int64
	target atomic.Int64
	wake   chan struct{}
}

func (f *inProcessFanout) add(n int64) {
	if f.total.Add(n) >= f.target.Load() {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

func (f *inProcessFanout) wait(total int64, timeout time.Duration) error {
	f.target.Store(total)
	t := time.NewTimer(timeout)
	defer t.Stop()
	for f.total.Load() < total {
		select {
		case <-f.wake:
		case <-t.C:
			return fmt.Errorf("%d of %d deliveries after %s", f.total.Load(), total, timeout)
		}
	}
	return nil
}

// startInProcessFanout dials subs clients subscribed to the feed, each with
// one goroutine that reads frames and counts the events in them.
func startInProcessFanout(tb testing.TB, addr string, subs int) *inProcessFanout {
	tb.Helper()
	f := &inProcessFanout{wake: make(chan struct{}, 1)}
	var acked sync.WaitGroup
	acked.Add(subs)
	conns := dialAll(tb, addr, subs, func(_ int, c *websocket.Conn) {
		countEvents(c, &acked, f.add)
	})
	tb.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	acked.Wait()
	return f
}

// countEvents subscribes c to the feed, calls acked.Done once subscribed (or
// failed), then reads until the connection ends, passing the number of
// events in each frame to add.
func countEvents(c *websocket.Conn, acked *sync.WaitGroup, add func(int64)) {
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscribe","channel":"feed"}`)); err != nil {
		acked.Done()
		return
	}
	buf := make([]byte, 0, 1024)
	ack := false
	for {
		var err error
		if buf, err = readFrame(c, buf); err != nil {
			if !ack {
				acked.Done()
			}
			return
		}
		if k := bytes.Count(buf, markEvent); k > 0 {
			add(int64(k))
		}
		if !ack && bytes.Contains(buf, markSubscribed) {
			ack = true
			acked.Done()
		}
	}
}

// childFanout is subscribers in a child process, which prints a line each
// time every one of its clients has received one more event.
type childFanout struct {
	h    *wsHelper
	subs int64
}

func (f *childFanout) wait(total int64, timeout time.Duration) error {
	want := fanHelperLine + strconv.FormatInt(total/f.subs, 10)
	got := make(chan error, 1)
	go func() {
		for f.h.lines.Scan() {
			if line := f.h.lines.Text(); line == want {
				got <- nil
				return
			} else if strings.HasPrefix(line, "wsfan:") {
				got <- fmt.Errorf("helper reported %q, want %q", line, want)
				return
			}
		}
		got <- fmt.Errorf("helper exited: %v", f.h.lines.Err())
	}()
	select {
	case err := <-got:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("no %q within %s", want, timeout)
	}
}

// BenchmarkBroadcast connects subs WebSocket clients over loopback, all
// subscribed to the feed; each op publishes one message on the node's bus
// and waits until every client has read it. deliveries/s is subs × ops /
// elapsed. Setup (dial, subscribe) happens once per sub-benchmark and is not
// timed.
//
// Clients run in this process (one goroutine each: read and count), sharing
// its cores with the server. That needs two file descriptors per client; the
// benchmark raises RLIMIT_NOFILE as far as it may. When that is not enough
// (10,000 clients need about 20,100 descriptors, and containers often cap
// the hard limit at 20,000) the clients run in a child process instead — the
// same read-and-count loops, with the child printing a line on a pipe as
// each message reaches all of them — and the benchmark logs that it did.
// PODIUM_BENCH_WS_CLIENTS=process forces the child process for every size,
// to compare the two methods; it is skipped only when even one side's
// descriptors do not fit.
func BenchmarkBroadcast(b *testing.B) {
	for _, subs := range []int{1, 100, 10_000} {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			if subs > 4000 && testsvc.RaceEnabled {
				b.Skip("the race detector allows at most 8128 live goroutines; the server alone runs two per connection")
			}
			both, one := uint64(2*subs+256), uint64(subs+256)
			lim, err := raiseFDLimit(both)
			if err != nil {
				b.Fatal(err)
			}
			inProcess := lim >= both && os.Getenv("PODIUM_BENCH_WS_CLIENTS") != "process"
			if !inProcess && lim < one {
				b.Skipf("needs %d open files for %d loopback clients in a child process (%d in this one), RLIMIT_NOFILE allows %d; raise it (ulimit -n) to run this size", one, subs, both, lim)
			}
			n := startWSBenchNode(b)
			var clients fanoutClients
			if inProcess {
				clients = startInProcessFanout(b, n.addr, subs)
			} else {
				b.Logf("clients in a child process: RLIMIT_NOFILE %d < %d for both ends here, or PODIUM_BENCH_WS_CLIENTS=process", lim, both)
				h := startWSHelper(b, "fanout", n.addr, subs)
				h.expect(b, fanHelperLine+"0")
				clients = &childFanout{h: h, subs: int64(subs)}
			}
			if got := n.e.Hub().Connections(); got != subs {
				b.Fatalf("%d connections on the node, want %d", got, subs)
			}
			payload := benchFeedPayload()
			ctx := context.Background()
			var sent int64
			publish := func() {
				if _, err := n.bus.Publish(ctx, engine.FeedChannel, payload); err != nil {
					b.Fatal(err)
				}
				sent++
				if err := clients.wait(sent*int64(subs), 60*time.Second); err != nil {
					b.Fatal(err)
				}
			}
			for range 3 { // warm-up: buffers, pools, the first write of each socket
				publish()
			}
			b.ReportAllocs()
			for b.Loop() {
				publish()
			}
			b.ReportMetric(float64(subs)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			if got := n.e.Hub().Connections(); got != subs {
				b.Fatalf("%d connections left on the node, want %d: clients were dropped", got, subs)
			}
		})
	}
}

// Idle-connection memory.
//
// Method: the clients live in a child process (this test binary re-run as
// TestWSClientsHelper), so everything the runtime of this process holds
// for the connections is the server's: the fasthttp and websocket
// connection state, buffers, the hub's Conn with its send queue and
// subscriptions, and the goroutines' stacks. Each op has the child open
// idleConns connections, each subscribed to one board channel and the feed;
// once every client has its acknowledgements and snapshot and the node has
// idled for a moment, two forced GCs precede a runtime.MemStats reading. The
// op then closes the connections and waits until the node has released them.
//
//   - B/conn is Δ(HeapInuse + StackInuse) / connections;
//   - heap-B/conn and stack-B/conn split it;
//   - goroutines/conn is Δ runtime.NumGoroutine / connections.
//
// fasthttp's idle worker goroutines that served the handshakes linger for a
// few seconds and are part of the figure (at most 64 of them, one per
// concurrent handshake), overstating it by well under 1%. ns/op is the time
// to open, measure and close idleConns connections, not a latency.

const (
	idleConns     = 2000
	idleBoard     = "board:revenue:month:company"
	helperEnv     = "PODIUM_WS_HELPER" // "<mode> <addr> <clients>" in the child
	idleOpened    = "wsidle:opened"
	idleClosed    = "wsidle:closed"
	fanHelperLine = "wsfan:" // + messages every client has received
	helperError   = "wshelper:error "
)

// memSnapshot is what BenchmarkIdleConnMemory compares.
type memSnapshot struct {
	heap, stack uint64
	goroutines  int
}

func readMem() memSnapshot {
	runtime.GC()
	runtime.GC() // the second collects what the first only unlinked (finalizers, sync.Pool victims)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnapshot{heap: ms.HeapInuse, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// wsHelper drives a child process of WebSocket clients (this test binary
// re-run as TestWSClientsHelper) over its stdin and stdout.
type wsHelper struct {
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func startWSHelper(tb testing.TB, mode, addr string, clients int) *wsHelper {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWSClientsHelper$", "-test.count=1", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", helperEnv, mode, addr, clients))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	h := &wsHelper{stdin: stdin, lines: bufio.NewScanner(stdout)}
	tb.Cleanup(func() {
		stdin.Close() // the child closes its clients and exits on EOF
		done := make(chan error, 1)
		go func() {
			_, _ = io.Copy(io.Discard, stdout) // so the child never blocks writing
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("WebSocket clients helper: %v", err)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			tb.Errorf("WebSocket clients helper did not exit within 60s")
		}
	})
	return h
}

// expect waits for the line want from the child.
func (h *wsHelper) expect(tb testing.TB, want string) {
	tb.Helper()
	for h.lines.Scan() {
		line := h.lines.Text()
		if line == want {
			return
		}
		if strings.HasPrefix(line, helperError) {
			tb.Fatalf("WebSocket clients helper: %s", strings.TrimPrefix(line, helperError))
		}
	}
	tb.Fatalf("WebSocket clients helper exited before %q: %v", want, h.lines.Err())
}

// do sends a command and waits for the line that acknowledges it.
func (h *wsHelper) do(tb testing.TB, command, want string) {
	tb.Helper()
	if _, err := fmt.Fprintln(h.stdin, command); err != nil {
		tb.Fatalf("WebSocket clients helper: %v", err)
	}
	h.expect(tb, want)
}

// BenchmarkIdleConnMemory reports what one idle WebSocket connection,
// subscribed to a board channel and the feed, costs the server in memory and
// goroutines. See the method above. PODIUM_BENCH_HEAPPROFILE=<file> writes
// a heap profile while the connections are open, to see where it goes.
func BenchmarkIdleConnMemory(b *testing.B) {
	if _, err := raiseFDLimit(idleConns + 256); err != nil {
		b.Fatal(err)
	}
	n := startWSBenchNode(b)
	h := startWSHelper(b, "idle", n.addr, idleConns)
	var heap, stack, gor float64
	ops := 0
	b.ReportAllocs()
	for b.Loop() {
		before := readMem()
		h.do(b, "open", idleOpened)
		if got := n.e.Hub().Connections(); got != idleConns {
			b.Fatalf("%d connections on the node, want %d", got, idleConns)
		}
		time.Sleep(200 * time.Millisecond) // let every writer and reader park
		after := readMem()
		if path := os.Getenv("PODIUM_BENCH_HEAPPROFILE"); path != "" && ops == 0 {
			writeHeapProfile(b, path)
		}
		heap += float64(after.heap) - float64(before.heap)
		stack += float64(after.stack) - float64(before.stack)
		gor += float64(after.goroutines - before.goroutines)
		ops++
		h.do(b, "close", idleClosed)
		deadline := time.Now().Add(30 * time.Second)
		for n.e.Hub().Connections() > 0 {
			if time.Now().After(deadline) {
				b.Fatalf("%d connections still open 30s after the clients closed", n.e.Hub().Connections())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	per := float64(ops * idleConns)
	b.ReportMetric((heap+stack)/per, "B/conn")
	b.ReportMetric(heap/per, "heap-B/conn")
	b.ReportMetric(stack/per, "stack-B/conn")
	b.ReportMetric(gor/per, "goroutines/conn")
}

func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

// TestWSClientsHelper is not a test: it is the client process of
// BenchmarkIdleConnMemory and BenchmarkBroadcast, and skips unless started by
// one of them. End of input closes its clients and ends it.
//
//   - mode idle: on "open" it connects the clients, subscribes each to a
//     board channel and the feed, waits for both acknowledgements and the
//     snapshot and prints "wsidle:opened"; on "close" it closes them and
//     prints "wsidle:closed".
//   - mode fanout: it connects the clients subscribed to the feed and prints
//     "wsfan:0", then "wsfan:<k>" each time every client has received k
//     events.
func TestWSClientsHelper(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("the client process of BenchmarkIdleConnMemory and BenchmarkBroadcast; runs only when started by them")
	}
	f := strings.Fields(spec)
	if len(f) != 3 {
		t.Fatalf("%s=%q: want <mode> <addr> <clients>", helperEnv, spec)
	}
	mode, addr := f[0], f[1]
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raiseFDLimit(uint64(n) + 256); err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(os.Stdin)
	var conns []*websocket.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	defer closeAll()
	switch mode {
	case "fanout":
		var total, next atomic.Int64 // next: the total that completes the next message
		var mu sync.Mutex
		done := int64(0)
		next.Store(int64(n))
		add := func(k int64) {
			if total.Add(k) < next.Load() {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for total.Load() >= (done+1)*int64(n) {
				done++
				next.Store((done + 1) * int64(n))
				fmt.Println(fanHelperLine + strconv.FormatInt(done, 10))
			}
		}
		var acked sync.WaitGroup
		acked.Add(n)
		conns = dialAll(t, addr, n, func(_ int, c *websocket.Conn) { countEvents(c, &acked, add) })
		acked.Wait()
		fmt.Println(fanHelperLine + "0")
		for in.Scan() {
		}
	case "idle":
		for in.Scan() {
			switch in.Text() {
			case "open":
				if err := openIdleClients(addr, n, &conns); err != nil {
					fmt.Println(helperError + err.Error())
					return
				}
				fmt.Println(idleOpened)
			case "close":
				closeAll()
				fmt.Println(idleClosed)
			}
		}
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}

// openIdleClients dials n clients subscribed to idleBoard and the feed and
// returns once each has its two acknowledgements and the board snapshot.
// Each client keeps a goroutine reading (and answering pings) until closed.
func openIdleClients(addr string, n int, conns *[]*websocket.Conn) error {
	cs := make([]*websocket.Conn, n)
	var ready sync.WaitGroup
	ready.Add(n)
	var failed atomic.Int64
	idx := make(chan int)
	var dialers sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for range 64 {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for i := range idx {
				c, _, err := wsDialer.Dial("ws://"+addr+"/ws", nil)
				if err == nil {
					err = c.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscribe","channel":"`+idleBoard+`"}`))
				}
				if err == nil {
					err = c.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscribe","channel":"feed"}`))
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					failed.Add(1)
					ready.Done()
					if c != nil {
						c.Close()
					}
					continue
				}
				cs[i] = c
				go func() {
					var acks, snaps int
					signalled := false
					buf := make([]byte, 0, 1024)
					for {
						var err error
						if buf, err = readFrame(c, buf); err != nil {
							if !signalled {
								failed.Add(1)
								ready.Done()
							}
							return
						}
						acks += bytes.Count(buf, markSubscribed)
						snaps += bytes.Count(buf, markSnapshot)
						if !signalled && acks >= 2 && snaps >= 1 {
							signalled = true
							ready.Done()
						}
					}
				}()
			}
		}()
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	dialers.Wait()
	ready.Wait()
	for _, c := range cs {
		if c != nil {
			*conns = append(*conns, c)
		}
	}
	if k := failed.Load(); k > 0 {
		err := errors.New("connection closed before subscribing")
		if p := firstErr.Load(); p != nil {
			err = *p
		}
		return fmt.Errorf("%d of %d clients failed: %w", k, n, err)
	}
	return nil
}
