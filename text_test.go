package baldur_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestEmergencyLevelText checks the spellings a level reads from as text
// (a JSON map key) and as a JSON value, and that it writes them back.
func TestEmergencyLevelText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]baldur.EmergencyLevel{
		"0": baldur.LevelNormal, "NORMAL": baldur.LevelNormal, "normal": baldur.LevelNormal, "LEVEL_0": baldur.LevelNormal,
		"1": baldur.Level1, "LEVEL_1": baldur.Level1, "level_2": baldur.Level2, "Level_3": baldur.Level3, "3": baldur.Level3,
	} {
		var l baldur.EmergencyLevel
		require.NoError(t, l.UnmarshalText([]byte(in)), in)
		assert.Equal(t, want, l, in)
		text, err := l.MarshalText()
		require.NoError(t, err)
		var back baldur.EmergencyLevel
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, l, back)
	}
	for _, in := range []string{"", "4", "-1", "LEVEL_", "LEVEL_4", "UNKNOWN", "high", " 1"} {
		var l baldur.EmergencyLevel
		assert.Error(t, l.UnmarshalText([]byte(in)), "%q", in)
	}
	_, err := baldur.LevelUnknown.MarshalText()
	assert.Error(t, err)

	var m map[baldur.EmergencyLevel]int
	require.NoError(t, json.Unmarshal([]byte(`{"2": 1, "LEVEL_3": 2}`), &m))
	assert.Equal(t, map[baldur.EmergencyLevel]int{baldur.Level2: 1, baldur.Level3: 2}, m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"LEVEL_2": 1, "LEVEL_3": 2}`, string(out))

	var v struct{ L baldur.EmergencyLevel }
	require.NoError(t, json.Unmarshal([]byte(`{"L": 2}`), &v))
	assert.Equal(t, baldur.Level2, v.L)
	require.NoError(t, json.Unmarshal([]byte(`{"L": "LEVEL_1"}`), &v))
	assert.Equal(t, baldur.Level1, v.L)
	require.NoError(t, json.Unmarshal([]byte(`{"L": null}`), &v))
	assert.Equal(t, baldur.Level1, v.L, "null leaves the level as it was")
	for _, in := range []string{`4`, `-1`, `1.5`, `true`, `"9"`, `300`} {
		assert.Error(t, json.Unmarshal([]byte(`{"L": `+in+`}`), &v), in)
	}
	out, err = json.Marshal(struct{ L baldur.EmergencyLevel }{baldur.Level3})
	require.NoError(t, err)
	assert.JSONEq(t, `{"L": 3}`, string(out), "a level value is written as its number")
}

// TestTierText checks that a tier reads and writes as its name, in JSON
// values and map keys, "non-essential" included.
func TestTierText(t *testing.T) {
	t.Parallel()
	var m map[baldur.Tier]int
	require.NoError(t, json.Unmarshal([]byte(`{"critical": 1, "non-essential": 2, "standard": 3}`), &m))
	assert.Equal(t, map[baldur.Tier]int{baldur.TierCritical: 1, baldur.TierNonEssential: 2, baldur.TierStandard: 3}, m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"critical": 1, "non_essential": 2, "standard": 3}`, string(out))
	require.Error(t, json.Unmarshal([]byte(`{"gold": 1}`), &m))
	_, err = baldur.Tier(7).MarshalText()
	assert.Error(t, err)
}
