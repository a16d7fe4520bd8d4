package fsm

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goccy/go-json"
	"golang.org/x/crypto/bcrypt"

	"github.com/plexushq/plexus/cluster/state"
)

// CommandType names a command; it is the dispatch key of Apply.
type CommandType string

// Command types. Never rename or reuse one: old log entries and snapshots keep them forever.
const (
	TypeCreateApp         CommandType = "create_app"
	TypeUpdateApp         CommandType = "update_app"
	TypeDeleteApp         CommandType = "delete_app"
	TypeRotateCredentials CommandType = "rotate_credentials"
	TypeCreateUser        CommandType = "create_user"
	TypeDeleteUser        CommandType = "delete_user"
	TypePutTopicDef       CommandType = "put_topic_def"
	TypeDeleteTopicDef    CommandType = "delete_topic_def"
	TypePutStreamDef      CommandType = "put_stream_def"
	TypeDeleteStreamDef   CommandType = "delete_stream_def"
	TypePutFeedGroup      CommandType = "put_feed_group"
	TypeDeleteFeedGroup   CommandType = "delete_feed_group"
	TypeRenewLease        CommandType = "renew_lease"
	TypeRevokeLease       CommandType = "revoke_lease"
	TypeReleaseLease      CommandType = "release_lease"
)

// Command is the envelope of every Raft log entry of this FSM. RequestID identifies the logical request across
// retries; At is the proposer's wall-clock time in Unix nanoseconds and is the only time Apply uses.
type Command struct {
	Type      CommandType     `json:"type"`
	RequestID string          `json:"request_id"`
	At        int64           `json:"at"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// Time returns At as a UTC time.
func (c Command) Time() time.Time { return time.Unix(0, c.At).UTC() }

// Encode returns the log entry bytes of c.
func (c Command) Encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode %s command: %w", c.Type, err)
	}
	return b, nil
}

// DecodeCommand parses a log entry produced by Command.Encode.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return Command{}, fmt.Errorf("fsm: decode command: %w", err)
	}
	if c.Type == "" || c.RequestID == "" {
		return Command{}, fmt.Errorf("fsm: decode command: type and request id are required")
	}
	return c, nil
}

// Payloads of the commands. They are exported so callers (and the admin API) can build or inspect commands.
type (
	// CreateAppPayload carries everything generated for a new app; CreatedAt is the command time.
	CreateAppPayload struct {
		ID          string            `json:"id"`
		Name        string            `json:"name"`
		Settings    json.RawMessage   `json:"settings,omitempty"`
		Credentials state.Credentials `json:"credentials"`
	}
	// UpdateAppPayload changes the non-nil fields of an app.
	UpdateAppPayload struct {
		ID string `json:"id"`
		state.AppUpdate
	}
	// IDPayload names an app or user by id.
	IDPayload struct {
		ID string `json:"id"`
	}
	// RotateCredentialsPayload carries the new value of each rotated kind.
	RotateCredentialsPayload struct {
		AppID  string                   `json:"app_id"`
		Values map[state.KeyKind]string `json:"values"`
	}
	// CreateUserPayload carries a new user; the password is already bcrypt-hashed. CreatedAt is the command time.
	CreateUserPayload struct {
		ID           string   `json:"id"`
		Email        string   `json:"email"`
		PasswordHash string   `json:"password_hash"`
		Role         string   `json:"role"`
		Apps         []string `json:"apps,omitempty"`
	}
	// DefPayload is a topic, stream or feed-group definition.
	DefPayload struct {
		AppID  string          `json:"app_id"`
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config,omitempty"`
	}
	// RenewLeasePayload extends a member's lease to ExpiresAt (Unix nanoseconds).
	RenewLeasePayload struct {
		MemberID  string `json:"member_id"`
		ServerID  string `json:"server_id"`
		ExpiresAt int64  `json:"expires_at"`
	}
	// MemberPayload names a member id.
	MemberPayload struct {
		MemberID string `json:"member_id"`
	}
)

// LogValue keeps the generated secrets of a create command out of logs.
func (p CreateAppPayload) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID), slog.String("name", p.Name), slog.Any("credentials", p.Credentials))
}

// LogValue keeps the new secret values of a rotate command out of logs.
func (p RotateCredentialsPayload) LogValue() slog.Value {
	kinds := make([]string, 0, len(p.Values))
	for _, k := range state.AllKeyKinds {
		if _, ok := p.Values[k]; ok {
			kinds = append(kinds, string(k))
		}
	}
	return slog.GroupValue(slog.String("app_id", p.AppID), slog.Any("kinds", kinds))
}

// LogValue keeps the password hash of a create-user command out of logs.
func (p CreateUserPayload) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID), slog.String("email", p.Email), slog.String("role", p.Role))
}

// LogValue shows a command without its payload, which may carry secrets.
func (c Command) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", string(c.Type)), slog.String("request_id", c.RequestID),
		slog.Int64("at", c.At))
}

// NewRequestID returns a random request id.
func NewRequestID() string { return rand.Text() }

// NewID returns a random lower-case id for apps and users (80 bits).
func NewID() string { return strings.ToLower(rand.Text()[:16]) }

// NewCredentialValue returns a fresh random value for credential kind k (130 bits behind a kind prefix).
func NewCredentialValue(k state.KeyKind) string {
	prefix := map[state.KeyKind]string{state.KindKey: "key_", state.KindSecret: "sec_",
		state.KindSubscriberKey: "sub_", state.KindPublisherKey: "pub_", state.KindAppToken: "tok_"}[k]
	return prefix + strings.ToLower(rand.Text())
}

// NewCommand wraps payload in an envelope with a fresh request id and time now.
func NewCommand(t CommandType, payload any, now time.Time) (Command, error) {
	var raw json.RawMessage
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return Command{}, fmt.Errorf("fsm: encode %s payload: %w", t, err)
		}
		raw = b
	}
	return Command{Type: t, RequestID: NewRequestID(), At: now.UnixNano(), Payload: raw}, nil
}

func mustCommand(t CommandType, payload any, now time.Time) Command {
	c, err := NewCommand(t, payload, now)
	if err != nil {
		panic(err) // payloads without raw JSON always encode
	}
	return c
}

func checkRaw(r json.RawMessage) error {
	if len(r) != 0 && !json.Valid(r) {
		return fmt.Errorf("fsm: invalid json value")
	}
	return nil
}

// NewCreateApp builds a CreateApp command with a generated app id and five generated credential values.
func NewCreateApp(name string, now time.Time) Command {
	c := state.Credentials{}
	p := CreateAppPayload{ID: NewID(), Name: name}
	c.AppID = p.ID
	c.Key = NewCredentialValue(state.KindKey)
	c.Secret = NewCredentialValue(state.KindSecret)
	c.SubscriberKey = NewCredentialValue(state.KindSubscriberKey)
	c.PublisherKey = NewCredentialValue(state.KindPublisherKey)
	c.AppToken = NewCredentialValue(state.KindAppToken)
	p.Credentials = c
	return mustCommand(TypeCreateApp, p, now)
}

// NewUpdateApp builds an UpdateApp command.
func NewUpdateApp(id string, u state.AppUpdate, now time.Time) (Command, error) {
	if err := checkRaw(u.Settings); err != nil {
		return Command{}, err
	}
	return NewCommand(TypeUpdateApp, UpdateAppPayload{ID: id, AppUpdate: u}, now)
}

// NewDeleteApp builds a DeleteApp command.
func NewDeleteApp(id string, now time.Time) Command {
	return mustCommand(TypeDeleteApp, IDPayload{ID: id}, now)
}

// NewRotateCredentials builds a RotateCredentials command with fresh values for each kind in kinds.
func NewRotateCredentials(appID string, kinds []state.KeyKind, now time.Time) (Command, error) {
	if len(kinds) == 0 {
		return Command{}, fmt.Errorf("fsm: no credential kinds to rotate")
	}
	vals := make(map[state.KeyKind]string, len(kinds))
	for _, k := range kinds {
		if !k.Valid() {
			return Command{}, fmt.Errorf("fsm: unknown credential kind %q", k)
		}
		vals[k] = NewCredentialValue(k)
	}
	return NewCommand(TypeRotateCredentials, RotateCredentialsPayload{AppID: appID, Values: vals}, now)
}

// NewCreateUser builds a CreateUser command, hashing password with bcrypt at the default cost.
func NewCreateUser(email, password, role string, apps []string, now time.Time) (Command, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return Command{}, fmt.Errorf("fsm: hash password: %w", err)
	}
	return NewCommand(TypeCreateUser, CreateUserPayload{ID: NewID(), Email: email, PasswordHash: string(h),
		Role: role, Apps: apps}, now)
}

// CheckPassword reports whether password matches a bcrypt hash made by NewCreateUser.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// NewDeleteUser builds a DeleteUser command.
func NewDeleteUser(id string, now time.Time) Command {
	return mustCommand(TypeDeleteUser, IDPayload{ID: id}, now)
}

func newPutDef(t CommandType, appID, name string, cfg json.RawMessage, now time.Time) (Command, error) {
	if err := checkRaw(cfg); err != nil {
		return Command{}, err
	}
	return NewCommand(t, DefPayload{AppID: appID, Name: name, Config: cfg}, now)
}

// NewPutTopicDef builds a PutTopicDef command.
func NewPutTopicDef(d state.TopicDef, now time.Time) (Command, error) {
	return newPutDef(TypePutTopicDef, d.AppID, d.Name, d.Config, now)
}

// NewDeleteTopicDef builds a DeleteTopicDef command.
func NewDeleteTopicDef(appID, name string, now time.Time) Command {
	return mustCommand(TypeDeleteTopicDef, DefPayload{AppID: appID, Name: name}, now)
}

// NewPutStreamDef builds a PutStreamDef command.
func NewPutStreamDef(d state.StreamDef, now time.Time) (Command, error) {
	return newPutDef(TypePutStreamDef, d.AppID, d.Name, d.Config, now)
}

// NewDeleteStreamDef builds a DeleteStreamDef command.
func NewDeleteStreamDef(appID, name string, now time.Time) Command {
	return mustCommand(TypeDeleteStreamDef, DefPayload{AppID: appID, Name: name}, now)
}

// NewPutFeedGroup builds a PutFeedGroup command.
func NewPutFeedGroup(d state.FeedGroup, now time.Time) (Command, error) {
	return newPutDef(TypePutFeedGroup, d.AppID, d.Name, d.Config, now)
}

// NewDeleteFeedGroup builds a DeleteFeedGroup command.
func NewDeleteFeedGroup(appID, name string, now time.Time) Command {
	return mustCommand(TypeDeleteFeedGroup, DefPayload{AppID: appID, Name: name}, now)
}

// NewRenewLease builds a RenewLease command extending memberID's lease to expiresAt.
func NewRenewLease(memberID, serverID string, expiresAt, now time.Time) Command {
	return mustCommand(TypeRenewLease, RenewLeasePayload{MemberID: memberID, ServerID: serverID,
		ExpiresAt: expiresAt.UnixNano()}, now)
}

// NewRevokeLease builds a RevokeLease command (the leader's reaction to a member declared dead).
func NewRevokeLease(memberID string, now time.Time) Command {
	return mustCommand(TypeRevokeLease, MemberPayload{MemberID: memberID}, now)
}

// NewReleaseLease builds a ReleaseLease command (a member's graceful shutdown).
func NewReleaseLease(memberID string, now time.Time) Command {
	return mustCommand(TypeReleaseLease, MemberPayload{MemberID: memberID}, now)
}
