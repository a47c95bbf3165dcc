package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"podium/game"
)

// sameUser reports whether two users are equal, times compared as
// instants.
func sameUser(a, b game.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Name == b.Name && a.Role == b.Role && a.RepID == b.RepID &&
		slices.Equal(a.Teams, b.Teams) && a.Disabled == b.Disabled && a.CreatedAt.Equal(b.CreatedAt) &&
		a.PasswordHash == b.PasswordHash && a.FailedLogins == b.FailedLogins && a.LockedUntil.Equal(b.LockedUntil)
}

func wantUser(t testing.TB, got, want game.User) {
	t.Helper()
	if !sameUser(got, want) {
		t.Fatalf("user = %+v\nwant   %+v", got, want)
	}
}

func wantUsers(t testing.TB, got []game.User, want ...game.User) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("users = %+v, want %+v", got, want)
	}
	for i := range want {
		wantUser(t, got[i], want[i])
	}
}

// seedDirectory creates two teams and two reps.
func seedDirectory(t testing.TB, s Store) (teams []game.Team, reps []game.Rep) {
	t.Helper()
	c := ctx(t)
	for _, name := range []string{"East", "West"} {
		teams = append(teams, try(s.CreateTeam(c, game.Team{Name: name, Active: true}, admin)).must(t))
	}
	for _, name := range []string{"Ann", "Bob"} {
		reps = append(reps, try(s.CreateRep(c, game.Rep{Name: name, TeamID: teams[0].ID, Active: true}, admin)).must(t))
	}
	return teams, reps
}

func testUsers(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	teams, reps := seedDirectory(t, s)
	if n := try(s.CountUsers(c)).must(t); n != 0 {
		t.Fatalf("CountUsers on an empty store = %d", n)
	}
	if got := try(s.ListUsers(c)).must(t); len(got) != 0 {
		t.Fatalf("ListUsers on an empty store = %v", got)
	}
	before := time.Now().Truncate(time.Microsecond)
	mia := try(s.CreateUser(c, game.User{Email: "mia@example.com", Name: "Mia", Role: game.RoleManager,
		Teams: []int64{teams[1].ID, teams[0].ID, teams[1].ID}}, admin)).must(t)
	if mia.ID <= 0 || !slices.Equal(mia.Teams, []int64{teams[0].ID, teams[1].ID}) ||
		mia.CreatedAt.Before(before) || mia.CreatedAt.After(time.Now()) || mia.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreateUser = %+v: want an id, the teams sorted once each, created now", mia)
	}
	ann := try(s.CreateUser(c, game.User{Email: "ann@example.com", Name: "Ann", Role: game.RoleRep, RepID: reps[0].ID,
		PasswordHash: "$argon2id$v=19$secret-hash", CreatedAt: t0}, "operator")).must(t)
	wantUser(t, ann, game.User{ID: ann.ID, Email: "ann@example.com", Name: "Ann", Role: game.RoleRep, RepID: reps[0].ID,
		PasswordHash: "$argon2id$v=19$secret-hash", CreatedAt: t0})
	fin := try(s.CreateUser(c, game.User{Email: "fin@example.com", Name: "Fin", Role: game.RoleFinance, Disabled: true}, admin)).must(t)

	wantUser(t, try(s.User(c, mia.ID)).must(t), mia)
	wantUser(t, try(s.UserByEmail(c, "ann@example.com")).must(t), ann)
	wantUsers(t, try(s.ListUsers(c)).must(t), mia, ann, fin)
	if n := try(s.CountUsers(c)).must(t); n != 3 {
		t.Fatalf("CountUsers = %d, want 3", n)
	}

	// UpdateUser changes what an admin edits and leaves the password and
	// sign-in state alone.
	if err := s.SetLoginState(c, ann.ID, 2, time.Time{}); err != nil {
		t.Fatal(err)
	}
	annBefore := try(s.User(c, ann.ID)).must(t)
	annAfter := annBefore
	annAfter.Email, annAfter.Name, annAfter.Role, annAfter.RepID, annAfter.Teams =
		"ann.lee@example.com", "Ann Lee", game.RoleManager, 0, []int64{teams[1].ID}
	got := try(s.UpdateUser(c, game.User{ID: ann.ID, Email: annAfter.Email, Name: annAfter.Name, Role: annAfter.Role,
		Teams: annAfter.Teams, PasswordHash: "ignored", FailedLogins: 9}, admin)).must(t)
	wantUser(t, got, annAfter)
	wantUser(t, try(s.User(c, ann.ID)).must(t), annAfter)
	miaBefore := mia
	mia.Role, mia.Teams, mia.Disabled = game.RoleAdmin, nil, true
	wantUser(t, try(s.UpdateUser(c, mia, admin)).must(t), mia)
	// The rep Ann left is free for another user.
	bob := try(s.CreateUser(c, game.User{Email: "bob@example.com", Name: "Bob", Role: game.RoleRep, RepID: reps[0].ID}, admin)).must(t)
	wantUsers(t, try(s.ListUsers(c)).must(t), mia, annAfter, fin, bob)

	wantLog(t, s, []entry{
		{admin, "team.create", obj("team", teams[0].ID), nil, teams[0]},
		{admin, "team.create", obj("team", teams[1].ID), nil, teams[1]},
		{admin, "rep.create", obj("rep", reps[0].ID), nil, reps[0]},
		{admin, "rep.create", obj("rep", reps[1].ID), nil, reps[1]},
		{admin, "user.create", obj("user", miaBefore.ID), nil, miaBefore},
		{"operator", "user.create", obj("user", ann.ID), nil, ann},
		{admin, "user.create", obj("user", fin.ID), nil, fin},
		{admin, "user.update", obj("user", ann.ID), annBefore, annAfter},
		{admin, "user.update", obj("user", mia.ID), miaBefore, mia},
		{admin, "user.create", obj("user", bob.ID), nil, bob},
	})
	noSecrets(t, s, "$argon2id$v=19$secret-hash", "password")
}

func testUserErrors(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	teams, reps := seedDirectory(t, s)
	ann := try(s.CreateUser(c, game.User{Email: "ann@example.com", Name: "Ann", Role: game.RoleRep, RepID: reps[0].ID}, admin)).must(t)
	bob := try(s.CreateUser(c, game.User{Email: "bob@example.com", Name: "Bob", Role: game.RoleRep, RepID: reps[1].ID}, admin)).must(t)
	entries := len(auditLog(t, s))
	for _, tc := range []struct {
		name        string
		user        game.User
		code, field string
	}{
		{"email taken", game.User{Email: "ann@example.com", Name: "X", Role: game.RoleAdmin}, game.EConflict, "email"},
		{"unknown rep", game.User{Email: "x@example.com", Name: "X", Role: game.RoleRep, RepID: 999}, game.EInvalid, "rep_id"},
		{"rep linked to another user", game.User{Email: "x@example.com", Name: "X", Role: game.RoleRep, RepID: reps[0].ID}, game.EConflict, "rep_id"},
		{"unknown team", game.User{Email: "x@example.com", Name: "X", Role: game.RoleManager, Teams: []int64{teams[0].ID, 999}}, game.EInvalid, "teams"},
	} {
		t.Run("create/"+tc.name, func(t *testing.T) {
			_, err := s.CreateUser(c, tc.user, admin)
			wantCode(t, err, tc.code, tc.field)
		})
		t.Run("update/"+tc.name, func(t *testing.T) {
			u := tc.user
			u.ID = bob.ID
			_, err := s.UpdateUser(c, u, admin)
			wantCode(t, err, tc.code, tc.field)
		})
	}
	_, err := s.UpdateUser(c, game.User{ID: 999, Email: "x@example.com", Name: "X", Role: game.RoleAdmin}, admin)
	wantCode(t, err, game.ENotFound, "id")
	_, err = s.User(c, 999)
	wantCode(t, err, game.ENotFound, "id")
	_, err = s.UserByEmail(c, "nobody@example.com")
	wantCode(t, err, game.ENotFound, "email")
	if n := len(auditLog(t, s)); n != entries {
		t.Fatalf("%d audit entries after refused changes, want %d", n, entries)
	}
	// A user keeps its own email and rep.
	bob.Name = "Bob Builder"
	wantUser(t, try(s.UpdateUser(c, bob, admin)).must(t), bob)
	wantUsers(t, try(s.ListUsers(c)).must(t), ann, bob)
}

func testPasswords(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	u := try(s.CreateUser(c, game.User{Email: "ann@example.com", Name: "Ann", Role: game.RoleAdmin}, admin)).must(t)
	if u.PasswordHash != "" {
		t.Fatalf("new user has password hash %q", u.PasswordHash)
	}
	if err := s.SetPassword(c, u.ID, "hash-one", game.UserActor(u.ID)); err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = "hash-one"
	wantUser(t, try(s.User(c, u.ID)).must(t), u)

	locked := t0.Add(15 * time.Minute)
	if err := s.SetLoginState(c, u.ID, 4, locked); err != nil {
		t.Fatal(err)
	}
	u.FailedLogins, u.LockedUntil = 4, locked
	wantUser(t, try(s.User(c, u.ID)).must(t), u)
	if err := s.SetLoginState(c, u.ID, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	u.FailedLogins, u.LockedUntil = 1, time.Time{}
	wantUser(t, try(s.UserByEmail(c, u.Email)).must(t), u)
	if err := s.SetLoginState(c, u.ID, 0, locked); err != nil {
		t.Fatal(err)
	}
	// A new password clears the failures and the lock.
	if err := s.SetPassword(c, u.ID, "hash-two", admin); err != nil {
		t.Fatal(err)
	}
	u.PasswordHash, u.FailedLogins, u.LockedUntil = "hash-two", 0, time.Time{}
	wantUser(t, try(s.User(c, u.ID)).must(t), u)

	wantCode(t, s.SetPassword(c, 999, "x", admin), game.ENotFound, "id")
	wantCode(t, s.SetLoginState(c, 999, 1, locked), game.ENotFound, "id")
	// Sign-in state is not audited; passwords are, without the hash.
	wantTail(t, s,
		entry{admin, "user.create", obj("user", u.ID), nil, func() game.User { v := u; v.PasswordHash = ""; return v }()},
		entry{game.UserActor(u.ID), "user.password", obj("user", u.ID), nil, nil},
		entry{admin, "user.password", obj("user", u.ID), nil, nil},
	)
	noSecrets(t, s, "hash-one", "hash-two")
	verify(t, s)
}

func testSessions(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	teams, _ := seedDirectory(t, s)
	mia := try(s.CreateUser(c, game.User{Email: "mia@example.com", Name: "Mia", Role: game.RoleManager, Teams: []int64{teams[1].ID, teams[0].ID}}, admin)).must(t)
	fin := try(s.CreateUser(c, game.User{Email: "fin@example.com", Name: "Fin", Role: game.RoleFinance}, admin)).must(t)
	sess := game.Session{Hash: "session-hash-1", UserID: mia.ID, CSRF: "csrf-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(c, sess); err != nil {
		t.Fatal(err)
	}
	wantSession := func(hash string, now time.Time, want game.Session, user game.User) {
		t.Helper()
		got, u, err := s.Session(c, hash, now)
		if err != nil {
			t.Fatalf("Session(%s, %v): %v", hash, now, err)
		}
		if got.Hash != want.Hash || got.UserID != want.UserID || got.CSRF != want.CSRF ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("Session = %+v, want %+v", got, want)
		}
		wantUser(t, u, user)
	}
	noSession := func(hash string, now time.Time) {
		t.Helper()
		_, _, err := s.Session(c, hash, now)
		wantCode(t, err, game.ENotFound, "")
	}
	wantSession("session-hash-1", t0.Add(time.Minute), sess, mia)
	wantSession("session-hash-1", sess.ExpiresAt.Add(-time.Microsecond), sess, mia)
	noSession("session-hash-1", sess.ExpiresAt) // expired at its expiry
	noSession("unknown", t0)

	wantCode(t, s.CreateSession(c, sess), game.EConflict, "hash")
	wantCode(t, s.CreateSession(c, game.Session{Hash: "h", UserID: 999, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}), game.EInvalid, "user_id")

	// A disabled user's sessions no longer work.
	fs := game.Session{Hash: "session-hash-fin", UserID: fin.ID, CSRF: "csrf-fin", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(c, fs); err != nil {
		t.Fatal(err)
	}
	wantSession(fs.Hash, t0, fs, fin)
	fin.Disabled = true
	try(s.UpdateUser(c, fin, admin)).must(t)
	noSession(fs.Hash, t0)

	// Creating a session clears the user's expired ones.
	old := game.Session{Hash: "session-hash-old", UserID: mia.ID, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := s.CreateSession(c, old); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.CreateSession(c, game.Session{Hash: fmt.Sprintf("session-hash-%d", i+2), UserID: mia.ID, CSRF: "c",
			CreatedAt: t0.Add(2 * time.Minute), ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	noSession(old.Hash, t0)

	if err := s.DeleteSession(c, "session-hash-1"); err != nil {
		t.Fatal(err)
	}
	noSession("session-hash-1", t0)
	if err := s.DeleteSession(c, "unknown"); err != nil {
		t.Fatalf("DeleteSession(unknown) = %v, want nil", err)
	}
	if n := try(s.DeleteSessions(c, mia.ID, admin)).must(t); n != 3 {
		t.Fatalf("DeleteSessions = %d, want 3", n)
	}
	noSession("session-hash-2", t0)
	if n := try(s.DeleteSessions(c, mia.ID, game.UserActor(mia.ID))).must(t); n != 0 {
		t.Fatalf("DeleteSessions again = %d, want 0", n)
	}
	_, err := s.DeleteSessions(c, 999, admin)
	wantCode(t, err, game.ENotFound, "id")
	type ended struct {
		Sessions int `json:"sessions"`
	}
	wantTail(t, s,
		entry{admin, "user.signout_all", obj("user", mia.ID), nil, ended{3}},
		entry{game.UserActor(mia.ID), "user.signout_all", obj("user", mia.ID), nil, ended{0}},
	)
	noSecrets(t, s, "session-hash", "csrf")
	verify(t, s)
}

func testResets(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	u := try(s.CreateUser(c, game.User{Email: "ann@example.com", Name: "Ann", Role: game.RoleAdmin}, admin)).must(t)
	// CreateReset deletes the links expired by the store's clock: these
	// expire in the real future.
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := game.Reset{Hash: "reset-hash-1", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateReset(c, r, admin); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateReset(c, r, admin), game.EConflict, "hash")
	wantCode(t, s.CreateReset(c, game.Reset{Hash: "x", UserID: 999, ExpiresAt: now.Add(time.Hour)}, admin), game.ENotFound, "user_id")
	if id := try(s.UseReset(c, r.Hash, now)).must(t); id != u.ID {
		t.Fatalf("UseReset = %d, want %d", id, u.ID)
	}
	_, err := s.UseReset(c, r.Hash, now)
	wantCode(t, err, game.ENotFound, "")
	_, err = s.UseReset(c, "unknown", now)
	wantCode(t, err, game.ENotFound, "")

	// An expired link fails, and is gone afterwards.
	r2 := game.Reset{Hash: "reset-hash-2", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateReset(c, r2, "operator"); err != nil {
		t.Fatal(err)
	}
	_, err = s.UseReset(c, r2.Hash, r2.ExpiresAt)
	wantCode(t, err, game.ENotFound, "")
	_, err = s.UseReset(c, r2.Hash, now)
	wantCode(t, err, game.ENotFound, "")

	type issued struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	wantTail(t, s,
		entry{admin, "user.reset_issued", obj("user", u.ID), nil, issued{r.ExpiresAt}},
		entry{"operator", "user.reset_issued", obj("user", u.ID), nil, issued{r2.ExpiresAt}},
	)
	noSecrets(t, s, "reset-hash")
	verify(t, s)
}

// testResetOnce uses one reset link from many goroutines at once: exactly
// one gets it.
func testResetOnce(t *testing.T, db DB) {
	const tries = 16
	c, s := ctx(t), db.Store
	u := try(s.CreateUser(c, game.User{Email: "ann@example.com", Name: "Ann", Role: game.RoleAdmin}, admin)).must(t)
	now := time.Now()
	if err := s.CreateReset(c, game.Reset{Hash: "once", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}, admin); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		other []error
	)
	start := make(chan struct{})
	for range tries {
		wg.Go(func() {
			<-start
			id, err := s.UseReset(c, "once", now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && id == u.ID:
				wins++
			case game.ErrorCode(err) != game.ENotFound:
				other = append(other, fmt.Errorf("UseReset = %d, %w", id, err))
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(other...); err != nil {
		t.Fatal(err)
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent uses of one reset link succeeded, want 1", wins, tries)
	}
}

func sameToken(a, b game.Token) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Name == b.Name && slices.Equal(a.Scopes, b.Scopes) &&
		slices.Equal(a.Channels, b.Channels) && a.Prefix == b.Prefix && a.CreatedBy == b.CreatedBy &&
		a.CreatedAt.Equal(b.CreatedAt) && a.RevokedAt.Equal(b.RevokedAt) && a.Hash == b.Hash
}

func wantToken(t testing.TB, got, want game.Token) {
	t.Helper()
	if !sameToken(got, want) {
		t.Fatalf("token = %+v\nwant    %+v", got, want)
	}
}

func testTokens(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	before := time.Now().Truncate(time.Microsecond)
	api := try(s.CreateToken(c, game.Token{Kind: game.TokenAPI, Name: "Salesforce sync",
		Scopes: []string{"deals:write", "activities:write"}, Prefix: "pod_ab", Hash: "token-hash-1",
		CreatedBy: string(admin)}, admin)).must(t)
	if api.ID <= 0 || api.CreatedAt.Before(before) || api.CreatedAt.After(time.Now()) || api.Revoked() {
		t.Fatalf("CreateToken = %+v: want an id, created now, not revoked", api)
	}
	tv := try(s.CreateToken(c, game.Token{Kind: game.TokenDisplay, Name: "TV by the door",
		Channels: []string{"feed", "board:revenue:month:company"}, Prefix: "pod_cd", Hash: "token-hash-2",
		CreatedBy: "operator", CreatedAt: t0}, "operator")).must(t)
	if !tv.CreatedAt.Equal(t0) {
		t.Fatalf("CreatedAt = %v, want %v", tv.CreatedAt, t0)
	}
	_, err := s.CreateToken(c, game.Token{Kind: game.TokenAPI, Name: "Copy", Scopes: []string{"x"}, Prefix: "p", Hash: "token-hash-1"}, admin)
	wantCode(t, err, game.EConflict, "hash")

	wantToken(t, try(s.TokenByHash(c, "token-hash-2")).must(t), tv)
	_, err = s.TokenByHash(c, "unknown")
	wantCode(t, err, game.ENotFound, "")
	list := try(s.ListTokens(c)).must(t)
	if len(list) != 2 {
		t.Fatalf("ListTokens = %+v, want 2", list)
	}
	wantToken(t, list[0], api)
	wantToken(t, list[1], tv)

	revoked := api
	revoked.RevokedAt = t0.Add(time.Hour)
	wantToken(t, try(s.RevokeToken(c, api.ID, t0.Add(time.Hour), admin)).must(t), revoked)
	// A second revoke keeps the first time.
	wantToken(t, try(s.RevokeToken(c, api.ID, t0.Add(2*time.Hour), "operator")).must(t), revoked)
	wantToken(t, try(s.TokenByHash(c, "token-hash-1")).must(t), revoked)
	_, err = s.RevokeToken(c, 999, t0, admin)
	wantCode(t, err, game.ENotFound, "id")

	wantLog(t, s, []entry{
		{admin, "token.create", obj("token", api.ID), nil, api},
		{"operator", "token.create", obj("token", tv.ID), nil, tv},
		{admin, "token.revoke", obj("token", api.ID), api, revoked},
		{"operator", "token.revoke", obj("token", api.ID), revoked, revoked},
	})
	noSecrets(t, s, "token-hash")
}
