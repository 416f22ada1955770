package notify

import (
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/middleware"
)

// Defaults of Config.
const (
	DefaultCooldown     = 300 * time.Second
	DefaultSendingLease = 30 * time.Second
	DefaultGroupWait    = 30 * time.Second
	DefaultPerMinute    = 30
	DefaultPerHour      = 300
	DefaultQueueSize    = 1000
	DefaultMaxKeys      = 10_000
	DefaultTimeout      = 10 * time.Second
	DefaultRetryDelay   = 30 * time.Second
	DefaultMaxAttempts  = 3
	// DefaultPagerDutyPerMinute stays under the Events API's ~120 events
	// per minute per integration key.
	DefaultPagerDutyPerMinute = 100
	// DefaultPagerDutyURL is the Events API v2 endpoint.
	DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

	// MaxTitle and MaxBody bound a notification: a longer title is
	// invalid, a longer body is truncated.
	MaxTitle = 256
	MaxBody  = 4 << 10
	// MaxSource and MaxKey bound the source and the key.
	MaxSource = 128
	MaxKey    = 512
	// MaxSilence is the longest a silence may last.
	MaxSilence = 7 * 24 * time.Hour
)

// Channel types.
const (
	TypeLog       = "log"
	TypeWebhook   = "webhook"
	TypeSlack     = "slack"
	TypePagerDuty = "pagerduty"
)

// Config is the "notifications" section of the registry's JSON tree. Zero
// fields take the defaults named on each. Secrets (webhook URLs, routing
// keys) are never in it: channels name the environment variables that hold
// them.
type Config struct {
	// Service names the service in PagerDuty dedup keys and messages.
	// Default "baldur".
	Service string `json:"service,omitempty"`
	// Disabled suppresses every notification (reason disabled).
	Disabled bool `json:"disabled,omitempty"`
	// Channels are where notifications go. None means one log channel
	// named "log".
	Channels []ChannelConfig `json:"channels,omitempty"`
	// Routes choose the channels of a notification, first match first;
	// a route with Continue lets the next matching route add its channels.
	// None means: log channels take every priority, webhook and Slack
	// channels WARNING and above, PagerDuty CRITICAL.
	Routes []Route `json:"routes,omitempty"`
	// Rate is the global limit on notifications sent.
	Rate Rate `json:"rate,omitzero"`
	// Cooldown is how long a key stays quiet after it was sent. Default
	// 300 s; at most 24 h.
	Cooldown baldur.Duration `json:"cooldown,omitempty"`
	// SendingLease is how long a fleet claim holds a key while its send is
	// in progress; a replica that dies after claiming delays the notice by
	// at most this. Default 30 s; at most Cooldown.
	SendingLease baldur.Duration `json:"sending_lease,omitempty"`
	// GroupWait is the window in which notifications of one source below
	// CRITICAL are grouped: the first is sent, the others of the window go
	// out as one summary with their count and distinct titles. It is also
	// the window of the coalesced CRITICAL message. Default 30 s.
	GroupWait baldur.Duration `json:"group_wait,omitempty"`
	// NoGrouping sends every notification on its own.
	NoGrouping bool `json:"no_grouping,omitempty"`
	// Escalation steps up a key repeated often.
	Escalation Escalation `json:"escalation,omitzero"`
	// EmergencyFloor raises the priority of some sources while the
	// emergency level is high (needs Emergency).
	EmergencyFloor EmergencyFloor `json:"emergency_floor,omitzero"`
	// Inhibit rules hold notifications back while another condition holds.
	Inhibit []InhibitRule `json:"inhibit,omitempty"`
	// Silences are installed at start (bootstrap); operators add more
	// through the admin API. Each needs an expiry, a reason and an actor.
	Silences []Silence `json:"silences,omitempty"`
	// MaxKeys bounds the keys whose cooldown and repeat count are kept;
	// beyond it the oldest expired keys are forgotten, and when none has
	// expired a new key is sent without a cooldown entry (counted). Default
	// 10000.
	MaxKeys int `json:"max_keys,omitempty"`

	// Clock times cooldowns, windows and retries. Nil means the system
	// clock.
	Clock baldur.Clock `json:"-"`
	// Claims shares cooldowns across the fleet (claim-before-send, see
	// redisstore.NotifyClaims). Nil: each replica keeps its own cooldown,
	// so N replicas may each send a key once per cooldown (counted as
	// local cooldowns).
	Claims Claims `json:"-"`
	// Emergency is read for the emergency floor (governance's
	// *Emergency has it). Nil: no floor.
	Emergency interface{ Level() baldur.EmergencyLevel } `json:"-"`
	// Conditions are the named conditions of inhibition rules' When
	// ("kill_switch": see KillSwitchOn). Each must be cheap and safe for
	// concurrent use.
	Conditions map[string]func() bool `json:"-"`
	// Logger receives the audit records and the log channels' lines. Nil
	// means slog.Default().
	Logger *slog.Logger `json:"-"`
	// LookupEnv reads the environment variables channels name. Nil means
	// os.LookupEnv.
	LookupEnv func(string) (string, bool) `json:"-"`
	// Next sends the HTTP channels' requests (under the toolkit's own
	// transport). Nil means http.DefaultTransport.
	Next http.RoundTripper `json:"-"`
}

// Rate is a global token-bucket limit on notifications sent, per minute and
// per hour. CRITICAL notifications over it are coalesced, never dropped.
type Rate struct {
	// PerMinute default 30; PerHour default 300.
	PerMinute int `json:"per_minute,omitempty"`
	PerHour   int `json:"per_hour,omitempty"`
	// Unlimited turns the global limit off.
	Unlimited bool `json:"unlimited,omitempty"`
}

// Escalation steps a key's priority up by one at each step it reaches: the
// number of times the key was notified within Window.
type Escalation struct {
	// Window default 15 min.
	Window baldur.Duration `json:"window,omitempty"`
	// Steps are ascending repeat counts. Default [5, 10].
	Steps []int `json:"steps,omitempty"`
	// Off turns escalation by repetition off.
	Off bool `json:"off,omitempty"`
}

// EmergencyFloor is the least priority of Sources' notifications at
// emergency levels 2 and 3.
type EmergencyFloor struct {
	// Sources default ["governance", "canary", "watchdog"].
	Sources []string `json:"sources,omitempty"`
	// Level2 default HIGH; Level3 default CRITICAL.
	Level2 *Priority `json:"level2,omitempty"`
	Level3 *Priority `json:"level3,omitempty"`
}

// InhibitRule holds back notifications matching Target while a condition
// holds: the named condition When is true, or a notification matching
// Source was sent within For and not resolved. With EqualSource, a source
// notification inhibits only targets of its own source.
type InhibitRule struct {
	When        string          `json:"when,omitempty"`
	Source      *Matcher        `json:"source,omitempty"`
	Target      Matcher         `json:"target"`
	EqualSource bool            `json:"equal_source,omitempty"`
	For         baldur.Duration `json:"for,omitempty"` // default 1h
}

// ChannelConfig is one channel.
type ChannelConfig struct {
	// Name is unique among channels (metrics and routes use it).
	Name string `json:"name"`
	// Type is "log", "webhook", "slack" or "pagerduty".
	Type string `json:"type"`
	// URLEnv names the environment variable holding the URL of a webhook
	// or Slack channel (required for them), or of PagerDuty's endpoint
	// (default DefaultPagerDutyURL). The URL never appears in logs,
	// errors or metrics.
	URLEnv string `json:"url_env,omitempty"`
	// RoutingKeyEnv names the variable holding PagerDuty's integration key
	// (required for pagerduty).
	RoutingKeyEnv string `json:"routing_key_env,omitempty"`
	// QueueSize bounds the channel's queue. Default 1000; when full the
	// oldest non-CRITICAL entry is dropped (counted).
	QueueSize int `json:"queue_size,omitempty"`
	// PerMinute limits the channel's sends of non-CRITICAL notifications.
	// Default: 100 for pagerduty, unlimited for the others.
	PerMinute int `json:"per_minute,omitempty"`
	// Timeout bounds one send. Default 10 s.
	Timeout baldur.Duration `json:"timeout,omitempty"`
	// MaxAttempts bounds the tries of one message (failures and breaker
	// or cooldown rejections). Default 3.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// RetryDelay is the wait before another try when the failure gave no
	// Retry-After. Default 30 s.
	RetryDelay baldur.Duration `json:"retry_delay,omitempty"`
	// Breaker guards the endpoint. Zero gives blast's defaults.
	Breaker blast.BreakerConfig `json:"breaker,omitzero"`
	// Cooldown is the backoff after 429/503 answers.
	Cooldown middleware.Cooldown `json:"-"`
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Service == "" {
		d.Service = "baldur"
	}
	if d.Cooldown == 0 {
		d.Cooldown = baldur.Duration(DefaultCooldown)
	}
	if d.SendingLease == 0 {
		d.SendingLease = baldur.Duration(min(DefaultSendingLease, d.Cooldown.D()))
	}
	if d.GroupWait == 0 {
		d.GroupWait = baldur.Duration(DefaultGroupWait)
	}
	if d.Rate.PerMinute == 0 {
		d.Rate.PerMinute = DefaultPerMinute
	}
	if d.Rate.PerHour == 0 {
		d.Rate.PerHour = DefaultPerHour
	}
	if d.Escalation.Window == 0 {
		d.Escalation.Window = baldur.Duration(15 * time.Minute)
	}
	if d.Escalation.Steps == nil {
		d.Escalation.Steps = []int{5, 10}
	}
	if d.EmergencyFloor.Sources == nil {
		d.EmergencyFloor.Sources = []string{"governance", "canary", "watchdog"}
	}
	if d.EmergencyFloor.Level2 == nil {
		p := PriorityHigh
		d.EmergencyFloor.Level2 = &p
	}
	if d.EmergencyFloor.Level3 == nil {
		p := PriorityCritical
		d.EmergencyFloor.Level3 = &p
	}
	if d.MaxKeys == 0 {
		d.MaxKeys = DefaultMaxKeys
	}
	if d.Clock == nil {
		d.Clock = baldur.SystemClock()
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.LookupEnv == nil {
		d.LookupEnv = os.LookupEnv
	}
	if len(d.Channels) == 0 {
		d.Channels = []ChannelConfig{{Name: "log", Type: TypeLog}}
	}
	chs := make([]ChannelConfig, len(d.Channels))
	for i, ch := range d.Channels {
		if ch.QueueSize == 0 {
			ch.QueueSize = DefaultQueueSize
		}
		if ch.PerMinute == 0 && ch.Type == TypePagerDuty {
			ch.PerMinute = DefaultPagerDutyPerMinute
		}
		if ch.Timeout == 0 {
			ch.Timeout = baldur.Duration(DefaultTimeout)
		}
		if ch.MaxAttempts == 0 {
			ch.MaxAttempts = DefaultMaxAttempts
		}
		if ch.RetryDelay == 0 {
			ch.RetryDelay = baldur.Duration(DefaultRetryDelay)
		}
		chs[i] = ch
	}
	d.Channels = chs
	return d
}

// Validate checks c; the error is a *baldur.ConfigError naming the field by
// its JSON name. It never reads the environment: New does.
func (c *Config) Validate() error {
	durs := []struct {
		name string
		v    baldur.Duration
		max  time.Duration
	}{{"cooldown", c.Cooldown, 24 * time.Hour}, {"sending_lease", c.SendingLease, 24 * time.Hour},
		{"group_wait", c.GroupWait, time.Hour}, {"escalation.window", c.Escalation.Window, 24 * time.Hour}}
	for _, d := range durs {
		if d.v < 0 || d.v.D() > d.max {
			return &baldur.ConfigError{Field: d.name, Value: d.v.String(), Reason: "must be between 0 (default) and " + d.max.String()}
		}
	}
	if c.SendingLease > 0 && c.Cooldown > 0 && c.SendingLease > c.Cooldown {
		return &baldur.ConfigError{Field: "sending_lease", Value: c.SendingLease.String(), Reason: "must not exceed cooldown"}
	}
	if c.Rate.PerMinute < 0 || c.Rate.PerMinute > 1e6 {
		return &baldur.ConfigError{Field: "rate.per_minute", Value: strconv.Itoa(c.Rate.PerMinute), Reason: "must be between 0 (default 30) and 1000000"}
	}
	if c.Rate.PerHour < 0 || c.Rate.PerHour > 1e8 {
		return &baldur.ConfigError{Field: "rate.per_hour", Value: strconv.Itoa(c.Rate.PerHour), Reason: "must be between 0 (default 300) and 100000000"}
	}
	prev := 0
	for i, s := range c.Escalation.Steps {
		if s <= prev || s > 1e6 {
			return &baldur.ConfigError{Field: "escalation.steps[" + strconv.Itoa(i) + "]", Value: strconv.Itoa(s), Reason: "must be ascending and positive"}
		}
		prev = s
	}
	for _, p := range []struct {
		name string
		v    *Priority
	}{{"emergency_floor.level2", c.EmergencyFloor.Level2}, {"emergency_floor.level3", c.EmergencyFloor.Level3}} {
		if p.v != nil && !p.v.Valid() {
			return &baldur.ConfigError{Field: p.name, Value: p.v.String(), Reason: "must be a priority"}
		}
	}
	if c.MaxKeys < 0 || c.MaxKeys > 1<<24 {
		return &baldur.ConfigError{Field: "max_keys", Value: strconv.Itoa(c.MaxKeys), Reason: "must be between 0 (default 10000) and 16777216"}
	}
	if len(c.Channels) > 64 {
		return &baldur.ConfigError{Field: "channels", Value: strconv.Itoa(len(c.Channels)), Reason: "at most 64 channels"}
	}
	names := map[string]bool{}
	for i, ch := range c.Channels {
		at := "channels[" + strconv.Itoa(i) + "]"
		if err := ch.validate(at); err != nil {
			return err
		}
		if names[ch.Name] {
			return &baldur.ConfigError{Field: at + ".name", Value: ch.Name, Reason: "is used by another channel"}
		}
		names[ch.Name] = true
	}
	if len(c.Channels) == 0 {
		names["log"] = true
	}
	for i, r := range c.Routes {
		at := "routes[" + strconv.Itoa(i) + "]"
		if err := r.Match.validate(at + ".match"); err != nil {
			return err
		}
		for j, n := range r.Channels {
			if !names[n] {
				return &baldur.ConfigError{Field: at + ".channels[" + strconv.Itoa(j) + "]", Value: n, Reason: "names no channel"}
			}
		}
	}
	for i, r := range c.Inhibit {
		at := "inhibit[" + strconv.Itoa(i) + "]"
		if (r.When == "") == (r.Source == nil) {
			return &baldur.ConfigError{Field: at, Reason: "needs exactly one of when and source"}
		}
		if r.When != "" && c.Conditions != nil && c.Conditions[r.When] == nil {
			return &baldur.ConfigError{Field: at + ".when", Value: r.When, Reason: "names no condition"}
		}
		if r.Source != nil {
			if err := r.Source.validate(at + ".source"); err != nil {
				return err
			}
		}
		if err := r.Target.validate(at + ".target"); err != nil {
			return err
		}
		if r.For < 0 || r.For.D() > MaxSilence {
			return &baldur.ConfigError{Field: at + ".for", Value: r.For.String(), Reason: "must be between 0 (default 1h) and 168h"}
		}
	}
	for i, s := range c.Silences {
		if err := s.validate("silences["+strconv.Itoa(i)+"]", time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

func (ch *ChannelConfig) validate(at string) error {
	if ch.Name == "" || len(ch.Name) > 64 || !isWord(ch.Name) {
		return &baldur.ConfigError{Field: at + ".name", Value: ch.Name, Reason: "must be 1-64 letters, digits, '_' or '-'"}
	}
	switch ch.Type {
	case TypeLog:
	case TypeWebhook, TypeSlack:
		if ch.URLEnv == "" {
			return &baldur.ConfigError{Field: at + ".url_env", Reason: "is required for " + ch.Type}
		}
	case TypePagerDuty:
		if ch.RoutingKeyEnv == "" {
			return &baldur.ConfigError{Field: at + ".routing_key_env", Reason: "is required for pagerduty"}
		}
	default:
		return &baldur.ConfigError{Field: at + ".type", Value: ch.Type, Reason: `must be "log", "webhook", "slack" or "pagerduty"`}
	}
	if ch.QueueSize < 0 || ch.QueueSize > 1e6 {
		return &baldur.ConfigError{Field: at + ".queue_size", Value: strconv.Itoa(ch.QueueSize), Reason: "must be between 0 (default 1000) and 1000000"}
	}
	if ch.PerMinute < 0 || ch.PerMinute > 1e6 {
		return &baldur.ConfigError{Field: at + ".per_minute", Value: strconv.Itoa(ch.PerMinute), Reason: "must be between 0 (default) and 1000000"}
	}
	if ch.MaxAttempts < 0 || ch.MaxAttempts > 100 {
		return &baldur.ConfigError{Field: at + ".max_attempts", Value: strconv.Itoa(ch.MaxAttempts), Reason: "must be between 0 (default 3) and 100"}
	}
	for _, d := range []struct {
		name string
		v    baldur.Duration
	}{{"timeout", ch.Timeout}, {"retry_delay", ch.RetryDelay}} {
		if d.v < 0 || d.v.D() > time.Hour {
			return &baldur.ConfigError{Field: at + "." + d.name, Value: d.v.String(), Reason: "must be between 0 (default) and 1h"}
		}
	}
	if err := ch.Cooldown.Validate(); err != nil {
		return err
	}
	return nil
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
