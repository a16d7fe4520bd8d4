package codec

import (
	"slices"
	"strconv"
)

// Result is the outcome of one batch command, built by the Result* constructors and written by EncodeResponse
// (deepstream.md §11.3–§11.5). Keys are written in the order of the contract's examples: "success" first, then
// "error", "errorTopic", "errorEvent" and the event's extra keys. Byte-slice arguments must be valid JSON; they are
// written as they are, not copied: keep them unchanged until the response is encoded.
type Result struct {
	kind    resultKind
	version int32
	data    []byte // read/rpc data, VERSION_EXISTS currentData, REQUEST_ERROR error value
	text    string // error text
	topic   string // errorTopic
	event   string // errorEvent
	// extraKey/extraVal: "errorAction" or "errorParams" and its string value.
	extraKey, extraVal string
	users              []string
	online             map[string]bool
}

type resultKind uint8

const (
	kindOK           resultKind = iota // {"success":true}
	kindRead                           // + version, data
	kindHead                           // + version
	kindData                           // + data when present
	kindUsers                          // + users array
	kindUserMap                        // + users object
	kindError                          // success false, error text, topic, event, extra
	kindErrorRaw                       // success false, error = raw JSON value
	kindVersionExist                   // kindError + currentVersion, currentData
)

// Success reports whether the command succeeded.
func (r Result) Success() bool { return r.kind < kindError }

// Error texts and events (deepstream.md §11.3–§11.5).
const (
	EventRecordNotFound          = "RECORD_NOT_FOUND"
	EventVersionExists           = "VERSION_EXISTS"
	EventRecordUpdateError       = "RECORD_UPDATE_ERROR"
	EventRecordDeleteError       = "RECORD_DELETE_ERROR"
	EventRecordNotifyError       = "RECORD_NOTIFY_ERROR"
	EventStorageRetrievalTimeout = "STORAGE_RETRIEVAL_TIMEOUT"
	EventNoRPCProvider           = "NO_RPC_PROVIDER"
	EventAcceptTimeout           = "ACCEPT_TIMEOUT"
	EventResponseTimeout         = "RESPONSE_TIMEOUT"
	EventRequestError            = "REQUEST_ERROR"
	EventMessageDenied           = "MESSAGE_DENIED"
	EventHTTPRequestTimeout      = "HTTP_REQUEST_TIMEOUT"

	textRequestTimeout  = "Request exceeded timeout before a response was received."
	textResponseTimeout = "The RPC response timeout was exceeded by the provider."
)

// ResultOK is {"success":true}: event/emit, record and list write/delete/notify.
func ResultOK() Result { return Result{kind: kindOK} }

// ResultRead is {"success":true,"version":N,"data":...} for record/read and list/read; nil data is written as null.
func ResultRead(version int32, data []byte) Result {
	return Result{kind: kindRead, version: version, data: data}
}

// ResultHead is {"success":true,"version":N}; a missing record has version −1.
func ResultHead(version int32) Result { return Result{kind: kindHead, version: version} }

// ResultRPC is {"success":true,"data":...} for rpc/make, without a "data" key when data is nil (no payload).
func ResultRPC(data []byte) Result { return Result{kind: kindData, data: data} }

// ResultPresence is {"success":true,"users":[...]} for presence/query without names; nil is written as [].
func ResultPresence(users []string) Result { return Result{kind: kindUsers, users: users} }

// ResultPresenceQuery is {"success":true,"users":{"u":true,...}} for presence/query with names: one key per distinct
// name in the order given, true when online[name].
func ResultPresenceQuery(names []string, online map[string]bool) Result {
	return Result{kind: kindUserMap, users: names, online: online}
}

// ResultError is a failure {"success":false,"error":text,"errorTopic":topic,"errorEvent":event}.
func ResultError(topic, event, text string) Result {
	return Result{kind: kindError, topic: topic, event: event, text: text}
}

// ResultErrorParams is deepstream's generic failure: error "An error occurred: <event>." and "errorParams": the name.
// Decision: RECORD_UPDATE_ERROR, RECORD_DELETE_ERROR, RECORD_NOTIFY_ERROR and STORAGE_RETRIEVAL_TIMEOUT, whose texts
// the contract leaves open, use it, because it is what deepstream 7 writes for every event without its own text (the
// contract's ACCEPT_TIMEOUT text is this form).
func ResultErrorParams(topic, event, name string) Result {
	return Result{kind: kindError, topic: topic, event: event, text: "An error occurred: " + event + ".",
		extraKey: "errorParams", extraVal: name}
}

// ResultNotFound is RECORD_NOT_FOUND for a read of a missing record or list:
// error `Record read failed. Record "<name>" could not be found.`, errorTopic "record".
func ResultNotFound(name string) Result {
	return ResultError("record", EventRecordNotFound, `Record read failed. Record "`+name+`" could not be found.`)
}

// ResultVersionExists is VERSION_EXISTS (deepstream.md §11.4) with "currentVersion" and "currentData"; curData nil is
// written as {} (a missing record: version 0 and {}).
func ResultVersionExists(name string, cur int32, curData []byte) Result {
	return Result{kind: kindVersionExist, topic: "record", event: EventVersionExists, version: cur, data: curData,
		text: "Record update failed. Version " + strconv.FormatInt(int64(cur), 10) + ` exists for record "` + name + `".`}
}

// ResultUpdateError is RECORD_UPDATE_ERROR: Store failure, record over max_record_bytes, path not applicable.
func ResultUpdateError(name string) Result {
	return ResultErrorParams("record", EventRecordUpdateError, name)
}

// ResultDeleteError is RECORD_DELETE_ERROR (Store failure).
func ResultDeleteError(name string) Result {
	return ResultErrorParams("record", EventRecordDeleteError, name)
}

// ResultNotifyError is RECORD_NOTIFY_ERROR (Store failure) for the record name that failed.
func ResultNotifyError(name string) Result {
	return ResultErrorParams("record", EventRecordNotifyError, name)
}

// ResultStorageTimeout is STORAGE_RETRIEVAL_TIMEOUT: the Store did not answer in time.
func ResultStorageTimeout(name string) Result {
	return ResultErrorParams("record", EventStorageRetrievalTimeout, name)
}

// ResultDenied is MESSAGE_DENIED exactly as deepstream 7.0.2 writes it (deepstream.md §11.5), e.g. for topic "event"
// and action "emit": {"success":false,"error":"Message denied. Action 'emit' is not permitted.","errorTopic":"event",
// "errorEvent":"MESSAGE_DENIED","errorAction":"emit"}.
func ResultDenied(topic, action string) Result {
	return Result{kind: kindError, topic: topic, event: EventMessageDenied,
		text:     "Message denied. Action '" + action + "' is not permitted.",
		extraKey: "errorAction", extraVal: action}
}

// ResultTimeout is HTTP_REQUEST_TIMEOUT for a command still open after http_request_timeout.
func ResultTimeout() Result {
	return ResultError("connection", EventHTTPRequestTimeout, textRequestTimeout)
}

// ResultNoRPCProvider is NO_RPC_PROVIDER: `No provider was available to handle the RPC "<name>".`
func ResultNoRPCProvider(name string) Result {
	return ResultError("rpc", EventNoRPCProvider, `No provider was available to handle the RPC "`+name+`".`)
}

// ResultRPCAcceptTimeout is ACCEPT_TIMEOUT: "An error occurred: ACCEPT_TIMEOUT." with "errorParams": the RPC name.
func ResultRPCAcceptTimeout(name string) Result {
	return ResultErrorParams("rpc", EventAcceptTimeout, name)
}

// ResultRPCResponseTimeout is RESPONSE_TIMEOUT: "The RPC response timeout was exceeded by the provider."
func ResultRPCResponseTimeout() Result {
	return ResultError("rpc", EventResponseTimeout, textResponseTimeout)
}

// ResultRPCRequestError is REQUEST_ERROR: "error" is the provider's JSON value as sent (maybe an object); nil is
// written as null.
func ResultRPCRequestError(value []byte) Result {
	return Result{kind: kindErrorRaw, topic: "rpc", event: EventRequestError, data: value}
}

// EncodeResponse returns the POST /api response body {"result":...,"body":[...]}: "SUCCESS" when every command
// succeeded, "FAILURE" when every one failed, else "PARTIAL_SUCCESS". Decision: no results (never the case for a
// parsed batch) give "SUCCESS" with an empty body.
func EncodeResponse(results []Result) []byte {
	n := 32
	for i := range results {
		r := &results[i]
		n += 96 + len(r.data) + len(r.text) + len(r.extraVal)
		for _, u := range r.users {
			n += len(u) + 9
		}
	}
	return AppendResponse(make([]byte, 0, n), results)
}

// AppendResponse appends EncodeResponse's body to dst.
func AppendResponse(dst []byte, results []Result) []byte {
	ok := 0
	for i := range results {
		if results[i].Success() {
			ok++
		}
	}
	dst = append(dst, `{"result":"`...)
	switch {
	case ok == len(results):
		dst = append(dst, "SUCCESS"...)
	case ok == 0:
		dst = append(dst, "FAILURE"...)
	default:
		dst = append(dst, "PARTIAL_SUCCESS"...)
	}
	dst = append(dst, `","body":[`...)
	for i := range results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = results[i].AppendJSON(dst)
	}
	return append(dst, "]}"...)
}

// AppendJSON appends the result's JSON object to dst.
func (r Result) AppendJSON(dst []byte) []byte {
	switch r.kind {
	case kindOK:
		return append(dst, `{"success":true}`...)
	case kindRead:
		dst = append(dst, `{"success":true,"version":`...)
		dst = strconv.AppendInt(dst, int64(r.version), 10)
		dst = append(dst, `,"data":`...)
		dst = appendRaw(dst, r.data, "null")
		return append(dst, '}')
	case kindHead:
		dst = append(dst, `{"success":true,"version":`...)
		dst = strconv.AppendInt(dst, int64(r.version), 10)
		return append(dst, '}')
	case kindData:
		if r.data == nil {
			return append(dst, `{"success":true}`...)
		}
		dst = append(dst, `{"success":true,"data":`...)
		dst = append(dst, r.data...)
		return append(dst, '}')
	case kindUsers:
		dst = append(dst, `{"success":true,"users":[`...)
		for i, u := range r.users {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, u)
		}
		return append(dst, "]}"...)
	case kindUserMap:
		dst = append(dst, `{"success":true,"users":{`...)
		first := true
		var seen map[string]struct{} // only for long lists: short ones are scanned
		if len(r.users) > 16 {
			seen = make(map[string]struct{}, len(r.users))
		}
		for i, u := range r.users {
			if seen != nil {
				if _, dup := seen[u]; dup {
					continue
				}
				seen[u] = struct{}{}
			} else if slices.Contains(r.users[:i], u) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, u)
			if r.online[u] {
				dst = append(dst, ":true"...)
			} else {
				dst = append(dst, ":false"...)
			}
		}
		return append(dst, "}}"...)
	}
	dst = append(dst, `{"success":false,"error":`...)
	if r.kind == kindErrorRaw {
		dst = appendRaw(dst, r.data, "null")
	} else {
		dst = appendString(dst, r.text)
	}
	dst = append(dst, `,"errorTopic":`...)
	dst = appendString(dst, r.topic)
	dst = append(dst, `,"errorEvent":`...)
	dst = appendString(dst, r.event)
	if r.extraKey != "" {
		dst = append(dst, ',')
		dst = appendString(dst, r.extraKey)
		dst = append(dst, ':')
		dst = appendString(dst, r.extraVal)
	}
	if r.kind == kindVersionExist {
		dst = append(dst, `,"currentVersion":`...)
		dst = strconv.AppendInt(dst, int64(r.version), 10)
		dst = append(dst, `,"currentData":`...)
		dst = appendRaw(dst, r.data, "{}")
	}
	return append(dst, '}')
}

func appendRaw(dst, raw []byte, ifNil string) []byte {
	if raw == nil {
		return append(dst, ifNil...)
	}
	return append(dst, raw...)
}

// EncodeAuthSuccess returns the POST /api/auth success body {"success":true,"token":"...","clientData":{...}}
// (deepstream.md §11.2); clientData nil, empty or null is written as {}.
func EncodeAuthSuccess(token string, clientData []byte) []byte {
	dst := make([]byte, 0, 48+len(token)+len(clientData))
	dst = append(dst, `{"success":true,"token":`...)
	dst = appendString(dst, token)
	dst = append(dst, `,"clientData":`...)
	cd := trimSpace(clientData)
	if len(cd) == 0 || string(cd) == "null" {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, cd...)
	}
	return append(dst, '}')
}
