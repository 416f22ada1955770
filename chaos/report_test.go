package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
)

// runFull drives a latency experiment through before, during and after
// with traffic in both cohorts: the experiment cohort slows down and
// fails during injection only.
func runFull(t *testing.T) (*env, chaos.Report) {
	t.Helper()
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("full", 0.5)
	x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(time.Nanosecond)}
	x.Duration = baldur.Duration(20 * time.Second)
	x.DryRun = true // the test plays the outcomes itself
	ctx := context.Background()
	_, err := e.sc.Schedule(ctx, x)
	require.NoError(t, err)
	e.sc.Tick(ctx)
	_, fault := e.inj.Gates("api")
	exp, ctl := firstKey(t, "full", 0.5, "experiment"), firstKey(t, "full", 0.5, "control")
	for sec := 0; sec < 45; sec++ {
		r, _ := e.sc.Get("full")
		for range 10 {
			for _, k := range []string{exp, ctl} {
				p, err := fault.Admit(ctx, call(e.clk.Now(), k))
				require.NoError(t, err)
				o := baldur.Outcome{Result: baldur.Success, Latency: 2 * time.Millisecond}
				if k == exp && r.State == chaos.StateDuring {
					o.Latency = 40 * time.Millisecond
				}
				p.Release(o)
			}
		}
		e.advance(time.Second)
	}
	r, _ := e.sc.Get("full")
	require.Equal(t, chaos.StateDone, r.State)
	rep, err := e.sc.Generate(ctx, "full")
	require.NoError(t, err)
	return e, rep
}

func TestReportStatesBeforeDuringAfterPerCohort(t *testing.T) {
	t.Parallel()
	_, rep := runFull(t)
	for _, c := range []chaos.CohortReport{rep.Experiment, rep.Control} {
		assert.NotZero(t, c.Before.Calls)
		assert.NotZero(t, c.During.Calls)
		assert.NotZero(t, c.After.Calls)
		assert.Equal(t, 1.0, c.During.SuccessRate)
	}
	assert.Greater(t, rep.Experiment.During.P99.D(), 35*time.Millisecond)
	assert.Less(t, rep.Control.During.P99.D(), 3*time.Millisecond)
	assert.Less(t, rep.Experiment.After.P99.D(), 3*time.Millisecond, "recovered")
	assert.NotEmpty(t, rep.Series)
	assert.Equal(t, chaos.VerdictInconclusive, rep.Verdict, "a dry run judges nothing")

	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back chaos.Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rep.Experiment.During.P99, back.Experiment.During.P99)

	md := string(chaos.Markdown(rep))
	assert.Contains(t, md, "# Chaos experiment full")
	assert.Contains(t, md, "| p99 |")
	html, err := chaos.HTML(rep, "full/report/chart.png")
	require.NoError(t, err)
	assert.Contains(t, string(html), `<img src="full/report/chart.png"`)

	pngBytes, err := chaos.Chart(rep)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(pngBytes))
	require.NoError(t, err)
	assert.Equal(t, 800, img.Bounds().Dx())
	// Both cohorts' colours are drawn.
	var red, blue int
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			switch {
			case r>>8 == 0xd6 && g>>8 == 0x27 && b>>8 == 0x28:
				red++
			case r>>8 == 0x1f && g>>8 == 0x77 && b>>8 == 0xb4:
				blue++
			}
		}
	}
	assert.Greater(t, red, 200)
	assert.Greater(t, blue, 200)
}

func TestReportEscapesOperatorText(t *testing.T) {
	t.Parallel()
	rep := chaos.Report{ExperimentID: "x", Hypothesis: "<script>alert(1)</script> | pipe"}
	html, err := chaos.HTML(rep, "")
	require.NoError(t, err)
	assert.NotContains(t, string(html), "<script>")
	assert.Contains(t, string(chaos.Markdown(rep)), `\| pipe`)
}

func TestVerdictHeldAndRefuted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5; c.MaxErrorRateDelta = 1 })
	x := errorExp("v", 0.5)
	x.Duration = baldur.Duration(20 * time.Second)
	ctx := context.Background()
	_, err := e.sc.Schedule(ctx, x)
	require.NoError(t, err)
	e.sc.Tick(ctx)
	_, fault := e.inj.Gates("api")
	exp, ctl := firstKey(t, "v", 0.5, "experiment"), firstKey(t, "v", 0.5, "control")
	for range 45 {
		for range 5 {
			for _, k := range []string{exp, ctl} {
				p, err := fault.Admit(ctx, call(e.clk.Now(), k))
				if err != nil {
					continue // injected
				}
				p.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
			}
		}
		e.advance(time.Second)
	}
	rep, err := e.sc.Generate(ctx, "v")
	require.NoError(t, err)
	assert.Equal(t, chaos.StateDone, rep.State)
	assert.Equal(t, chaos.VerdictHeld, rep.Verdict, rep.VerdictDetail)
	assert.EqualValues(t, 100, rep.Experiment.During.Injected)
	assert.EqualValues(t, 100, rep.Experiment.During.Rejected["injected_fault"])
	assert.Zero(t, rep.Control.During.Injected, "control untouched")
	assert.Equal(t, 1.0, rep.Control.During.SuccessRate)
	assert.Greater(t, rep.ErrorRateZ, 5.0)
}

func TestTTLCheckObservesAndStopsOverdueExperiments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.toDuring(t, errorExp("late", 0.05))
	chk := e.sc.TTLCheck()
	assert.Equal(t, "chaos_ttl", chk.Name())
	ctx := context.Background()
	obs, err := chk.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	assert.Empty(t, obs, "within its deadline")
	// The scheduler's passes stopped (no Tick) and time ran past the TTL.
	late := e.clk.Now().Add(11 * time.Minute)
	obs, err = chk.Observe(ctx, late)
	require.NoError(t, err)
	require.Len(t, obs, 1)
	assert.Equal(t, "late", obs[0].Subject)
	assert.Equal(t, "stop_experiment", obs[0].Action)
	assert.True(t, obs[0].Page)
	r, _ := e.sc.Get("late")
	require.Equal(t, chaos.StateDuring, r.State, "Observe changes nothing")
	require.NoError(t, obs[0].Apply(ctx, 0))
	r, _ = e.sc.Get("late")
	assert.Equal(t, chaos.StateAborted, r.State)
	assert.Equal(t, "ttl", r.StopReason)
	require.NoError(t, obs[0].Apply(ctx, 0), "idempotent")
	obs, _ = chk.Observe(ctx, late)
	assert.Empty(t, obs)
}
