package game_test

import (
	"errors"
	"fmt"
	"testing"

	"podium/game"
)

func TestErrorString(t *testing.T) {
	if got, want := game.Errorf(game.EInvalid, "splits[1].share", "share %s must be above 0", "-1").Error(), "invalid: share -1 must be above 0 (splits[1].share)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := game.Errorf(game.ENotFound, "", "rep %d does not exist", 7).Error(), "not_found: rep 7 does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestErrorCode(t *testing.T) {
	domain := game.Errorf(game.EUnknownRep, "rep_id", "rep 9 is inactive")
	wrapped := fmt.Errorf("ingest deal crm/1: %w", domain)
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"nil", nil, ""},
		{"domain", domain, game.EUnknownRep},
		{"wrapped", wrapped, game.EUnknownRep},
		{"joined", errors.Join(errors.New("x"), domain), game.EUnknownRep},
		{"plain", errors.New("disk on fire"), game.EInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := game.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
			}
		})
	}
	if e := game.AsError(wrapped); e != domain {
		t.Errorf("AsError(wrapped) = %v, want the wrapped *Error", e)
	}
	if e := game.AsError(errors.New("plain")); e != nil {
		t.Errorf("AsError(plain) = %v, want nil", e)
	}
}
