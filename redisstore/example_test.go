package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/baldur-go/baldur/redisstore"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
)

// A client the stores accept: deadlines from the context, no retries, a
// pool that fails fast, and the scripts loaded on every new connection.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialTimeout:           200 * time.Millisecond,
		PoolTimeout:           10 * time.Millisecond,
		OnConnect:             redisstore.OnConnect(nil, redisstore.GCRAScript),
	})
	defer client.Close()

	ctx := context.Background()
	b, err := redisstore.New(ctx, client, redisstore.Config{})
	if err != nil {
		log.Fatal(err) // *baldur.ConfigError or *redisstore.UnavailableError
	}
	if _, err := b.CheckServer(ctx, redisstore.ServerPolicy{}); err != nil {
		log.Fatal(err) // an evicting maxmemory-policy
	}
	fmt.Println(b.Guard("governance", redisstore.ClassControl).Timeout())
}

func ExampleGCRA_Take() {
	var b *redisstore.Backend // from redisstore.New
	if b == nil {
		return
	}
	gcra, err := redisstore.NewGCRA(b.Guard("throttle:api", redisstore.ClassThrottle), redisstore.GCRAConfig{})
	if err != nil {
		log.Fatal(err)
	}
	limit, _ := throttle.NewLimit(100, 20) // 100/s, bursts of 20
	res, err := gcra.Take(context.Background(), "bd:t:api:tenant-42", time.Time{}, limit, 0)
	switch {
	case errors.Is(err, redisstore.ErrUnavailable):
		// Redis is slow, down or the breaker is open: apply the fail mode.
	case err != nil:
		log.Fatal(err)
	case !res.Decision.Allowed:
		fmt.Println("retry after", res.Decision.RetryAfter)
	}
}
