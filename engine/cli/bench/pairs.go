package bench

import "slices"

// runOrder returns the order of the load runs of n targets with runs runs
// each: round i holds the indices of the targets to run once each, one
// after the other. The rounds alternate the order (0, 1, …, n-1, then
// n-1, …, 1, 0, …), so that no target always runs first: on a machine
// whose speed drifts over minutes, run i of every target then sees about
// the same machine.
func runOrder(n, runs int) [][]int {
	rounds := make([][]int, runs)
	for i := range rounds {
		r := make([]int, n)
		for k := range r {
			r[k] = k
		}
		if i%2 == 1 {
			slices.Reverse(r)
		}
		rounds[i] = r
	}
	return rounds
}

// runPair is runnel's figure over the other target's (mosquitto, say) in
// one pair of runs: run i of each, done one right after the other. A
// ratio is nil when either figure is 0 (no message received, or less than
// one clock tick of server CPU).
type runPair struct {
	Run             int      `json:"run"`   // 1-based, as in the per-run table
	First           string   `json:"first"` // the target that ran first in the pair
	Throughput      *float64 `json:"msg_per_s_ratio"`
	P50             *float64 `json:"p50_ratio"`
	P99             *float64 `json:"p99_ratio"`
	ServerCPUPerMsg *float64 `json:"server_cpu_per_msg_ratio"`
}

// pairedSummary sums up one figure's ratios over the pairs that have one.
type pairedSummary struct {
	Median    float64 `json:"median_ratio"`
	AtOrBelow int     `json:"runnel_at_or_below"` // pairs in which runnel's figure was at or below the other's
	AtOrAbove int     `json:"runnel_at_or_above"` // pairs in which runnel's figure was at or above the other's
	Pairs     int     `json:"pairs"`              // pairs with a ratio
}

// pairedRatios are the runnel/other ratios pair by pair, and their
// medians. Unlike the ratio of the two medians, each ratio compares two
// runs done at about the same time, so a drift of the machine's speed
// over the whole bench affects it less.
type pairedRatios struct {
	Pairs           []runPair     `json:"pairs"`
	Throughput      pairedSummary `json:"msg_per_s"`
	P50             pairedSummary `json:"p50"`
	P99             pairedSummary `json:"p99"`
	ServerCPUPerMsg pairedSummary `json:"server_cpu_per_msg"`
}

// pairRuns pairs runnel's run i with the other target's (mosquitto's)
// run i, for the runs both completed; first[i] is the target that ran first in pair i (missing:
// unknown). It returns nil when there is no pair.
func pairRuns(runnel, mosquitto []loadResult, first []string) *pairedRatios {
	n := min(len(runnel), len(mosquitto))
	if n == 0 {
		return nil
	}
	p := &pairedRatios{Pairs: make([]runPair, n)}
	var tput, p50, p99, cpu []float64
	for i := range n {
		r, m := &runnel[i], &mosquitto[i]
		pr := runPair{Run: i + 1}
		if i < len(first) {
			pr.First = first[i]
		}
		pr.Throughput = pairedFigure(r.MsgPerSec, m.MsgPerSec, &tput, &p.Throughput)
		pr.P50 = pairedFigure(r.P50us, m.P50us, &p50, &p.P50)
		pr.P99 = pairedFigure(r.P99us, m.P99us, &p99, &p.P99)
		pr.ServerCPUPerMsg = pairedFigure(r.ServerCPUus, m.ServerCPUus, &cpu, &p.ServerCPUPerMsg)
		p.Pairs[i] = pr
	}
	p.Throughput.Median = median(tput)
	p.P50.Median = median(p50)
	p.P99.Median = median(p99)
	p.ServerCPUPerMsg.Median = median(cpu)
	return p
}

// pairedFigure returns r/m, appends it to ratios and counts it in s, or
// returns nil when either figure is 0.
func pairedFigure(r, m float64, ratios *[]float64, s *pairedSummary) *float64 {
	if r <= 0 || m <= 0 {
		return nil
	}
	v := r / m
	*ratios = append(*ratios, v)
	s.Pairs++
	if r <= m { // the figures, not the rounded ratio
		s.AtOrBelow++
	}
	if r >= m {
		s.AtOrAbove++
	}
	return &v
}
