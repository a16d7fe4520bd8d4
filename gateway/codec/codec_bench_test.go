package codec

// Measured with: go test -run '^$' -bench . -benchmem -count 5 ./gateway/codec/
// go1.26.8 linux/amd64, AMD EPYC, 2 vCPU shared with other builds (load average ~8, so times are noisy; best/median
// of 5 shown, allocations are exact):
//
//	BenchmarkParseBatch/cmds=1-2           1350 / 2500 ns/op   ~135 MB/s     496 B/op     5 allocs/op
//	BenchmarkParseBatch/cmds=100-2        101 / 142 µs/op    ~87 MB/s   25980 B/op   154 allocs/op
//	BenchmarkEncodeResponse/cmds=1-2        123 / 145 ns/op   ~330 MB/s     128 B/op     1 allocs/op
//	BenchmarkEncodeResponse/cmds=100-2     11.9 / 12.7 µs/op  ~670 MB/s   13568 B/op     1 allocs/op

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// benchBody returns a POST /api body of n commands mixing the common kinds.
func benchBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl","body":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, `{"topic":"event","action":"emit","eventName":"stock-update","data":{"apples":%d,"bananas":100,"pears":60}}`, i)
		case 1:
			fmt.Fprintf(&sb, `{"topic":"record","action":"read","recordName":"users/%d"}`, i)
		case 2:
			fmt.Fprintf(&sb, `{"topic":"record","action":"write","recordName":"users/%d","path":"firstname","version":%d,"data":"Bob"}`, i, i)
		case 3:
			fmt.Fprintf(&sb, `{"topic":"rpc","action":"make","rpcName":"add-two","data":{"numA":2,"numB":%d}}`, i)
		}
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

func benchResults(n int) []Result {
	data := []byte(`{"firstname":"Alan","lastname":"Smith"}`)
	results := make([]Result, n)
	for i := range results {
		switch i % 4 {
		case 0:
			results[i] = ResultOK()
		case 1:
			results[i] = ResultRead(int32(i), data)
		case 2:
			results[i] = ResultVersionExists("users/"+strconv.Itoa(i), int32(i), data)
		case 3:
			results[i] = ResultRPC([]byte("7"))
		}
	}
	return results
}

func BenchmarkParseBatch(b *testing.B) {
	for _, n := range []int{1, 100} {
		body := benchBody(n)
		b.Run("cmds="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseBatch(body, DefaultMaxNameBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	for _, n := range []int{1, 100} {
		results := benchResults(n)
		b.Run("cmds="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				size = len(EncodeResponse(results))
			}
			b.SetBytes(int64(size))
		})
	}
}
