package game

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// An AuditEntry records one change: who, what, when, before and after.
//
// Entries form a hash chain: Hash covers the entry's fields, the digest of
// its before and after, and the previous entry's Hash, so changing, removing
// or reordering any stored entry breaks every hash after it.
//
// Erasing a person (privacy law) may blank the before and after of entries
// about them. The chain still verifies, since it covers Digest rather than
// the payloads; such an entry is marked Redacted and must be listed by a
// later "person.erase" entry, so marking an entry redacted by hand is caught
// too.
type AuditEntry struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    Actor           `json:"actor"`
	Action   string          `json:"action"` // "team.create", "user.update", "token.revoke"…
	Object   string          `json:"object"` // "team:3", "user:7"
	Before   json.RawMessage `json:"before,omitempty"`
	After    json.RawMessage `json:"after,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Digest   string          `json:"digest"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
	Redacted bool            `json:"redacted,omitempty"`
}

// ActionErase is the action of a person's erasure; its After lists the
// entries it redacted.
const ActionErase = "person.erase"

// Erasure is the After of an ActionErase entry.
type Erasure struct {
	Rep      int64   `json:"rep"`
	User     int64   `json:"user,omitempty"`
	Redacted []int64 `json:"redacted"` // seqs of the entries whose payloads were blanked
}

// PayloadDigest is the hex SHA-256 of an entry's before and after.
func PayloadDigest(before, after []byte) string {
	h := sha256.New()
	h.Write([]byte(strconv.Itoa(len(before))))
	h.Write([]byte{0})
	h.Write(before)
	h.Write(after)
	return hex.EncodeToString(h.Sum(nil))
}

// Seal fills Digest, PrevHash and Hash of e, the entry after prev (an empty
// prev for the first entry).
func (e *AuditEntry) Seal(prevHash string) {
	e.Digest = PayloadDigest(e.Before, e.After)
	e.PrevHash = prevHash
	e.Hash = e.chainHash()
}

func (e *AuditEntry) chainHash() string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(e.Seq, 10),
		strconv.FormatInt(e.At.UnixMicro(), 10),
		string(e.Actor), e.Action, e.Object, e.Reason, e.Digest, e.PrevHash,
	} {
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditVerifier checks a chain entry by entry, in Seq order, so a log of any
// length is verified without holding it in memory.
type AuditVerifier struct {
	prev     string
	lastSeq  int64
	n        int64
	redacted map[int64]bool // redacted entries not yet covered by an erasure
}

// Add checks the next entry. The first error names the entry where the
// chain breaks; later calls are meaningless after one.
func (v *AuditVerifier) Add(e AuditEntry) error {
	if v.n > 0 && e.Seq <= v.lastSeq {
		return fmt.Errorf("entry %d comes after entry %d: the log is out of order", e.Seq, v.lastSeq)
	}
	if e.PrevHash != v.prev {
		return fmt.Errorf("entry %d: it does not point at the entry before it (an entry was removed, inserted or changed)", e.Seq)
	}
	if e.Redacted {
		if v.redacted == nil {
			v.redacted = map[int64]bool{}
		}
		v.redacted[e.Seq] = true
	} else if d := PayloadDigest(e.Before, e.After); d != e.Digest {
		return fmt.Errorf("entry %d: its before or after was changed", e.Seq)
	}
	if e.chainHash() != e.Hash {
		return fmt.Errorf("entry %d: its fields were changed", e.Seq)
	}
	if e.Action == ActionErase && !e.Redacted {
		var er Erasure
		if err := json.Unmarshal(e.After, &er); err != nil {
			return fmt.Errorf("entry %d: erasure record unreadable: %v", e.Seq, err)
		}
		for _, s := range er.Redacted {
			delete(v.redacted, s)
		}
	}
	v.prev, v.lastSeq = e.Hash, e.Seq
	v.n++
	return nil
}

// Done reports the entries checked, or an error when an entry is marked
// redacted without an erasure that says so.
func (v *AuditVerifier) Done() (int64, error) {
	for s := range v.redacted {
		return v.n, fmt.Errorf("entry %d is marked redacted but no erasure lists it", s)
	}
	return v.n, nil
}
