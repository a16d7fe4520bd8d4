package state

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-json"
)

// MaxHistory bounds each app's credential rotation history; the oldest entries are dropped first.
const MaxHistory = 100

// leaseTombstoneTTL is how long a revoked or released lease record is kept after its expiry time before it is
// pruned (by command time, so pruning is deterministic). Its holder self-fences long before that.
const leaseTombstoneTTL = 24 * time.Hour

type defKey struct{ appID, name string }

type keyRef struct {
	appID string
	kind  KeyKind
}

// Store is the replicated metadata. Mutating methods are called only by the FSM, one at a time, and must stay
// deterministic. Read methods may be called concurrently from any goroutine; they return deep copies.
// The zero Store is not usable; call New.
type Store struct {
	mu sync.RWMutex

	apps     map[string]App         // by app id
	appNames map[string]string      // name -> app id (case-sensitive)
	creds    map[string]Credentials // by app id
	keys     map[string]keyRef      // every current credential value -> app and kind
	users    map[string]User        // by user id
	emails   map[string]string      // lower-cased email -> user id
	topics   map[defKey]TopicDef
	streams  map[defKey]StreamDef
	feeds    map[defKey]FeedGroup
	leases   map[string]Lease // by member id
}

// New returns an empty Store.
func New() *Store {
	s := &Store{}
	s.reset()
	return s
}

func (s *Store) reset() {
	s.apps = map[string]App{}
	s.appNames = map[string]string{}
	s.creds = map[string]Credentials{}
	s.keys = map[string]keyRef{}
	s.users = map[string]User{}
	s.emails = map[string]string{}
	s.topics = map[defKey]TopicDef{}
	s.streams = map[defKey]StreamDef{}
	s.feeds = map[defKey]FeedGroup{}
	s.leases = map[string]Lease{}
}

// ---- copies and normalisation ----

func cloneRaw(r json.RawMessage) json.RawMessage {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return bytes.Clone(r)
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func cloneApp(a App) App {
	a.Settings = cloneRaw(a.Settings)
	a.CreatedAt = a.CreatedAt.UTC()
	return a
}

func cloneCreds(c Credentials) Credentials {
	if len(c.History) == 0 {
		c.History = nil
	} else {
		c.History = slices.Clone(c.History)
	}
	return c
}

func cloneUser(u User) User {
	u.Apps = cloneStrings(u.Apps)
	u.CreatedAt = u.CreatedAt.UTC()
	return u
}

// ---- apps and credentials ----

// CreateApp adds app with its credentials. It fails with ErrConflict if the id, the name or any credential value
// is already taken, and with ErrInvalid if a field is empty.
func (s *Store) CreateApp(app App, c Credentials) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if app.ID == "" || app.Name == "" {
		return fmt.Errorf("%w: app id and name are required", ErrInvalid)
	}
	if _, ok := s.apps[app.ID]; ok {
		return fmt.Errorf("%w: app id %q exists", ErrConflict, app.ID)
	}
	if _, ok := s.appNames[app.Name]; ok {
		return fmt.Errorf("%w: app name %q exists", ErrConflict, app.Name)
	}
	c.AppID = app.ID
	seen := map[string]bool{}
	for _, k := range AllKeyKinds {
		v := c.Value(k)
		if v == "" {
			return fmt.Errorf("%w: credential %s is empty", ErrInvalid, k)
		}
		if _, ok := s.keys[v]; ok || seen[v] {
			return fmt.Errorf("%w: credential %s is not unique", ErrConflict, k)
		}
		seen[v] = true
	}
	s.apps[app.ID] = cloneApp(app)
	s.appNames[app.Name] = app.ID
	c = cloneCreds(c)
	s.creds[app.ID] = c
	s.indexCreds(c)
	return nil
}

func (s *Store) indexCreds(c Credentials) {
	for _, k := range AllKeyKinds {
		s.keys[c.Value(k)] = keyRef{appID: c.AppID, kind: k}
	}
}

func (s *Store) unindexCreds(c Credentials) {
	for _, k := range AllKeyKinds {
		if ref, ok := s.keys[c.Value(k)]; ok && ref.appID == c.AppID {
			delete(s.keys, c.Value(k))
		}
	}
}

// AppUpdate names the fields UpdateApp changes; nil means unchanged.
type AppUpdate struct {
	Name     *string         `json:"name,omitempty"`
	Settings json.RawMessage `json:"settings,omitempty"`
	Disabled *bool           `json:"disabled,omitempty"`
}

// UpdateApp changes the fields set in u and returns the updated app.
func (s *Store) UpdateApp(id string, u AppUpdate) (App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[id]
	if !ok {
		return App{}, fmt.Errorf("%w: app %q", ErrNotFound, id)
	}
	if u.Name != nil && *u.Name != a.Name {
		if *u.Name == "" {
			return App{}, fmt.Errorf("%w: app name is required", ErrInvalid)
		}
		if _, taken := s.appNames[*u.Name]; taken {
			return App{}, fmt.Errorf("%w: app name %q exists", ErrConflict, *u.Name)
		}
		delete(s.appNames, a.Name)
		a.Name = *u.Name
		s.appNames[a.Name] = id
	}
	if u.Settings != nil {
		a.Settings = cloneRaw(u.Settings)
	}
	if u.Disabled != nil {
		a.Disabled = *u.Disabled
	}
	s.apps[id] = a
	return cloneApp(a), nil
}

// DeleteApp removes the app, its credentials (and their index entries), its topic, stream and feed-group
// definitions, and its id from every user's app list.
func (s *Store) DeleteApp(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[id]
	if !ok {
		return fmt.Errorf("%w: app %q", ErrNotFound, id)
	}
	delete(s.apps, id)
	delete(s.appNames, a.Name)
	if c, ok := s.creds[id]; ok {
		s.unindexCreds(c)
		delete(s.creds, id)
	}
	for k := range s.topics {
		if k.appID == id {
			delete(s.topics, k)
		}
	}
	for k := range s.streams {
		if k.appID == id {
			delete(s.streams, k)
		}
	}
	for k := range s.feeds {
		if k.appID == id {
			delete(s.feeds, k)
		}
	}
	for uid, u := range s.users {
		if i := slices.Index(u.Apps, id); i >= 0 {
			u.Apps = cloneStrings(slices.Delete(slices.Clone(u.Apps), i, i+1))
			s.users[uid] = u
		}
	}
	return nil
}

// RotateCredentials replaces the current values of the kinds in values with the given new values; the old values
// move to History as revoked at `at` and stop authenticating at once.
func (s *Store) RotateCredentials(appID string, values map[KeyKind]string, at time.Time) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[appID]
	if !ok {
		return Credentials{}, fmt.Errorf("%w: app %q", ErrNotFound, appID)
	}
	if len(values) == 0 {
		return Credentials{}, fmt.Errorf("%w: no credential kinds to rotate", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, k := range AllKeyKinds { // fixed order: deterministic
		v, ok := values[k]
		if !ok {
			continue
		}
		if v == "" {
			return Credentials{}, fmt.Errorf("%w: credential %s is empty", ErrInvalid, k)
		}
		if _, taken := s.keys[v]; taken || seen[v] {
			return Credentials{}, fmt.Errorf("%w: credential %s is not unique", ErrConflict, k)
		}
		seen[v] = true
	}
	for k := range values {
		if !k.Valid() {
			return Credentials{}, fmt.Errorf("%w: unknown credential kind %q", ErrInvalid, k)
		}
	}
	c = cloneCreds(c)
	for _, k := range AllKeyKinds {
		v, ok := values[k]
		if !ok {
			continue
		}
		old := c.Value(k)
		delete(s.keys, old)
		c.History = append(c.History, RevokedCredential{Kind: k, Value: old, RevokedAt: at.UTC()})
		c.set(k, v)
		s.keys[v] = keyRef{appID: appID, kind: k}
	}
	if n := len(c.History); n > MaxHistory {
		c.History = slices.Clone(c.History[n-MaxHistory:])
	}
	s.creds[appID] = c
	return cloneCreds(c), nil
}

// App returns the app with id.
func (s *Store) App(id string) (App, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.apps[id]
	return cloneApp(a), ok
}

// AppByName returns the app named name (case-sensitive).
func (s *Store) AppByName(name string) (App, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.appNames[name]
	if !ok {
		return App{}, false
	}
	return cloneApp(s.apps[id]), true
}

// Apps returns every app sorted by name, then id.
func (s *Store) Apps() []App {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]App, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, cloneApp(a))
	}
	slices.SortFunc(out, func(a, b App) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out
}

// AppCount returns the number of apps.
func (s *Store) AppCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.apps)
}

// AppByKey finds the app owning the current credential value v and says which kind matched. It is an O(1) map
// lookup on the in-memory index, meant for the per-request hot path. Revoked values do not match.
// The caller must still check App.Disabled.
func (s *Store) AppByKey(v string) (App, KeyKind, bool) {
	if v == "" {
		return App{}, "", false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.keys[v]
	if !ok {
		return App{}, "", false
	}
	return cloneApp(s.apps[ref.appID]), ref.kind, true
}

// Credentials returns the credentials of app appID.
func (s *Store) Credentials(appID string) (Credentials, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.creds[appID]
	return cloneCreds(c), ok
}

// ---- users ----

func validRole(r string) bool { return r == RoleAdmin || r == RoleUser }

// CreateUser adds u. Email must be unique (case-insensitive), Role admin or user, and every owned app must exist.
func (s *Store) CreateUser(u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" || u.Email == "" || u.PasswordHash == "" {
		return fmt.Errorf("%w: user id, email and password hash are required", ErrInvalid)
	}
	if !validRole(u.Role) {
		return fmt.Errorf("%w: role %q", ErrInvalid, u.Role)
	}
	if _, ok := s.users[u.ID]; ok {
		return fmt.Errorf("%w: user id %q exists", ErrConflict, u.ID)
	}
	le := strings.ToLower(u.Email)
	if _, ok := s.emails[le]; ok {
		return fmt.Errorf("%w: email %q exists", ErrConflict, u.Email)
	}
	for _, a := range u.Apps {
		if _, ok := s.apps[a]; !ok {
			return fmt.Errorf("%w: app %q", ErrNotFound, a)
		}
	}
	u = cloneUser(u)
	if u.Apps != nil {
		slices.Sort(u.Apps)
		u.Apps = slices.Compact(u.Apps)
	}
	s.users[u.ID] = u
	s.emails[le] = u.ID
	return nil
}

// DeleteUser removes the user with id.
func (s *Store) DeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, id)
	}
	delete(s.users, id)
	delete(s.emails, strings.ToLower(u.Email))
	return nil
}

// User returns the user with id.
func (s *Store) User(id string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	return cloneUser(u), ok
}

// UserByEmail returns the user with email, compared case-insensitively.
func (s *Store) UserByEmail(email string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.emails[strings.ToLower(email)]
	if !ok {
		return User{}, false
	}
	return cloneUser(s.users[id]), true
}

// Users returns every user sorted by email, then id.
func (s *Store) Users() []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, cloneUser(u))
	}
	slices.SortFunc(out, func(a, b User) int { return cmp.Or(cmp.Compare(a.Email, b.Email), cmp.Compare(a.ID, b.ID)) })
	return out
}

// ---- definitions ----

func (s *Store) checkDef(appID, name string) error {
	if appID == "" || name == "" {
		return fmt.Errorf("%w: app id and name are required", ErrInvalid)
	}
	if _, ok := s.apps[appID]; !ok {
		return fmt.Errorf("%w: app %q", ErrNotFound, appID)
	}
	return nil
}

func sortedDefs[T any](m map[defKey]T, appID string, clone func(T) T) []T {
	ks := make([]defKey, 0)
	for k := range m {
		if k.appID == appID {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b defKey) int { return cmp.Compare(a.name, b.name) })
	out := make([]T, 0, len(ks))
	for _, k := range ks {
		out = append(out, clone(m[k]))
	}
	return out
}

func cloneTopic(d TopicDef) TopicDef    { d.Config = cloneRaw(d.Config); return d }
func cloneStream(d StreamDef) StreamDef { d.Config = cloneRaw(d.Config); return d }
func cloneFeed(d FeedGroup) FeedGroup   { d.Config = cloneRaw(d.Config); return d }

// PutTopicDef creates or replaces a topic definition of an existing app.
func (s *Store) PutTopicDef(d TopicDef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDef(d.AppID, d.Name); err != nil {
		return err
	}
	s.topics[defKey{d.AppID, d.Name}] = cloneTopic(d)
	return nil
}

// DeleteTopicDef removes a topic definition.
func (s *Store) DeleteTopicDef(appID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := defKey{appID, name}
	if _, ok := s.topics[k]; !ok {
		return fmt.Errorf("%w: topic %q of app %q", ErrNotFound, name, appID)
	}
	delete(s.topics, k)
	return nil
}

// TopicDef returns one topic definition.
func (s *Store) TopicDef(appID, name string) (TopicDef, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.topics[defKey{appID, name}]
	return cloneTopic(d), ok
}

// TopicDefs returns the topic definitions of an app sorted by name.
func (s *Store) TopicDefs(appID string) []TopicDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedDefs(s.topics, appID, cloneTopic)
}

// PutStreamDef creates or replaces an app-stream definition of an existing app.
func (s *Store) PutStreamDef(d StreamDef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDef(d.AppID, d.Name); err != nil {
		return err
	}
	s.streams[defKey{d.AppID, d.Name}] = cloneStream(d)
	return nil
}

// DeleteStreamDef removes an app-stream definition.
func (s *Store) DeleteStreamDef(appID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := defKey{appID, name}
	if _, ok := s.streams[k]; !ok {
		return fmt.Errorf("%w: stream %q of app %q", ErrNotFound, name, appID)
	}
	delete(s.streams, k)
	return nil
}

// StreamDef returns one app-stream definition.
func (s *Store) StreamDef(appID, name string) (StreamDef, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.streams[defKey{appID, name}]
	return cloneStream(d), ok
}

// StreamDefs returns the app-stream definitions of an app sorted by name.
func (s *Store) StreamDefs(appID string) []StreamDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedDefs(s.streams, appID, cloneStream)
}

// PutFeedGroup creates or replaces the settings of a feed group of an existing app.
func (s *Store) PutFeedGroup(d FeedGroup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDef(d.AppID, d.Name); err != nil {
		return err
	}
	s.feeds[defKey{d.AppID, d.Name}] = cloneFeed(d)
	return nil
}

// DeleteFeedGroup removes a feed group's settings.
func (s *Store) DeleteFeedGroup(appID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := defKey{appID, name}
	if _, ok := s.feeds[k]; !ok {
		return fmt.Errorf("%w: feed group %q of app %q", ErrNotFound, name, appID)
	}
	delete(s.feeds, k)
	return nil
}

// FeedGroup returns one feed group's settings.
func (s *Store) FeedGroup(appID, name string) (FeedGroup, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.feeds[defKey{appID, name}]
	return cloneFeed(d), ok
}

// FeedGroups returns the feed groups of an app sorted by name.
func (s *Store) FeedGroups(appID string) []FeedGroup {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedDefs(s.feeds, appID, cloneFeed)
}

// ---- leases ----

// RenewLease creates or extends the lease of memberID to expiresAt. It fails with ErrLeaseRevoked if memberID was
// revoked or released. Renewing a new member id of a server revokes that server's other member ids (a server runs
// one member at a time). Tombstones older than 24 h (by at) are pruned.
func (s *Store) RenewLease(memberID, serverID string, expiresAt, at time.Time) (Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if memberID == "" || serverID == "" {
		return Lease{}, fmt.Errorf("%w: member id and server id are required", ErrInvalid)
	}
	s.pruneLeases(at)
	l, ok := s.leases[memberID]
	if ok && l.Revoked {
		return l, fmt.Errorf("%w: member %q", ErrLeaseRevoked, memberID)
	}
	if ok && l.ServerID != serverID {
		return l, fmt.Errorf("%w: member %q belongs to server %q", ErrConflict, memberID, l.ServerID)
	}
	if !ok {
		for id, other := range s.leases {
			if other.ServerID == serverID && !other.Revoked {
				s.leases[id] = other.ended(at, false)
			}
		}
	}
	l = Lease{MemberID: memberID, ServerID: serverID, ExpiresAt: l.ExpiresAt}
	if expiresAt.After(l.ExpiresAt) {
		l.ExpiresAt = expiresAt.UTC() // never shorten: a delayed older renewal must not cut a newer one
	}
	s.leases[memberID] = l
	return l, nil
}

// RevokeLease marks memberID's lease revoked (creating a tombstone if it has none), so it can never renew.
func (s *Store) RevokeLease(memberID string, at time.Time) (Lease, error) {
	return s.endLease(memberID, at, false)
}

// ReleaseLease ends memberID's lease on graceful shutdown; like RevokeLease, but marked Released.
func (s *Store) ReleaseLease(memberID string, at time.Time) (Lease, error) {
	return s.endLease(memberID, at, true)
}

func (s *Store) endLease(memberID string, at time.Time, released bool) (Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if memberID == "" {
		return Lease{}, fmt.Errorf("%w: member id is required", ErrInvalid)
	}
	l, ok := s.leases[memberID]
	if !ok {
		l = Lease{MemberID: memberID, ExpiresAt: at.UTC()}
	}
	if !l.Revoked {
		l = l.ended(at, released)
	}
	s.leases[memberID] = l
	return l, nil
}

// ended returns l revoked at at (released: ended by its holder), expiring
// no later than at.
func (l Lease) ended(at time.Time, released bool) Lease {
	l.Revoked, l.Released = true, released
	if l.ExpiresAt.After(at) {
		l.ExpiresAt = at.UTC()
	}
	return l
}

func (s *Store) pruneLeases(at time.Time) {
	cut := at.Add(-leaseTombstoneTTL)
	for id, l := range s.leases {
		if l.Revoked && l.ExpiresAt.Before(cut) {
			delete(s.leases, id)
		}
	}
}

// Lease returns memberID's lease record.
func (s *Store) Lease(memberID string) (Lease, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.leases[memberID]
	return l, ok
}

// Leases returns every lease record, revoked ones included, sorted by member id.
func (s *Store) Leases() []Lease {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Lease, 0, len(s.leases))
	for _, l := range s.leases {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Lease) int { return cmp.Compare(a.MemberID, b.MemberID) })
	return out
}

// ---- snapshot ----

type snapshot struct {
	Version     int           `json:"version"`
	Apps        []App         `json:"apps"`
	Credentials []Credentials `json:"credentials"`
	Users       []User        `json:"users"`
	Topics      []TopicDef    `json:"topics"`
	Streams     []StreamDef   `json:"streams"`
	FeedGroups  []FeedGroup   `json:"feed_groups"`
	Leases      []Lease       `json:"leases"`
}

const snapshotVersion = 1

func allDefs[T any](m map[defKey]T) []T {
	ks := make([]defKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b defKey) int { return cmp.Or(cmp.Compare(a.appID, b.appID), cmp.Compare(a.name, b.name)) })
	out := make([]T, 0, len(ks))
	for _, k := range ks {
		out = append(out, m[k])
	}
	return out
}

// Snapshot encodes the whole state as JSON. The output is deterministic (every list sorted), so two replicas with
// the same state produce the same bytes. It holds the read lock while encoding.
func (s *Store) Snapshot() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := snapshot{Version: snapshotVersion, Topics: allDefs(s.topics), Streams: allDefs(s.streams),
		FeedGroups: allDefs(s.feeds)}
	for _, a := range s.apps {
		snap.Apps = append(snap.Apps, a)
	}
	slices.SortFunc(snap.Apps, func(a, b App) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range s.creds {
		snap.Credentials = append(snap.Credentials, c)
	}
	slices.SortFunc(snap.Credentials, func(a, b Credentials) int { return cmp.Compare(a.AppID, b.AppID) })
	for _, u := range s.users {
		snap.Users = append(snap.Users, u)
	}
	slices.SortFunc(snap.Users, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	for _, l := range s.leases {
		snap.Leases = append(snap.Leases, l)
	}
	slices.SortFunc(snap.Leases, func(a, b Lease) int { return cmp.Compare(a.MemberID, b.MemberID) })
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("state: encode snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the whole state with a Snapshot's output and rebuilds every index. On error the state is
// unchanged.
func (s *Store) Restore(b []byte) error {
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("state: decode snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("state: snapshot version %d not supported", snap.Version)
	}
	n := New()
	for _, a := range snap.Apps {
		n.apps[a.ID] = cloneApp(a)
		n.appNames[a.Name] = a.ID
	}
	for _, c := range snap.Credentials {
		for i := range c.History {
			c.History[i].RevokedAt = c.History[i].RevokedAt.UTC()
		}
		c = cloneCreds(c)
		n.creds[c.AppID] = c
		n.indexCreds(c)
	}
	for _, u := range snap.Users {
		n.users[u.ID] = cloneUser(u)
		n.emails[strings.ToLower(u.Email)] = u.ID
	}
	for _, d := range snap.Topics {
		n.topics[defKey{d.AppID, d.Name}] = cloneTopic(d)
	}
	for _, d := range snap.Streams {
		n.streams[defKey{d.AppID, d.Name}] = cloneStream(d)
	}
	for _, d := range snap.FeedGroups {
		n.feeds[defKey{d.AppID, d.Name}] = cloneFeed(d)
	}
	for _, l := range snap.Leases {
		l.ExpiresAt = l.ExpiresAt.UTC()
		n.leases[l.MemberID] = l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps, s.appNames, s.creds, s.keys = n.apps, n.appNames, n.creds, n.keys
	s.users, s.emails = n.users, n.emails
	s.topics, s.streams, s.feeds, s.leases = n.topics, n.streams, n.feeds, n.leases
	return nil
}
