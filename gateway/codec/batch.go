package codec

import (
	"errors"
	"fmt"
	"strconv"

	json "github.com/goccy/go-json"
)

// Batch is a validated POST /api request (deepstream.md §11.3).
type Batch struct {
	// Token is the "token" parameter; HasToken reports that it was sent (it is then non-empty).
	Token    string
	HasToken bool
	// AuthData is the "authData" object, compacted; nil when absent. Never set together with a token.
	AuthData json.RawMessage
	// Commands holds the commands in request order; there is at least one.
	Commands []Command
}

// Command is one validated command of a batch. Topic and Action are one of: "event"/"emit",
// "record"/"read|head|write|delete|notify", "list"/"read|write|delete", "rpc"/"make", "presence"/"query".
type Command struct {
	Topic, Action string
	// Name is the eventName, recordName, listName or rpcName: 1 to maxNameBytes bytes. Empty for record/notify
	// and presence/query.
	Name string
	// Names is recordNames (record/notify, always present) or names (presence/query, optional); HasNames reports that
	// the field was sent. Each entry is 1 to maxNameBytes bytes.
	Names    []string
	HasNames bool
	// Data is the compacted "data" value; nil when absent. record/write without a path: an object or array;
	// list/write: an array of strings; with a path, event/emit and rpc/make: any JSON, null included.
	Data json.RawMessage
	// Path is the record/write path, valid by actors/jsonpath.Parse; HasPath reports that it was sent.
	Path    string
	HasPath bool
	// Version is the record/write or list/write version, −1 or more; HasVersion reports that it was sent.
	Version    int32
	HasVersion bool
}

// Command fields, in the order the schema checks them.
const (
	fieldEventName = iota
	fieldRecordName
	fieldListName
	fieldRPCName
	fieldRecordNames
	fieldNames
	fieldPath
	fieldVersion
	fieldData
	fieldCount
)

var fieldKeys = [fieldCount]string{"eventName", "recordName", "listName", "rpcName", "recordNames", "names", "path",
	"version", "data"}

type dataRule uint8

const (
	dataNone        dataRule = iota // no data field
	dataAny                         // optional, any JSON
	dataRecordWrite                 // required; object or array unless a path is given
	dataListWrite                   // required; array of strings
)

// schema is what one topic/action accepts besides topic and action.
type schema struct {
	name          int // fieldEventName..fieldRPCName, or -1
	names         int // fieldRecordNames or fieldNames, or -1
	namesRequired bool
	data          dataRule
	path, version bool
}

func lookupSchema(topic, action string) (schema, bool) {
	none := schema{name: -1, names: -1}
	switch topic {
	case "event":
		if action == "emit" {
			return schema{name: fieldEventName, names: -1, data: dataAny}, true
		}
	case "record":
		switch action {
		case "read", "head", "delete":
			return schema{name: fieldRecordName, names: -1}, true
		case "write":
			return schema{name: fieldRecordName, names: -1, data: dataRecordWrite, path: true, version: true}, true
		case "notify":
			return schema{name: -1, names: fieldRecordNames, namesRequired: true}, true
		}
	case "list":
		switch action {
		case "read", "delete":
			return schema{name: fieldListName, names: -1}, true
		case "write":
			return schema{name: fieldListName, names: -1, data: dataListWrite, version: true}, true
		}
	case "rpc":
		if action == "make" {
			return schema{name: fieldRPCName, names: -1, data: dataAny}, true
		}
	case "presence":
		if action == "query" {
			return schema{name: -1, names: fieldNames}, true
		}
	}
	return none, false
}

// intern returns the constant string equal to b when b is a topic or action name, so commands share them.
func intern(b []byte) (string, bool) {
	switch string(b) {
	case "event":
		return "event", true
	case "record":
		return "record", true
	case "list":
		return "list", true
	case "rpc":
		return "rpc", true
	case "presence":
		return "presence", true
	case "emit":
		return "emit", true
	case "read":
		return "read", true
	case "head":
		return "head", true
	case "write":
		return "write", true
	case "delete":
		return "delete", true
	case "notify":
		return "notify", true
	case "make":
		return "make", true
	case "query":
		return "query", true
	}
	return "", false
}

func knownTopic(topic string) bool {
	switch topic {
	case "event", "record", "list", "rpc", "presence":
		return true
	}
	return false
}

// ParseBatch parses and validates a POST /api request body (deepstream.md §11.1, §11.3). All commands are validated
// before the caller runs any: the first invalid one fails the whole request. maxNameBytes is max_name_bytes
// (DefaultMaxNameBytes when ≤ 0). The error is always a *RequestError with status 400; the body size (413) and the
// Content-Type (415) are the caller's checks (CheckBodySize, CheckContentType).
//
// Decision: unknown top-level properties are ignored, because deepstream 7 reads only "body", "token" and "authData"
// from the request object and §11.3 refuses extra properties only inside commands. Decision: a request body that is
// valid JSON but not an object has no "body" parameter (ErrBodyMissing); only whitespace counts as an empty body.
// Duplicate keys: the last one wins, as in JavaScript.
func ParseBatch(body []byte, maxNameBytes int) (*Batch, error) {
	if maxNameBytes <= 0 {
		maxNameBytes = DefaultMaxNameBytes
	}
	b := trimSpace(body)
	if len(b) == 0 {
		return nil, ErrBodyMissing
	}
	if !validJSON(b) {
		return nil, ErrInvalidJSON
	}
	if b[0] != '{' {
		return nil, ErrBodyMissing
	}
	var bodyRaw, tokenRaw, authRaw []byte
	it := newMemberIter(b)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch string(unquoteBytes(k)) {
		case "body":
			bodyRaw = v
		case "token":
			tokenRaw = v
		case "authData":
			authRaw = v
		}
	}
	if bodyRaw == nil || isFalsy(bodyRaw) {
		return nil, ErrBodyMissing
	}
	if bodyRaw[0] != '[' {
		return nil, ErrBodyNotArray
	}
	n := countElems(bodyRaw)
	if n == 0 {
		return nil, ErrBodyNotArray
	}
	batch := &Batch{}
	if tokenRaw != nil {
		if tokenRaw[0] != '"' || len(tokenRaw) == 2 {
			return nil, ErrTokenInvalid
		}
		batch.Token = unquote(tokenRaw)
		batch.HasToken = true
	}
	if authRaw != nil {
		if authRaw[0] != '{' {
			return nil, ErrAuthDataInvalid
		}
		if batch.HasToken {
			return nil, ErrTokenAndAuthData
		}
	}
	// One arena holds every compacted value; it never grows past the body, so no sub-slice is moved.
	arena := make([]byte, 0, len(b))
	if authRaw != nil {
		arena = appendCompact(arena, authRaw)
		batch.AuthData = arena[:len(arena):len(arena)]
	}
	batch.Commands = make([]Command, n)
	ei := newElemIter(bodyRaw)
	for i := 0; i < n; i++ {
		raw, _ := ei.next()
		var reason string
		arena, reason = parseCommand(raw, maxNameBytes, &batch.Commands[i], arena)
		if reason != "" {
			return nil, jifError(i, reason)
		}
	}
	return batch, nil
}

// noReason marks an invalid command whose error has no " Reason: ..." part.
const noReason = "\x00"

func jifError(index int, reason string) *RequestError {
	text := "Failed to parse JIF object at index " + strconv.Itoa(index) + "."
	if reason != noReason {
		text += " Reason: " + reason
	}
	return &RequestError{Status: 400, Text: text}
}

// Reasons, in deepstream's schema-validator wording (deepstream.md §11.1).
func reasonRequired(field, topic string) string {
	return "property '" + field + "' is required for topic '" + topic + "'"
}

func reasonType(field, typ string) string {
	return "property '." + field + "' should be " + typ
}

func reasonEmpty(field string) string {
	return "property '." + field + "' should NOT be shorter than 1 characters"
}

// parseCommand validates the raw command into c, appending compacted data to arena. It returns "" when the command is
// valid, noReason or a reason otherwise. The checks run in the order of deepstream's validator: topic and action
// (they pick the schema), required fields, extra properties, field types and lengths; then the checks deepstream's
// schema does not make (no reason): name limits, list entries, the version range and the path.
//
// Decision: a command without "topic" is invalid without a reason, like an unknown topic, because the required-field
// reason names the topic ("... for topic 'undefined'" in deepstream 7).
func parseCommand(raw []byte, maxNameBytes int, c *Command, arena []byte) ([]byte, string) {
	if raw[0] != '{' {
		return arena, noReason
	}
	var topicRaw, actionRaw []byte
	var fields [fieldCount][]byte
	extra := false
	it := newMemberIter(raw)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		switch name := string(unquoteBytes(k)); name {
		case "topic":
			topicRaw = v
		case "action":
			actionRaw = v
		default:
			if f := fieldIndex(name); f >= 0 {
				fields[f] = v
			} else {
				extra = true
			}
		}
	}

	// Topic and action.
	if topicRaw == nil {
		return arena, noReason
	}
	if topicRaw[0] != '"' {
		return arena, reasonType("topic", "string")
	}
	topic, ok := intern(unquoteBytes(topicRaw))
	if !ok || !knownTopic(topic) {
		return arena, noReason
	}
	if actionRaw == nil {
		return arena, reasonRequired("action", topic)
	}
	if actionRaw[0] != '"' {
		return arena, reasonType("action", "string")
	}
	action, _ := intern(unquoteBytes(actionRaw))
	sc, ok := lookupSchema(topic, action)
	if !ok {
		return arena, noReason
	}

	// Required fields.
	if sc.name >= 0 && fields[sc.name] == nil {
		return arena, reasonRequired(fieldKeys[sc.name], topic)
	}
	if sc.namesRequired && fields[sc.names] == nil {
		return arena, reasonRequired(fieldKeys[sc.names], topic)
	}
	if (sc.data == dataRecordWrite || sc.data == dataListWrite) && fields[fieldData] == nil {
		return arena, reasonRequired("data", topic)
	}

	// Extra properties.
	if extra {
		return arena, noReason
	}
	for f := range fieldCount {
		if fields[f] == nil {
			continue
		}
		allowed := f == sc.name || f == sc.names ||
			(f == fieldPath && sc.path) || (f == fieldVersion && sc.version) || (f == fieldData && sc.data != dataNone)
		if !allowed {
			return arena, noReason
		}
	}

	// Types and lengths.
	if sc.name >= 0 {
		v := fields[sc.name]
		if v[0] != '"' {
			return arena, reasonType(fieldKeys[sc.name], "string")
		}
		if len(v) == 2 {
			return arena, reasonEmpty(fieldKeys[sc.name])
		}
	}
	if sc.names >= 0 && fields[sc.names] != nil && fields[sc.names][0] != '[' {
		return arena, reasonType(fieldKeys[sc.names], "array")
	}
	pathRaw := fields[fieldPath]
	if pathRaw != nil && pathRaw[0] != '"' {
		return arena, reasonType("path", "string")
	}
	versionRaw := fields[fieldVersion]
	var version int32
	versionInRange := true
	if versionRaw != nil {
		var isInt bool
		version, isInt, versionInRange = jsonInt32(versionRaw)
		if !isInt {
			return arena, reasonType("version", "integer")
		}
	}
	dataRaw := fields[fieldData]
	switch sc.data {
	case dataRecordWrite:
		if pathRaw == nil && dataRaw[0] != '{' && dataRaw[0] != '[' {
			return arena, reasonType("data", "object,array")
		}
	case dataListWrite:
		if dataRaw[0] != '[' {
			return arena, reasonType("data", "array")
		}
	}

	// Checks without a reason.
	*c = Command{Topic: topic, Action: action}
	if sc.name >= 0 {
		c.Name = unquote(fields[sc.name])
		if len(c.Name) > maxNameBytes {
			return arena, noReason
		}
	}
	if sc.names >= 0 && fields[sc.names] != nil {
		names, ok := parseNames(fields[sc.names], maxNameBytes)
		if !ok {
			return arena, noReason
		}
		c.Names, c.HasNames = names, true
	}
	if versionRaw != nil {
		if !versionInRange || version < -1 {
			return arena, noReason
		}
		c.Version, c.HasVersion = version, true
	}
	if pathRaw != nil {
		c.Path, c.HasPath = unquote(pathRaw), true
		if !validPath(c.Path) {
			return arena, noReason
		}
	}
	if sc.data == dataListWrite {
		ei := newElemIter(dataRaw)
		for e, ok := ei.next(); ok; e, ok = ei.next() {
			if e[0] != '"' {
				return arena, noReason
			}
		}
	}
	if dataRaw != nil {
		start := len(arena)
		arena = appendCompact(arena, dataRaw)
		c.Data = arena[start:len(arena):len(arena)]
	}
	return arena, ""
}

// parseNames decodes a valid JSON array whose entries must be strings of 1 to maxNameBytes bytes.
func parseNames(raw []byte, maxNameBytes int) ([]string, bool) {
	names := make([]string, 0, countElems(raw))
	ei := newElemIter(raw)
	for e, ok := ei.next(); ok; e, ok = ei.next() {
		if e[0] != '"' || len(e) == 2 {
			return nil, false
		}
		s := unquote(e)
		if len(s) > maxNameBytes {
			return nil, false
		}
		names = append(names, s)
	}
	return names, true
}

// ErrInvalidCommand is returned by Command.Validate.
var ErrInvalidCommand = errors.New("codec: invalid command")

// Validate checks c against the rules ParseBatch applies (a parsed command always passes); maxNameBytes as there.
// It lets callers and tests re-check commands they built or changed.
func (c *Command) Validate(maxNameBytes int) error {
	if maxNameBytes <= 0 {
		maxNameBytes = DefaultMaxNameBytes
	}
	invalid := fmt.Errorf("%w: %s/%s", ErrInvalidCommand, c.Topic, c.Action)
	sc, ok := lookupSchema(c.Topic, c.Action)
	if !ok {
		return invalid
	}
	if sc.name >= 0 {
		if c.Name == "" || len(c.Name) > maxNameBytes {
			return invalid
		}
	} else if c.Name != "" {
		return invalid
	}
	if c.HasNames || sc.namesRequired {
		if sc.names < 0 || !c.HasNames {
			return invalid
		}
		for _, s := range c.Names {
			if s == "" || len(s) > maxNameBytes {
				return invalid
			}
		}
	}
	if c.HasPath && (!sc.path || !validPath(c.Path)) {
		return invalid
	}
	if c.HasVersion && (!sc.version || c.Version < -1) {
		return invalid
	}
	if c.Data != nil {
		if sc.data == dataNone || !validJSON(c.Data) {
			return invalid
		}
	}
	switch sc.data {
	case dataRecordWrite:
		if c.Data == nil || (!c.HasPath && c.Data[0] != '{' && c.Data[0] != '[') {
			return invalid
		}
	case dataListWrite:
		if c.Data == nil || c.Data[0] != '[' {
			return invalid
		}
		ei := newElemIter(c.Data)
		for e, ok := ei.next(); ok; e, ok = ei.next() {
			if e[0] != '"' {
				return invalid
			}
		}
	}
	return nil
}

// fieldIndex returns the index of a command field name in fieldKeys, or -1.
func fieldIndex(name string) int {
	for i, k := range fieldKeys {
		if k == name {
			return i
		}
	}
	return -1
}
