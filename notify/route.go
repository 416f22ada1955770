package notify

// route is one compiled route: its matcher and the channels it adds.
type route struct {
	match Matcher
	mask  uint64
	cont  bool
}

// Route sends the notifications its matcher selects to Channels; the first
// matching route decides, unless it says Continue, in which case the next
// matching route adds its channels too.
type Route struct {
	Match    Matcher  `json:"match"`
	Channels []string `json:"channels"`
	Continue bool     `json:"continue,omitempty"`
}

func compileRoutes(rs []Route, chs []*channel) []route {
	idx := map[string]int{}
	for i, c := range chs {
		idx[c.name] = i
	}
	if len(rs) == 0 {
		// The default tree: logs take everything, chat WARNING and above,
		// PagerDuty CRITICAL.
		var all, chat, page uint64
		for i, c := range chs {
			switch c.kind {
			case TypeLog:
				all |= 1 << i
			case TypePagerDuty:
				page |= 1 << i
			default:
				chat |= 1 << i
			}
		}
		w, crit := PriorityWarning, PriorityCritical
		return []route{
			{mask: all, cont: true},
			{match: Matcher{MinPriority: &w}, mask: chat, cont: true},
			{match: Matcher{MinPriority: &crit}, mask: page},
		}
	}
	out := make([]route, len(rs))
	for i, r := range rs {
		out[i] = route{match: r.Match, cont: r.Continue}
		for _, n := range r.Channels {
			out[i].mask |= 1 << idx[n]
		}
	}
	return out
}

// route returns the channels of n at priority prio as a bit set.
func (p *Pipeline) route(n *Notification, prio Priority, _ bool) uint64 {
	var mask uint64
	for i := range p.routes {
		r := &p.routes[i]
		if !r.match.Matches(n, prio) {
			continue
		}
		mask |= r.mask
		if !r.cont {
			break
		}
	}
	return mask
}
