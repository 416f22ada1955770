package main

// Paired estimates. run.sh runs the benchmark set in rounds, one sample of
// every row per round, so sample i of every row comes from round i, taken
// within seconds of each other. The machine's speed drifts between rounds
// (by 1.6x within minutes on a shared VM), which moves every row of a round
// together: a ratio or difference of two rows taken within each round, then
// the median over rounds, cancels that drift, where a ratio of two medians
// can pair a fast round of one row with a slow round of the other.

// rounds returns the samples of each key, in round order; a key missing
// from the data has none.
type rounds func(b, impl string, procs int) []float64

// pairedMedian returns the median over rounds of f applied to the i-th
// sample of each of rows, and false when a row has no samples or the rows
// have different counts (a run cut short).
func pairedMedian(f func(v []float64) float64, rows ...[]float64) (float64, bool) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return 0, false
	}
	n := len(rows[0])
	for _, r := range rows {
		if len(r) != n {
			return 0, false
		}
	}
	per := make([]float64, n)
	v := make([]float64, len(rows))
	for i := range n {
		for j, r := range rows {
			v[j] = r[i]
		}
		per[i] = f(v)
	}
	return median(per), true
}

// overheadRatio is (x - bare) / (ours - bare): a row's overhead over the
// bare route in units of ours, for rows {bare, ours, x}.
func overheadRatio(v []float64) float64 { return (v[2] - v[0]) / (v[1] - v[0]) }
