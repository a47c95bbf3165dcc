package static

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"podium/internal/browsertest"
)

// TestMyPay drives "My pay" in a real headless Chromium against the fake
// server, under the strict CSP, as a rep on their phone would: not signed
// in, the page sends them to sign in and back; the statement shows the
// total (money as the server's strings, padded and grouped), the
// provisional badge, attainment, the next step, subtotals and each line
// with its sentence, a manual change and a correction of an earlier month
// marked; an earnings push shows a toast and the new total; the what-if
// form shows the projection; a line is questioned with the CSRF token;
// months step back to a locked statement and to one that does not exist;
// and a session ended by the server (4001) sends the page to sign in.
func TestMyPay(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	srv := newFakeServer(t)
	srv.setPublic(false)
	const email, password = "ana@example.com", "a long enough password"
	srv.addUser(fakeUser{Email: email, Name: "Ana Lima", Role: "rep", RepID: 7})
	srv.setPassword(email, password)
	b := newTab(t, browsertest.NewBrowser(t, chrome))

	now := b.thisMonth(srv)
	last, before := shiftMonth(t, now, -1), shiftMonth(t, now, -2)
	srv.setStatement(7, now, statementNow(now, last))
	srv.setStatement(7, last, statementLocked(last))
	srv.setWhatIf(7, whatIf(now, "1,200.00 more to reach 100 %: 12 % on credit above quota (144.00 more pay)"))

	// Not signed in: off to sign in, and back after.
	b.Navigate(srv.URL + "/me.html")
	b.signIn(email, password)
	b.waitFor("the statement", func() bool { return b.visible("statement") })
	if got := b.location(); got != "/me.html" {
		t.Errorf("after signing in the page is %s, want /me.html", got)
	}

	// The statement as the rep reads it.
	expectText(t, b, "#period-label", monthName(t, now))
	expectText(t, b, "#total", "5,280.00")
	expectText(t, b, "#currency", "USD")
	expectText(t, b, "#total-label", "Earned so far")
	if !b.visible("provisional") || b.Text("#provisional") != "Provisional" {
		t.Error("the provisional badge is not shown on a draft statement")
	}
	expectText(t, b, "#status", "Draft")
	expectText(t, b, "#attain-text", "88.00 % of quota · 8,800.00 credited of 10,000.00")
	if got := b.Eval(`document.getElementById('attain-fill').style.getPropertyValue('--fill')`); got != "88%" {
		t.Errorf("attainment bar fill = %q, want 88%%", got)
	}
	if got := b.Eval(`JSON.stringify(Array.from(document.querySelectorAll('#subtotals dt, #subtotals dd'), (e) => e.textContent))`); got !=
		`["Commission","4,030.00","Manual","250.00","Spiff","1,000.00","Of which adjustments","-5.50","Total","5,280.00"]` {
		t.Errorf("subtotals = %s", got)
	}
	expectLines(t, b, []string{
		"1|Commission|+4,030.00|10 % on 8,800.00 up to quota|",
		"2|Spiff|+1,000.00|1,000.00 for the Acme renewal (new logo)|",
		"3|Commission|-255.50|The Globex deal went from 3,000.00 to 555.00: 10 % on -2,445.00|Adjustment,Correction of " + monthName(t, last),
		"4|Manual|+250.00|Bonus for the trade show|Manual change",
	})
	b.waitFor("the next step", func() bool { return b.visible("next-step") })
	expectText(t, b, "#next-text", "1,200.00 more to reach 100 %: 12 % on credit above quota (144.00 more pay).")
	// A question answered earlier shows with its thread and answer.
	expectText(t, b, `#disputes li[data-dispute-id="1"] .resolution`, "Answer: Right: the deal was split 50/50.")
	expectText(t, b, `#disputes li[data-dispute-id="1"] .comments`, "You · "+"Mar 2"+"Why only half?Pay team · Mar 3Checked with your manager.")
	expectText(t, b, "#whatif-label", "If I close this much more this month")
	if !b.EvalBool(`document.getElementById('period-next').disabled`) {
		t.Error("the next-period button is enabled on the current month")
	}

	// Live: the page subscribes to the rep's channel with the session
	// cookie. An earnings push shows a toast, the new total and the next
	// step at once, before the statement is read again (held here), which
	// then brings the new line.
	conn := srv.hub.next(t)
	if conn.who != "user:"+email {
		t.Errorf("the socket was authenticated as %q, want Ana's session", conn.who)
	}
	conn.expectSubscribes(t, map[string]*since{"rep:7": nil})
	b.waitFor("the live mark", func() bool { return b.Eval(`document.getElementById('live').dataset.state`) == "live" })
	const nextAfter = "3,000.00 more to reach 130 %: 15 % on credit above 130 % (450.00 more pay)"
	srv.setStatement(7, now, withLine(statementNow(now, last), "6555", map[string]any{
		"id": 5, "period": now, "posted_in": now, "component": "commission", "kind": "earned", "amount": "1275",
		"currency": "USD", "text": "12 % on 2,000.00 above quota", "at": "2026-03-05T10:00:00Z",
	}))
	srv.setWhatIf(7, whatIf(now, nextAfter))
	release := srv.holdPay()
	conn.send(t, []any{
		map[string]any{"type": "subscribed", "channel": "rep:7"},
		map[string]any{"type": "event", "channel": "rep:7", "offset": 1, "epoch": "e1", "data": map[string]any{
			"kind": "earnings", "period": now, "currency": "USD", "earned": "1275", "total": "6555",
			"provisional": true, "attainment": "108.00 %",
			"lines": []any{map[string]any{"component": "commission", "amount": "1275", "text": "12 % on 2,000.00 above quota"}},
			"next":  map[string]any{"text": nextAfter},
		}},
	})
	b.waitFor("the toast", func() bool { return b.visible("toast") })
	expectText(t, b, "#toast-amount", "+1,275.00 earned")
	expectText(t, b, "#toast-text", "12 % on 2,000.00 above quota.")
	b.waitFor("the new total", func() bool { return b.Text("#total") == "6,555.00" })
	expectText(t, b, "#next-text", nextAfter+".")
	release()
	b.waitFor("the new line", func() bool { return b.EvalBool(`document.querySelector('#lines li[data-line-id="5"]')`) })
	expectText(t, b, "#total", "6,555.00")
	b.waitFor("the next step read again", func() bool { return len(srv.sent("GET", "/api/v1/reps/7/what-if")) == 2 })
	expectText(t, b, "#next-text", nextAfter+".")

	// A replay of the same event (a resume overlap) changes nothing; a
	// "credited" event has the statement read again. The socket keeps
	// their order, so once that read is seen the replay was handled.
	b.click("toast-close")
	b.waitFor("the toast to close", func() bool { return !b.visible("toast") })
	reads := len(srv.sent("GET", "/api/v1/reps/7/statements/"+now))
	conn.send(t, map[string]any{"type": "event", "channel": "rep:7", "offset": 1, "epoch": "e1", "data": map[string]any{
		"kind": "earnings", "period": now, "currency": "USD", "earned": "1275", "total": "6555",
	}})
	conn.send(t, map[string]any{"type": "event", "channel": "rep:7", "offset": 2, "epoch": "e1", "data": map[string]any{
		"kind": "credited", "deal": "crm/42", "deal_name": "Initech", "revenue": "2000.00", "currency": "USD",
	}})
	b.waitFor("the statement read again", func() bool {
		return len(srv.sent("GET", "/api/v1/reps/7/statements/"+now)) > reads
	})
	if b.visible("toast") {
		t.Errorf("a replayed event showed a toast again: %q", b.Text("#toast"))
	}

	// A correction of last month, which is locked, is posted in this one:
	// the toast names the month, and this month's statement is read again.
	reads = len(srv.sent("GET", "/api/v1/reps/7/statements/"+now))
	conn.send(t, map[string]any{"type": "event", "channel": "rep:7", "offset": 3, "epoch": "e1", "data": map[string]any{
		"kind": "earnings", "period": last, "currency": "USD", "earned": "-120", "total": "11880",
		"lines": []any{map[string]any{"component": "commission", "amount": "-120", "text": "Initech was lost"}},
	}})
	b.waitFor("the correction's toast", func() bool { return b.visible("toast") })
	expectText(t, b, "#toast-amount", "-120.00 taken back for "+monthName(t, last))
	b.waitFor("the statement read again", func() bool {
		return len(srv.sent("GET", "/api/v1/reps/7/statements/"+now)) > reads
	})
	expectText(t, b, "#total", "6,555.00")
	b.click("toast-close")

	// What-if: what the rep types is sent as a decimal string; the answer
	// is said in words.
	b.fill("whatif-amount", "five grand")
	b.click("whatif-submit")
	b.waitFor("the amount error", func() bool { return b.visible("whatif-error") })
	expectText(t, b, "#whatif-error", "Type an amount, such as 5000 or 5,000.00.")
	b.fill("whatif-amount", "5,000")
	b.click("whatif-submit")
	b.waitFor("the projection", func() bool { return b.visible("whatif-result") })
	var asked []string
	for _, r := range srv.sent("GET", "/api/v1/reps/7/what-if") {
		asked = append(asked, r.Query)
	}
	if want := "amount=5000&period=" + now; !contains(asked, want) || contains(asked, "amount=five") {
		t.Errorf("what-if queries = %q, want one with %q and none with the bad amount", asked, want)
	}
	expectText(t, b, "#whatif-result .whatif-gain", "If you close 5,000.00 more this month, you earn 600.00 more.")
	expectText(t, b, "#whatif-result .whatif-total", "Your pay this month would be 5,880.00 USD (now 5,280.00 USD).")
	expectText(t, b, "#whatif-result .whatif-lines", "+600.00 12 % on 5,000.00 above quota")

	// Question a line: the form opens under it; the question goes with
	// the CSRF token and shows as open.
	b.Run(chromedp.Click(chromedp.CSS(`#lines li[data-line-id="3"] .ask`)))
	b.waitFor("the question form", func() bool {
		return b.visible("dispute-form") && b.EvalBool(`document.getElementById('dispute-form').closest('li')?.dataset.lineId === '3'`)
	})
	b.click("dispute-submit")
	b.waitFor("the empty-question message", func() bool { return b.visible("dispute-error") })
	b.fill("dispute-comment", "Globex is still 3,000.00 in the CRM.")
	b.click("dispute-submit")
	b.waitFor("the open question", func() bool {
		return b.EvalBool(`document.querySelector('#disputes li[data-status="open"]')`) && !b.visible("dispute-form")
	})
	opened := srv.sent("POST", "/api/v1/reps/7/disputes")
	if len(opened) != 1 || opened[0].Body["line_id"] != float64(3) || opened[0].Body["comment"] != "Globex is still 3,000.00 in the CRM." {
		t.Fatalf("disputes sent = %+v, want one for line 3 with the comment", opened)
	}
	if csrf := srv.csrfOf(email); opened[0].CSRF == "" || opened[0].CSRF != csrf {
		t.Errorf("the dispute went with X-CSRF-Token %q, want the session's %q", opened[0].CSRF, csrf)
	}
	expectText(t, b, `#disputes li[data-status="open"] .dispute-about`, "The Globex deal went from 3,000.00 to 555.00: 10 % on -2,445.00")
	expectText(t, b, `#disputes li[data-status="open"] .comment-body`, "Globex is still 3,000.00 in the CRM.")
	b.waitFor("the line marked as asked", func() bool {
		return b.Text(`#lines li[data-line-id="3"] .tag.asked`) == "Question open" &&
			!b.EvalBool(`document.querySelector('#lines li[data-line-id="3"] .ask')`)
	})

	// Last month is locked: its figures are final, with their fingerprint.
	b.click("period-prev")
	b.waitFor("last month's statement", func() bool { return b.Text("#total") == "12,000.00" })
	if got, want := b.location(), "/me.html?period="+last; got != want {
		t.Errorf("address = %s, want %s", got, want)
	}
	expectText(t, b, "#period-label", monthName(t, last))
	expectText(t, b, "#total-label", "Pay for "+monthName(t, last))
	expectText(t, b, "#status", "Locked")
	if b.visible("provisional") || b.visible("whatif-block") || b.visible("next-step") {
		t.Error("a locked statement shows the provisional badge, the what-if or a next step")
	}
	expectText(t, b, "#hash code", strings.Repeat("ab12", 16))
	// The month before has no plan: say so plainly.
	b.click("period-prev")
	b.waitFor("the no-pay message", func() bool { return b.visible("no-pay") && !b.visible("statement") })
	expectText(t, b, "#no-pay", "No pay to show for "+monthName(t, before)+". There is no plan for you in this period yet.")

	// The sign-in page links here.
	b.Navigate(srv.URL + "/signin.html")
	b.waitFor("the signed-in view", func() bool { return b.visible("signed-in") })
	b.click("pay-link")
	b.waitFor("the statement", func() bool { return b.visible("statement") && b.Text("#total") == "6,555.00" })
	conn = srv.hub.next(t)
	conn.expectSubscribes(t, map[string]*since{"rep:7": nil})

	// The server ends the session and closes the socket with 4001.
	srv.endSessions()
	conn.closeWith(t, 4001, "signed out or access revoked")
	b.waitFor("the sign-in form", func() bool { return b.visible("signin-form") })
	if got, want := b.location(), "/signin.html?next="+url.QueryEscape("/me.html"); got != want {
		t.Errorf("after 4001 sent to %s, want %s", got, want)
	}

	b.expectNoProblems()
}

// TestMyPayNotARep covers who has no pay of their own: an account not
// linked to a rep is told so, and someone who may read others' pay can
// pick a rep (?rep=); a rep on no plan is told so rather than shown 0.00;
// a rep who asks for another rep's pay sees the server's refusal.
func TestMyPayNotARep(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	srv := newFakeServer(t)
	srv.setPublic(false)
	srv.addUser(fakeUser{Email: "fin@example.com", Name: "Fin Ance", Role: "finance"})
	srv.addUser(fakeUser{Email: "rep@example.com", Name: "Bo Rep", Role: "rep", RepID: 8})
	srv.setPassword("fin@example.com", "a long enough password")
	srv.setPassword("rep@example.com", "another long password")
	b := newTab(t, browsertest.NewBrowser(t, chrome))
	now := b.thisMonth(srv)
	srv.setStatement(7, now, statementNow(now, shiftMonth(t, now, -1)))

	b.Navigate(srv.URL + "/me.html")
	b.signIn("fin@example.com", "a long enough password")
	b.waitFor("the not-linked view", func() bool { return b.visible("view-unlinked") })
	expectText(t, b, "#view-unlinked h1", "Your account is not linked to a rep")
	b.fill("pick-rep-id", "7")
	b.Run(chromedp.Click(chromedp.CSS(`#pick-rep button`)))
	b.waitFor("rep 7's statement", func() bool { return b.visible("statement") })
	if got := b.location(); got != "/me.html?rep=7" {
		t.Errorf("address = %s, want /me.html?rep=7", got)
	}
	expectText(t, b, "#who", "Pay of Ana Lima")
	expectText(t, b, "#total", "5,280.00")
	conn := srv.hub.next(t)
	conn.expectSubscribes(t, map[string]*since{"rep:7": nil})
	b.click("account-link")
	b.waitFor("the signed-in view", func() bool { return b.visible("signed-in") })
	b.click("signout")
	b.waitFor("the signed-out note", func() bool { return b.visible("signin-form") })

	// A rep on no plan: the server answers with an empty draft, which
	// the page tells from "nothing earned yet".
	srv.setStatement(8, now, map[string]any{
		"rep_id": 8, "rep_name": "Bo Rep", "period": now, "status": "draft", "provisional": true, "currency": "USD",
		"quota": "0", "credited": "0", "lines": []any{}, "subtotals": map[string]any{}, "adjustments": "0", "total": "0", "disputes": []any{},
	})
	b.Navigate(srv.URL + "/me.html")
	b.signIn("rep@example.com", "another long password")
	b.waitFor("the no-plan message", func() bool { return b.visible("no-pay") })
	expectText(t, b, "#no-pay", "No pay to show for "+monthName(t, now)+". There is no plan for you in this period yet.")
	b.Navigate(srv.URL + "/me.html?rep=7")
	b.waitFor("the refusal", func() bool { return b.visible("no-pay") })
	expectText(t, b, "#no-pay", "You may not read this rep's statement.")

	b.expectNoProblems()
}

// signIn signs in on the sign-in page that "My pay" sent the browser to,
// which must know to come back.
func (b *tab) signIn(email, password string) {
	b.T.Helper()
	b.waitFor("the sign-in form", func() bool { return b.visible("signin-form") })
	if got, want := b.location(), "/signin.html?next="+url.QueryEscape("/me.html"); got != want {
		b.T.Errorf("sent to %s, want %s", got, want)
	}
	b.fill("email", email)
	b.fill("password", password)
	b.click("signin-submit")
}

// thisMonth is the month the page takes for "now": the browser's, asked
// rather than guessed.
func (b *tab) thisMonth(srv *fakeServer) string {
	b.T.Helper()
	b.Navigate(srv.URL + "/favicon.svg")
	return b.Eval(`(() => { const d = new Date(); return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0'); })()`)
}

// ---- fixtures -----------------------------------------------------------------------

// statementNow is a draft statement of period with a correction of last:
// money as the server writes it (trailing zeros dropped).
func statementNow(period, last string) map[string]any {
	return map[string]any{
		"rep_id": 7, "rep_name": "Ana Lima", "period": period, "status": "draft", "provisional": true,
		"currency": "USD", "plan_id": "ae-2026", "plan_version": 1,
		"quota": "10000", "credited": "8800", "attainment": "88.00 %",
		"lines": []any{
			map[string]any{"id": 1, "period": period, "posted_in": period, "component": "commission", "kind": "earned",
				"amount": "4030", "currency": "USD", "text": "10 % on 8,800.00 up to quota", "at": "2026-03-02T09:00:00Z"},
			map[string]any{"id": 2, "period": period, "posted_in": period, "component": "spiff", "kind": "earned",
				"amount": "1000", "currency": "USD", "text": "1,000.00 for the Acme renewal (new logo)", "at": "2026-03-02T09:00:00Z"},
			map[string]any{"id": 3, "period": last, "posted_in": period, "component": "commission", "kind": "adjustment",
				"amount": "-255.5", "currency": "USD", "text": "The Globex deal went from 3,000.00 to 555.00: 10 % on -2,445.00", "at": "2026-03-03T09:00:00Z"},
			map[string]any{"id": 4, "period": period, "posted_in": period, "component": "manual", "kind": "manual",
				"amount": "250", "currency": "USD", "text": "Bonus for the trade show", "at": "2026-03-04T09:00:00Z"},
		},
		"subtotals":   map[string]any{"commission": "4030", "spiff": "1000", "manual": "250"},
		"adjustments": "-5.5",
		"total":       "5280",
		"disputes": []any{map[string]any{
			"id": 1, "rep_id": 7, "period": period, "line_id": 2, "status": "resolved",
			"resolution": "Right: the deal was split 50/50.", "opened_by": "user:1", "opened_at": "2026-03-02T12:00:00Z",
			"comments": []any{
				map[string]any{"by": "user:1", "at": "2026-03-02T12:00:00Z", "body": "Why only half?"},
				map[string]any{"by": "user:9", "at": "2026-03-03T12:00:00Z", "body": "Checked with your manager."},
			},
		}},
	}
}

// whatIf is the what-if answer of rep 7 for 5,000.00 more, with next as
// the text of the next step.
func whatIf(period, next string) map[string]any {
	return map[string]any{
		"rep_id": 7, "period": period, "amount": "5000",
		"projection": map[string]any{
			"extra": "5000", "earned": "5280", "gain": "600", "projected": "5880",
			"lines": []any{map[string]any{
				"component": "commission", "amount": "600", "currency": "USD",
				"trace": map[string]any{"text": "12 % on 5,000.00 above quota"},
			}},
		},
		"next": map[string]any{"at": "100", "threshold": "10000", "distance": "1200", "gain": "144", "text": next},
	}
}

// withLine adds a line to a statement and sets its total.
func withLine(st map[string]any, total string, line map[string]any) map[string]any {
	st["lines"] = append(st["lines"].([]any), line)
	st["total"] = total
	return st
}

func statementLocked(period string) map[string]any {
	return map[string]any{
		"rep_id": 7, "rep_name": "Ana Lima", "period": period, "status": "locked", "provisional": false,
		"currency": "USD", "quota": "10000", "credited": "12500", "attainment": "125.00 %",
		"lines": []any{map[string]any{"id": 9, "period": period, "posted_in": period, "component": "commission",
			"kind": "earned", "amount": "12000", "currency": "USD", "text": "the whole month", "at": "2026-02-27T09:00:00Z"}},
		"subtotals": map[string]any{"commission": "12000"}, "adjustments": "0", "total": "12000",
		"disputes": []any{}, "hash": strings.Repeat("ab12", 16),
	}
}

// shiftMonth moves a "YYYY-MM" period by months.
func shiftMonth(t *testing.T, period string, months int) string {
	t.Helper()
	d, err := time.Parse("2006-01", period)
	if err != nil {
		t.Fatalf("period %q: %v", period, err)
	}
	return d.AddDate(0, months, 0).Format("2006-01")
}

// monthName is how an en-US browser names a "YYYY-MM" period.
func monthName(t *testing.T, period string) string {
	t.Helper()
	d, err := time.Parse("2006-01", period)
	if err != nil {
		t.Fatalf("period %q: %v", period, err)
	}
	return d.Format("January 2006")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func expectText(t *testing.T, b *tab, selector, want string) {
	t.Helper()
	if got := b.Text(selector); got != want {
		t.Errorf("%s = %q, want %q", selector, got, want)
	}
}

// expectLines checks the statement's lines as "id|component|amount|text|tags".
func expectLines(t *testing.T, b *tab, want []string) {
	t.Helper()
	got := b.Eval(`JSON.stringify(Array.from(document.querySelectorAll('#lines > li'), (li) => [
		li.dataset.lineId,
		li.querySelector('.line-component').textContent,
		li.querySelector('.line-amount').textContent,
		li.querySelector('.line-text').textContent,
		Array.from(li.querySelectorAll('.tag'), (e) => e.textContent).join(','),
	].join('|')))`)
	if jsonList(want) != got {
		t.Errorf("lines =\n%s\nwant\n%s", got, jsonList(want))
	}
}

func jsonList(list []string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = jsString(s)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
