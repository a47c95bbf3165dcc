package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ErrPolicyUnknown is returned (wrapped) by CheckNoEviction when Redis
// refuses CONFIG GET, as managed services often do. The policy may be fine;
// the caller should log a warning and go on.
var ErrPolicyUnknown = errors.New("redis maxmemory-policy unknown (CONFIG GET not permitted)")

// CheckNoEviction returns nil when Redis runs with maxmemory-policy
// noeviction, an error naming the policy when it does not (an evicting Redis
// drops board and offset keys silently, corrupting boards until the next
// rebuild), and an error wrapping ErrPolicyUnknown when Redis refuses to say.
// On a cluster every master is checked.
func CheckNoEviction(ctx context.Context, c goredis.UniversalClient) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return checkNoEviction(ctx, c)
		})
	}
	return checkNoEviction(ctx, c)
}

func checkNoEviction(ctx context.Context, c goredis.Cmdable) error {
	m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		if notPermitted(err) {
			return fmt.Errorf("%w: %v", ErrPolicyUnknown, err)
		}
		return fmt.Errorf("redis config get maxmemory-policy: %w", err)
	}
	policy, ok := m["maxmemory-policy"]
	if !ok {
		return fmt.Errorf("%w: no maxmemory-policy in CONFIG GET reply", ErrPolicyUnknown)
	}
	if policy != "noeviction" {
		return fmt.Errorf("redis maxmemory-policy is %q, want noeviction: an evicting Redis silently drops board keys", policy)
	}
	return nil
}

// notPermitted reports whether err is Redis refusing CONFIG itself: the
// command renamed away or disabled (ElastiCache, Azure: "unknown command"),
// an ACL without +config ("NOPERM"), or a service that does not support it.
// Network errors, timeouts and transient replies (LOADING, CLUSTERDOWN) are
// not: they are real failures the caller should see.
func notPermitted(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := strings.ToLower(rerr.Error())
	for _, s := range []string{"noperm", "unknown command", "unknown subcommand", "not allowed", "not permitted", "not supported", "disabled", "no permissions"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
