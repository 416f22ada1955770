package chaos

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"
)

// Markdown renders r as a Markdown page: the summary, the verdict, then
// one table per cohort with a column per phase.
func Markdown(r Report) []byte {
	var b bytes.Buffer
	esc := func(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s) }
	fmt.Fprintf(&b, "# Chaos experiment %s\n\n", esc(r.ExperimentID))
	if r.Hypothesis != "" {
		fmt.Fprintf(&b, "Hypothesis: %s\n\n", esc(r.Hypothesis))
	}
	fmt.Fprintf(&b, "- fault: %s; target: %s; rate %g (control cohort the same size); dry run %v\n",
		faultString(r.Fault), esc(targetString(r.Target)), r.Rate, r.DryRun)
	fmt.Fprintf(&b, "- state: %s", r.State)
	if r.StopReason != "" {
		fmt.Fprintf(&b, "; stopped: %s (%s)", esc(r.StopReason), esc(r.Detail))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- window: %s; injection %s to %s\n", stamp(r.StartedAt), stamp(r.InjectAt), stamp(r.InjectEnd))
	fmt.Fprintf(&b, "- error budget: %.1f %% before, %.1f %% after\n", r.BudgetBeforePct, r.BudgetAfterPct)
	fmt.Fprintf(&b, "- **verdict: %s**: %s (error-rate z = %.2f)\n\n", r.Verdict, esc(r.VerdictDetail), r.ErrorRateZ)
	for _, c := range []struct {
		name string
		cr   CohortReport
	}{{"Experiment cohort", r.Experiment}, {"Control cohort", r.Control}} {
		fmt.Fprintf(&b, "## %s\n\n| | before | during | after |\n|---|---:|---:|---:|\n", c.name)
		for _, row := range rows(c.cr) {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row[0], row[1], row[2], row[3])
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

func faultString(f Fault) string {
	switch f.Kind {
	case FaultLatency:
		s := "latency " + f.Delay.String()
		if f.Distribution != "" && f.Distribution != Fixed {
			s += " + " + string(f.Distribution) + " " + f.Jitter.String()
		}
		return s
	case FaultError:
		return fmt.Sprintf("error (HTTP %d, gRPC code %d)", f.HTTPStatus, f.GRPCCode)
	}
	return string(f.Kind)
}

// rows are a cohort's table: label, before, during, after.
func rows(c CohortReport) [][4]string {
	ps := []PhaseStats{c.Before, c.During, c.After}
	row := func(label string, f func(PhaseStats) string) [4]string {
		return [4]string{label, f(ps[0]), f(ps[1]), f(ps[2])}
	}
	out := [][4]string{
		row("calls", func(p PhaseStats) string { return fmt.Sprint(p.Calls) }),
		row("success rate", func(p PhaseStats) string { return fmt.Sprintf("%.1f %%", 100*p.SuccessRate) }),
		row("failures", func(p PhaseStats) string { return fmt.Sprint(p.Failures) }),
		row("injected errors", func(p PhaseStats) string { return fmt.Sprint(p.Injected) }),
		row("delayed", func(p PhaseStats) string { return fmt.Sprint(p.Delayed) }),
		row("would inject (dry run)", func(p PhaseStats) string { return fmt.Sprint(p.WouldInject) }),
		row("p50", func(p PhaseStats) string { return p.P50.String() }),
		row("p95", func(p PhaseStats) string { return p.P95.String() }),
		row("p99", func(p PhaseStats) string { return p.P99.String() }),
		row("breakers opened / closed", func(p PhaseStats) string { return fmt.Sprintf("%d / %d", p.BreakerOpened, p.BreakerClosed) }),
	}
	reasons := map[string]bool{}
	for _, p := range ps {
		for k := range p.Rejected {
			reasons[k] = true
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, row("rejected: "+k, func(p PhaseStats) string { return fmt.Sprint(p.Rejected[k]) }))
	}
	return out
}

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Chaos experiment {{.R.ExperimentID}}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child{text-align:left}
.exp{color:#d62728}.ctl{color:#1f77b4}</style></head><body>
<h1>Chaos experiment {{.R.ExperimentID}}</h1>
{{if .R.Hypothesis}}<p>Hypothesis: {{.R.Hypothesis}}</p>{{end}}
<ul><li>fault: {{.Fault}}; target: {{.Target}}; rate {{.R.Rate}}; dry run {{.R.DryRun}}</li>
<li>state: {{.R.State}}{{if .R.StopReason}}; stopped: {{.R.StopReason}} ({{.R.Detail}}){{end}}</li>
<li>error budget: {{printf "%.1f" .R.BudgetBeforePct}} % before, {{printf "%.1f" .R.BudgetAfterPct}} % after</li>
<li><b>verdict: {{.R.Verdict}}</b>: {{.R.VerdictDetail}} (error-rate z = {{printf "%.2f" .R.ErrorRateZ}})</li></ul>
{{if .Chart}}<p><img src="{{.Chart}}" alt="success rate and p99 of both cohorts over time">
<br><span class="exp">&#9632; experiment</span> <span class="ctl">&#9632; control</span>; injection shaded</p>{{end}}
{{range .Cohorts}}<h2>{{.Name}}</h2><table><tr><th></th><th>before</th><th>during</th><th>after</th></tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
</body></html>
`))

// HTML renders r as an HTML page; chartURL, when not empty, is the
// address of its PNG chart (the admin API's .../report/chart.png).
func HTML(r Report, chartURL string) ([]byte, error) {
	type cohortRows struct {
		Name string
		Rows [][4]string
	}
	data := struct {
		R             Report
		Fault, Target string
		Chart         string
		Cohorts       []cohortRows
	}{R: r, Fault: faultString(r.Fault), Target: targetString(r.Target), Chart: chartURL,
		Cohorts: []cohortRows{{"Experiment cohort", rows(r.Experiment)}, {"Control cohort", rows(r.Control)}}}
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
