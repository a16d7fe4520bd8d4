package codec

import json "github.com/goccy/go-json"

// AuthRequest is a parsed POST /api/auth body (deepstream.md §11.2): the auth data object of a WebSocket login.
type AuthRequest struct {
	// Data is the whole auth data object, compacted (apiKey included), for the app's strategy.
	Data json.RawMessage
	// APIKey is the body's "apiKey" (§2.1); HasAPIKey reports that it was sent. An empty string is kept as sent: it
	// names no app, so the caller answers it as an unknown key.
	APIKey    string
	HasAPIKey bool
}

// ParseAuth parses a POST /api/auth body. An empty body, invalid JSON or a value other than an object is ErrAuthInvalid
// (400 "Invalid authentication data."). Decision: an "apiKey" that is not a string is ErrAuthInvalid too, because it
// can name no app and the strategies never read it.
func ParseAuth(body []byte) (*AuthRequest, *RequestError) {
	b := trimSpace(body)
	if len(b) == 0 || b[0] != '{' || !validJSON(b) {
		return nil, ErrAuthInvalid
	}
	req := &AuthRequest{Data: appendCompact(make([]byte, 0, len(b)), b)}
	it := newMemberIter(b)
	for k, v, ok := it.next(); ok; k, v, ok = it.next() {
		if string(unquoteBytes(k)) != "apiKey" {
			continue
		}
		if v[0] != '"' {
			return nil, ErrAuthInvalid
		}
		req.APIKey, req.HasAPIKey = unquote(v), true // the last one wins, as in JavaScript
	}
	return req, nil
}
