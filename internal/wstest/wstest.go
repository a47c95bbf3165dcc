// Package wstest helps tests read Podium's live protocol.
package wstest

import "encoding/json"

// Messages splits one WebSocket frame into its messages: the server sends a
// single JSON object or, when several were queued, a JSON array of them.
// A frame that is not JSON yields no message.
func Messages(frame []byte) []map[string]any {
	if len(frame) > 0 && frame[0] == '[' {
		var batch []map[string]any
		_ = json.Unmarshal(frame, &batch)
		return batch
	}
	var m map[string]any
	if json.Unmarshal(frame, &m) != nil {
		return nil
	}
	return []map[string]any{m}
}
