package embedtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plexushq/plexus/cmd/embed/embedtest"
)

// Bad input on POST /api gets the contract's plaintext error and status and
// changes nothing: every bad batch also carries a valid write of "guard",
// which must still be at version 1 afterwards.
func TestGatewayBadInputChangesNothing(t *testing.T) {
	c := embedtest.New(t, 1)
	url := "http://" + c.Nodes[0].HTTPAddr()
	st, body := c.Post(0, "/api", `{"body":[{"topic":"record","action":"write","recordName":"guard","data":{"g":1}},{"topic":"record","action":"write","recordName":"arr","data":[1,2]}]}`)
	if st != 200 || !strings.Contains(body, `"result":"SUCCESS"`) {
		t.Fatalf("setup: %d %s", st, body)
	}
	guardWrite := `{"topic":"record","action":"write","recordName":"guard","data":{"g":2}}`
	big := `{"body":[` + guardWrite + `,{"topic":"event","action":"emit","eventName":"x","data":"` + strings.Repeat("a", 1<<20) + `"}]}`
	cases := []struct {
		name, ct, body string
		status         int
		text           string
	}{
		{"empty body", "application/json", ``, 400, `Invalid message: the "body" parameter must exist.`},
		{"malformed json", "application/json", `{"body":[` + guardWrite + `,`, 400, `Failed to parse body of request: invalid JSON`},
		{"body not an array", "application/json", `{"body":{"topic":"record"}}`, 400, `Invalid message: the "body" parameter must be a non-empty array of Objects.`},
		{"empty array", "application/json", `{"body":[]}`, 400, `Invalid message: the "body" parameter must be a non-empty array of Objects.`},
		{"unknown topic", "application/json", `{"body":[` + guardWrite + `,{"topic":"nope","action":"emit","eventName":"x"}]}`, 400, `Failed to parse JIF object at index 1.`},
		{"unknown action", "application/json", `{"body":[` + guardWrite + `,{"topic":"record","action":"explode","recordName":"x"}]}`, 400, `Failed to parse JIF object at index 1.`},
		{"missing name", "application/json", `{"body":[` + guardWrite + `,{"topic":"record","action":"read"}]}`, 400, `Failed to parse JIF object at index 1. Reason: property 'recordName' is required for topic 'record'`},
		{"empty name", "application/json", `{"body":[` + guardWrite + `,{"topic":"record","action":"read","recordName":""}]}`, 400, `Failed to parse JIF object at index 1. Reason: property '.recordName' should NOT be shorter than 1 characters`},
		{"scalar record data", "application/json", `{"body":[` + guardWrite + `,{"topic":"record","action":"write","recordName":"x","data":5}]}`, 400, `Failed to parse JIF object at index 1. Reason: property '.data' should be object,array`},
		{"invalid path", "application/json", `{"body":[` + guardWrite + `,{"topic":"record","action":"write","recordName":"x","path":"a[-1]","data":5}]}`, 400, `Failed to parse JIF object at index 1.`},
		{"version below -1", "application/json", `{"body":[` + guardWrite + `,{"topic":"record","action":"write","recordName":"x","data":{},"version":-2}]}`, 400, `Failed to parse JIF object at index 1.`},
		{"non-json content type", "text/plain", `{"body":[` + guardWrite + `]}`, 415, `Invalid "Content-Type" header. Supported media types: "application/json"`},
		{"no content type", "", `{"body":[` + guardWrite + `]}`, 415, `Invalid "Content-Type" header. Supported media types: "application/json"`},
		{"over 1 MiB", "application/json", big, 413, `Failed to parse body of request: request entity too large`},
		{"token before auth exists", "application/json", `{"token":"abc","body":[` + guardWrite + `]}`, 401, `Unsuccessful authentication attempt.`},
		{"unknown api key", "application/json", `{"body":[` + guardWrite + `]}`, 401, `Unsuccessful authentication attempt.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := url + "/api"
			if tc.name == "unknown api key" {
				u += "?apiKey=nope"
			}
			st, body := embedtest.Do(t, http.MethodPost, u, tc.ct, tc.body, "")
			if st != tc.status || body != tc.text+"\r\n\r\n" {
				t.Fatalf("got %d %q, want %d %q", st, body, tc.status, tc.text)
			}
		})
	}
	// A key on an array is a per-command RECORD_UPDATE_ERROR, and the record stays as it was.
	st, body = c.Post(0, "/api", `{"body":[{"topic":"record","action":"write","recordName":"arr","path":"a","data":1},{"topic":"record","action":"read","recordName":"arr"},{"topic":"record","action":"read","recordName":"guard"}]}`)
	want := `{"result":"PARTIAL_SUCCESS","body":[{"success":false,"error":"An error occurred: RECORD_UPDATE_ERROR.","errorTopic":"record","errorEvent":"RECORD_UPDATE_ERROR","errorParams":"arr"},{"success":true,"version":1,"data":[1,2]},{"success":true,"version":1,"data":{"g":1}}]}`
	if st != 200 || body != want {
		t.Fatalf("key on array:\n got %d %s\nwant %s", st, body, want)
	}
	// Methods and paths of the deepstream HTTP API.
	st, body = embedtest.Do(t, http.MethodGet, url+"/api", "", "", "")
	if st != 405 || body != "Unsupported method. Supported methods: POST, OPTIONS\r\n\r\n" {
		t.Fatalf("GET /api: %d %q", st, body)
	}
	st, body = embedtest.Do(t, http.MethodPost, url+"/api/nope", "application/json", `{}`, "")
	if st != 404 || body != "Endpoint not found.\r\n\r\n" {
		t.Fatalf("POST /api/nope: %d %q", st, body)
	}
	st, _ = embedtest.Do(t, http.MethodOptions, url+"/api", "", "", "")
	if st != 204 {
		t.Fatalf("OPTIONS /api: %d", st)
	}
}

// Admin endpoints need the admin token; health and readiness do not.
func TestGatewayAdminTokenAndHealth(t *testing.T) {
	c := embedtest.New(t, 1)
	url := "http://" + c.Nodes[0].HTTPAddr()
	for _, tok := range []string{"", "wrong"} {
		st, body := embedtest.Do(t, http.MethodGet, url+"/admin/v1/cluster", "", "", tok)
		if st != 401 || !strings.Contains(body, `"reason":"ERROR_REASON_UNAUTHENTICATED"`) {
			t.Fatalf("token %q: %d %s", tok, st, body)
		}
	}
	if st, _ := embedtest.Do(t, http.MethodGet, url+"/admin/v1/cluster", "", "", c.Token); st != 200 {
		t.Fatalf("with token: %d", st)
	}
	for _, p := range []string{"/healthz", "/health-check", "/readyz"} {
		if st, body := embedtest.Do(t, http.MethodGet, url+p, "", "", ""); st != 200 {
			t.Fatalf("%s: %d %s", p, st, body)
		}
	}
	st, body := embedtest.Do(t, http.MethodGet, url+"/metrics", "", "", "")
	if st != 200 || !strings.Contains(body, "plexus_http_requests_total") {
		t.Fatalf("/metrics: %d", st)
	}
	// Families that are not built yet answer 501 with a JSON error.
	for _, p := range []string{"/deepstream", "/api/v1.0/feed/user/1/", "/v1/records/x", "/stream/0/streams"} {
		st, body := embedtest.Do(t, http.MethodGet, url+p, "", "", "")
		if st != 501 || !strings.Contains(body, `"error"`) {
			t.Fatalf("%s: %d %s", p, st, body)
		}
	}
}
