package chaos

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The cohort hash is part of every running experiment: a change moves
// keys between cohorts on the replicas that upgrade. These values pin it
// on both sides of each length class (0, 1–3, 4–7, 8–16, over 16).
func TestCohortHashIsPinned(t *testing.T) {
	t.Parallel()
	s := salt("exp-a")
	for _, tc := range []struct {
		key  string
		want uint64
	}{
		{"", 0x85c6cf131208408a},
		{"k", 0x8c6deeaff0a8b7f},
		{"ab", 0xdcd3790b5607e7d5},
		{"tenant", 0x4888e44654d2ef57},
		{"tenant-1", 0xde1cb5de19c49fcf},
		{"10.1.2.3:5555", 0x7a66cf11087da6cd},
		{"0123456789abcdef", 0x1cd824fb2d9fdf79},
		{"0123456789abcdef0", 0x6fd1c6598fa78722},
		{"0123456789abcdef0123456789abcdef", 0xaed3bc6363b42aef},
	} {
		assert.Equal(t, tc.want, cohortHash(s, tc.key), "key %q", tc.key)
	}
}

// Over many experiments and the key shapes partition keys take (tenant
// names, client addresses, short IDs, long API keys), cohort sizes spread
// like independent draws: the z scores of the experiment and control
// counts have mean near 0 and variance near 1 (a hash that clumps keys
// shows a variance well above 1).
func TestCohortHashSpreadsLikeIndependentDraws(t *testing.T) {
	t.Parallel()
	const keys, exps = 20_000, 40
	shapes := map[string]func(i int) string{
		"tenant":  func(i int) string { return "tenant-" + strconv.Itoa(i) },
		"address": func(i int) string { return fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 40000+i%20000) },
		"short":   func(i int) string { return strconv.FormatInt(int64(i), 36) },
		"api key": func(i int) string { return fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15) },
	}
	for name, shape := range shapes {
		ks := make([]string, keys)
		for i := range ks {
			ks[i] = shape(i)
		}
		for _, rate := range []float64{0.01, 0.05, 0.25} {
			var zs []float64
			sigma := math.Sqrt(keys * rate * (1 - rate))
			e := cut(rate)
			for x := range exps {
				s := salt("exp-" + strconv.Itoa(x))
				var inExp, inControl int
				for _, k := range ks {
					switch h := cohortHash(s, k); {
					case h < e:
						inExp++
					case h-e < e:
						inControl++
					}
				}
				zs = append(zs, (float64(inExp)-keys*rate)/sigma, (float64(inControl)-keys*rate)/sigma)
			}
			var mean, v float64
			for _, z := range zs {
				mean += z
			}
			mean /= float64(len(zs))
			for _, z := range zs {
				v += (z - mean) * (z - mean)
			}
			v /= float64(len(zs) - 1)
			assert.Less(t, math.Abs(mean), 0.5, "%s keys at rate %v: mean z", name, rate)
			assert.Less(t, v, 1.7, "%s keys at rate %v: variance of z", name, rate)
		}
	}
}
