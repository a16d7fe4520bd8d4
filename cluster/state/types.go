package state

import (
	"errors"
	"log/slog"
	"time"

	"github.com/goccy/go-json"
)

// Sentinel errors returned by Store mutations. The FSM maps them to result codes.
var (
	// ErrNotFound means the named app, user, definition or lease does not exist.
	ErrNotFound = errors.New("state: not found")
	// ErrConflict means a uniqueness rule (app name, user email, credential value, id) would be broken.
	ErrConflict = errors.New("state: conflict")
	// ErrInvalid means the mutation's arguments are malformed (empty id or name, unknown role or key kind).
	ErrInvalid = errors.New("state: invalid argument")
	// ErrLeaseRevoked means the member id's lease was revoked or released; the member must rejoin with a new id.
	ErrLeaseRevoked = errors.New("state: lease revoked")
)

// KeyKind names one of an app's credential values.
type KeyKind string

// The credential kinds of an app. Every kind is unique across all apps and indexed for AppByKey.
const (
	KindKey           KeyKind = "key"
	KindSecret        KeyKind = "secret"
	KindSubscriberKey KeyKind = "subscriber_key"
	KindPublisherKey  KeyKind = "publisher_key"
	KindAppToken      KeyKind = "app_token"
)

// AllKeyKinds lists every KeyKind in a fixed order.
var AllKeyKinds = []KeyKind{KindKey, KindSecret, KindSubscriberKey, KindPublisherKey, KindAppToken}

// Valid reports whether k is one of the defined kinds.
func (k KeyKind) Valid() bool {
	switch k {
	case KindKey, KindSecret, KindSubscriberKey, KindPublisherKey, KindAppToken:
		return true
	}
	return false
}

// Secret reports whether values of this kind are secrets that must never be logged.
func (k KeyKind) Secret() bool { return k == KindSecret || k == KindAppToken }

// Roles of management users.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// App is a tenant of the cluster. Names are unique and compared case-sensitively ("Chat" and "chat" are two apps):
// the admin API shows names exactly as created, and case folding rules would be one more thing to replicate.
type App struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	CreatedAt time.Time       `json:"created_at"`
	Disabled  bool            `json:"disabled,omitempty"`
	Settings  json.RawMessage `json:"settings,omitempty"`
}

// Credentials are an app's current credential values plus the history of values replaced by rotation.
// Only current values authenticate; History is kept so operators can see what was revoked and when.
type Credentials struct {
	AppID         string              `json:"app_id"`
	Key           string              `json:"key"`
	Secret        string              `json:"secret"`
	SubscriberKey string              `json:"subscriber_key"`
	PublisherKey  string              `json:"publisher_key"`
	AppToken      string              `json:"app_token"`
	History       []RevokedCredential `json:"history,omitempty"`
}

// RevokedCredential is a credential value replaced by a rotation.
type RevokedCredential struct {
	Kind      KeyKind   `json:"kind"`
	Value     string    `json:"value"`
	RevokedAt time.Time `json:"revoked_at"`
}

// Value returns the current value of kind k ("" for an unknown kind).
func (c Credentials) Value(k KeyKind) string {
	switch k {
	case KindKey:
		return c.Key
	case KindSecret:
		return c.Secret
	case KindSubscriberKey:
		return c.SubscriberKey
	case KindPublisherKey:
		return c.PublisherKey
	case KindAppToken:
		return c.AppToken
	}
	return ""
}

func (c *Credentials) set(k KeyKind, v string) {
	switch k {
	case KindKey:
		c.Key = v
	case KindSecret:
		c.Secret = v
	case KindSubscriberKey:
		c.SubscriberKey = v
	case KindPublisherKey:
		c.PublisherKey = v
	case KindAppToken:
		c.AppToken = v
	}
}

const redacted = "[redacted]"

// LogValue implements slog.LogValuer: public keys are shown, secrets and revoked values are not.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("app_id", c.AppID),
		slog.String("key", c.Key),
		slog.String("secret", redacted),
		slog.String("subscriber_key", c.SubscriberKey),
		slog.String("publisher_key", c.PublisherKey),
		slog.String("app_token", redacted),
		slog.Int("revoked", len(c.History)),
	)
}

// LogValue implements slog.LogValuer so a revoked secret is never logged.
func (r RevokedCredential) LogValue() slog.Value {
	v := r.Value
	if r.Kind.Secret() {
		v = redacted
	}
	return slog.GroupValue(slog.String("kind", string(r.Kind)), slog.String("value", v),
		slog.Time("revoked_at", r.RevokedAt))
}

// User is a management (admin API / dashboard) user. Emails are unique compared case-insensitively
// (strings.ToLower), and stored as given. PasswordHash is a bcrypt hash computed by the proposer.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"password_hash"`
	Role         string    `json:"role"`
	Apps         []string  `json:"apps,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// LogValue implements slog.LogValuer: the password hash is never logged.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", u.ID),
		slog.String("email", u.Email),
		slog.String("password_hash", redacted),
		slog.String("role", u.Role),
		slog.Any("apps", u.Apps),
	)
}

// TopicDef is a topic definition of an app. Config is opaque to this package.
type TopicDef struct {
	AppID  string          `json:"app_id"`
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config,omitempty"`
}

// StreamDef is an app-stream definition of an app. Config is opaque to this package.
type StreamDef struct {
	AppID  string          `json:"app_id"`
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config,omitempty"`
}

// FeedGroup holds the settings of one feed group of an app. Config is opaque to this package.
type FeedGroup struct {
	AppID  string          `json:"app_id"`
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config,omitempty"`
}

// Lease is a node's Raft-committed liveness lease. MemberID is the per-process member id (fresh per start);
// ServerID is the stable Raft server id. A revoked (or released) member id can never renew again.
type Lease struct {
	MemberID  string    `json:"member_id"`
	ServerID  string    `json:"server_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	Revoked   bool      `json:"revoked,omitempty"`
	Released  bool      `json:"released,omitempty"`
}

// Valid reports whether the lease is unrevoked and unexpired at now (by the wall clock of the caller; the holder
// itself uses the monotonic rule of raftnode.LeaseTracker instead).
func (l Lease) Valid(now time.Time) bool { return !l.Revoked && now.Before(l.ExpiresAt) }
