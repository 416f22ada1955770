package ratelimit

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, got, want string }{
		{"policy", string(AppendPolicy(nil, "api", 100, time.Second)), `"api";q=100;w=1`},
		{"window rounded up", string(AppendPolicy(nil, "api", 100, 1500*time.Millisecond)), `"api";q=100;w=2`},
		{"zero window", string(AppendPolicy(nil, "api", 1, 0)), `"api";q=1;w=1`},
		{"negative limit", string(AppendPolicy(nil, "api", -5, time.Minute)), `"api";q=0;w=60`},
		{"ratelimit", string(AppendRateLimit(nil, "api", 42, 2)), `"api";r=42;t=2`},
		{"negative values", string(AppendRateLimit(nil, "api", -3, -1)), `"api";r=0;t=0`},
		{"empty name", string(AppendRateLimit(nil, "", 1, 1)), `"default";r=1;t=1`},
		{"escaped name", string(AppendPolicy(nil, `a"b\c`, 1, 90*time.Second)), `"a\"b\\c";q=1;w=90`},
		{"non-ASCII and controls", string(AppendPolicy(nil, "ü\x00\t\x7f", 1, time.Second)), `"_____";q=1;w=1`},
		{"sf-integer bound", string(AppendRateLimit(nil, "api", 1<<62, 1_000_000_000_000_000)), `"api";r=999999999999999;t=999999999999999`},
		{"appends", string(AppendPolicy([]byte("x, "), "api", 1, time.Second)), `x, "api";q=1;w=1`},
	} {
		assert.Equal(t, tc.want, tc.got, tc.name)
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{-time.Hour, 0}, {-1, 0}, {0, 0}, {1, 1}, {time.Second, 1}, {time.Second + 1, 2},
		{59*time.Second + 999*time.Millisecond, 60}, {time.Duration(1<<63 - 1), 9223372037},
	} {
		assert.Equal(t, tc.want, Seconds(tc.d), "Seconds(%v)", tc.d)
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		buf = AppendPolicy(buf[:0], "api", 100, time.Second)
		buf = AppendRateLimit(buf[:0], "api", 42, 1)
	})
	assert.Zero(t, n)
}

// FuzzFields checks that whatever the name and numbers, both fields are one
// well-formed Structured Field item (an sf-string with the parameters in
// order and non-negative integers), that the name reads back as written
// when it is printable ASCII, and that no byte of it is lost otherwise.
func FuzzFields(f *testing.F) {
	f.Add("api", int64(100), int64(time.Second), int64(42), int64(1))
	f.Add(`a"b\c`, int64(-1), int64(-1), int64(-1), int64(-1))
	f.Add("ü\x00\xff\x7f", int64(1)<<62, int64(1)<<62, int64(0), int64(1)<<62)
	f.Add("", int64(0), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, name string, limit, window, remaining, reset int64) {
		want := name
		if want == "" {
			want = DefaultName
		}
		check := func(field []byte, keys [2]string, vals [2]int64) {
			got, params, err := parseItem(string(field))
			require.NoError(t, err, "%q", field)
			require.Len(t, got, len(want), "%q", field)
			if printableASCII(want) {
				require.Equal(t, want, got)
			}
			require.Len(t, params, 2, "%q", field)
			for i, p := range params {
				require.Equal(t, keys[i], p.key, "%q", field)
				require.Equal(t, vals[i], p.val, "%q", field)
			}
		}
		check(AppendPolicy(nil, name, limit, time.Duration(window)), [2]string{"q", "w"},
			[2]int64{sfInt(limit), sfInt(max(Seconds(time.Duration(window)), 1))})
		check(AppendRateLimit(nil, name, remaining, reset), [2]string{"r", "t"},
			[2]int64{sfInt(remaining), sfInt(reset)})
	})
}

func sfInt(n int64) int64 { return min(max(n, 0), MaxInteger) }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

type param struct {
	key string
	val int64
}

// parseItem parses an sf-item whose bare item is an sf-string and whose
// parameters have sf-integer values (RFC 9651, sections 4.2.3 and 4.2.5),
// strictly: anything else, trailing data included, is an error.
func parseItem(s string) (string, []param, error) {
	if s == "" || s[0] != '"' {
		return "", nil, errors.New("no opening quote")
	}
	var name strings.Builder
	i := 1
	for ; ; i++ {
		if i >= len(s) {
			return "", nil, errors.New("no closing quote")
		}
		c := s[i]
		if c == '\\' {
			i++
			if i >= len(s) || s[i] != '"' && s[i] != '\\' {
				return "", nil, errors.New("bad escape")
			}
			name.WriteByte(s[i])
			continue
		}
		if c == '"' {
			i++
			break
		}
		if c < 0x20 || c > 0x7e {
			return "", nil, errors.New("byte outside an sf-string")
		}
		name.WriteByte(c)
	}
	var params []param
	for i < len(s) {
		if s[i] != ';' {
			return "", nil, errors.New("trailing data")
		}
		i++
		j := i
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '-' || s[j] == '.' || s[j] == '*') {
			j++
		}
		if j == i || s[i] < 'a' || s[i] > 'z' || j >= len(s) || s[j] != '=' {
			return "", nil, errors.New("bad parameter key")
		}
		key := s[i:j]
		i = j + 1
		j = i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j-i > 15 {
			return "", nil, errors.New("not an sf-integer: " + s[i:j])
		}
		v, err := strconv.ParseInt(s[i:j], 10, 64)
		if err != nil {
			return "", nil, err
		}
		params = append(params, param{key, v})
		i = j
	}
	return name.String(), params, nil
}
