package redis

import (
	"bytes"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"podium/internal/testsvc"
)

// encodeMessage mirrors the payload publishScript builds in Lua.
func encodeMessage(off uint64, epoch, channel string, data []byte) string {
	return "1|" + strconv.FormatUint(off, 10) + "|" + strconv.Itoa(len(epoch)) + "|" + strconv.Itoa(len(channel)) + "|" + epoch + channel + string(data)
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(1, "k3x9", "board:revenue:month:2026-11:company", []byte(`{"a":1}`)))
	f.Add(encodeMessage(18446744073709551615, "", "", nil))
	f.Add("1|5|2|3|abxyz")
	f.Add("1|5|9|3|ab")
	f.Add("1|5|18446744073709551615|18446744073709551615|x")
	f.Add("2|1|0|0|")
	f.Add("1||0|0|")
	f.Fuzz(func(t *testing.T, p string) {
		m, err := decodeMessage(p)
		if err != nil {
			return
		}
		if again := encodeMessage(m.Offset, m.Epoch, m.Channel, m.Data); len(again) > len(p) {
			t.Fatalf("decoded %q into more than it holds: %+v", p, m)
		}
	})
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, c := range []struct {
		off            uint64
		epoch, channel string
		data           []byte
	}{
		{1, "abc", "board:x", []byte("hello")},
		{42, "", "rep:1", nil},
		{7, "e|p", "c|h", []byte("|1|2|")},
		{1 << 40, "z", "{ch}", []byte{0, 1, 2, 255}},
	} {
		m, err := decodeMessage(encodeMessage(c.off, c.epoch, c.channel, c.data))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if m.Offset != c.off || m.Epoch != c.epoch || m.Channel != c.channel || !bytes.Equal(m.Data, c.data) {
			t.Errorf("round trip of %+v = %+v", c, m)
		}
	}
}

// TestRunScriptsFallsBackToEval runs a script Redis has never seen, so the
// pipelined EVALSHA fails with NOSCRIPT and the EVAL retry must answer,
// without flushing the shared server's script cache.
func TestRunScriptsFallsBackToEval(t *testing.T) {
	c, prefix := testsvc.Redis(t)
	src := "-- " + prefix + "\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
	s := goredis.NewScript(src)
	key := prefix + "{n}"
	calls := []scriptCall{{keys: []string{key}, args: []any{"2"}}, {keys: []string{key}, args: []any{"3"}}}
	cmds, err := runScripts(t.Context(), c, s, calls)
	if err != nil {
		t.Fatalf("runScripts: %v", err)
	}
	if v, _ := cmds[1].Int64(); v != 5 {
		t.Errorf("second call returned %d, want 5", v)
	}
	// Now cached: EVALSHA succeeds directly.
	cmds, err = runScripts(t.Context(), c, s, calls[:1])
	if err != nil {
		t.Fatalf("runScripts: %v", err)
	}
	if v, _ := cmds[0].Int64(); v != 7 {
		t.Errorf("third call returned %d, want 7", v)
	}
}
