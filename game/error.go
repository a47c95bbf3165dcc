package game

import (
	"errors"
	"fmt"
)

// Error codes are stable strings that clients may switch on. They map to HTTP
// statuses in exactly one place (server.errorHandler).
const (
	EInvalid      = "invalid"                // malformed or out-of-range input
	EMissingField = "missing_field"          // a required field is absent
	ENotFound     = "not_found"              // the named object does not exist
	EUnknownRep   = "unknown_rep"            // a deal or activity names a rep that does not exist or is inactive
	EConflict     = "conflict"               // the request conflicts with current state (duplicate name…)
	EIdempotency  = "idempotency_key_reused" // same idempotency key, different body
	ECurrency     = "unsupported_currency"
	EUnauthorized = "unauthorized" // no or bad credentials
	EForbidden    = "forbidden"    // credentials lack the permission
	ETooLarge     = "too_large"    // body or batch over the limit
	ERateLimited  = "rate_limited"
	EUnavailable  = "unavailable" // a backing store is down
	EInternal     = "internal"
)

// Error is a domain error: a stable code, a message a person can act on, and
// optionally the input field at fault (JSON path such as "splits[1].share").
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// Errorf returns an *Error with the given code and field.
func Errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// PrefixField returns err with its field put under prefix ("items[2]" and
// "rep_id" make "items[2].rep_id"); other errors are returned as they are.
func PrefixField(err error, prefix string) error {
	if prefix == "" {
		return err
	}
	if ge := AsError(err); ge != nil {
		f := prefix
		if ge.Field != "" {
			f += "." + ge.Field
		}
		return &Error{Code: ge.Code, Message: ge.Message, Field: f}
	}
	return err
}
