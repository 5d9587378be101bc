package common

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// Node-RED 4.1.15's inject node runs its crontab with the cronosjs package
// (1.7.1), in the machine's local time zone. Runnel reads the same dialect
// here: this file checks an expression against cronosjs's grammar and
// rewrites it, field by field, into a form that github.com/netresearch/go-cron
// computes the next times of. The rewriting expands every item into the
// values cronosjs gives it (so its wrap-around ranges, its steps larger than
// a range, and its day of week 7 read as cronosjs reads them), and keeps `*`
// where cronosjs treats a day field as "any day", which go-cron's legacy
// day-of-month OR day-of-week rule then handles as cronosjs does.

// cronParser is go-cron with 7 fields (second to year), L, W, #n and #L,
// and Vixie cron's OR of day of month and day of week, as cronosjs does.
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month |
	cron.Dow | cron.Year | cron.Extended | cron.DowOrDom).WithMaxSearchYears(cronSearchYears)

// cronSearchYears is how far ahead a next time is looked for; beyond it a
// schedule is taken to match nothing more.
const cronSearchYears = 30

// cronosPredefined are cronosjs's named schedules (second to year).
var cronosPredefined = map[string]string{
	"@yearly":   "0 0 0 1 1 * *",
	"@annually": "0 0 0 1 1 * *",
	"@monthly":  "0 0 0 1 * * *",
	"@weekly":   "0 0 0 * * 0 *",
	"@daily":    "0 0 0 * * * *",
	"@midnight": "0 0 0 * * * *",
	"@hourly":   "0 0 * * * * *",
}

var (
	cronMonthNames = strings.NewReplacer("jan", "1", "feb", "2", "mar", "3", "apr", "4", "may", "5", "jun", "6",
		"jul", "7", "aug", "8", "sep", "9", "oct", "10", "nov", "11", "dec", "12")
	cronDayNames = strings.NewReplacer("sun", "0", "mon", "1", "tue", "2", "wed", "3", "thu", "4", "fri", "5", "sat", "6")
	// cronItem is one item of a field: *, N or N-M, with an optional /step.
	cronItem = regexp.MustCompile(`^(?:(\*)|([0-9]+)|([0-9]+-[0-9]+))(?:/([1-9][0-9]*))?$`)
)

// cronItemValues is one item of a field read as cronosjs reads it.
type cronItemValues struct {
	any    bool // * (or ?) alone, without a step
	values []int
}

// parseCronItem reads one item of a field whose values run from first to
// last; cyclic fields accept ranges that wrap (FRI-MON), and dow maps 7
// to 0.
func parseCronItem(item string, first, last int, cyclic, dow bool) (cronItemValues, error) {
	m := cronItem.FindStringSubmatch(item)
	if m == nil {
		return cronItemValues{}, fmt.Errorf("%q is not *, a number or a range, with an optional /step", item)
	}
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n > 1<<30 {
			return 0, fmt.Errorf("%q is out of range %d-%d", item, first, last)
		}
		if dow && n == 7 {
			n = 0
		}
		if n < first || n > last {
			return 0, fmt.Errorf("%q is out of range %d-%d", item, first, last)
		}
		return n, nil
	}
	step := 1
	if m[4] != "" {
		s, err := strconv.Atoi(m[4])
		if err != nil {
			s = 1 << 30 // a step that large leaves the start alone
		}
		step = s
	}
	start, end := first, last
	switch {
	case m[2] != "":
		n, err := num(m[2])
		if err != nil {
			return cronItemValues{}, err
		}
		start, end = n, n
		if m[4] != "" {
			end = last
		}
	case m[3] != "":
		a, b, _ := strings.Cut(m[3], "-")
		from, err := num(a)
		if err != nil {
			return cronItemValues{}, err
		}
		to, err := num(b)
		if err != nil {
			return cronItemValues{}, err
		}
		if to < from && !cyclic {
			return cronItemValues{}, fmt.Errorf("%q: a range in this field cannot wrap around", item)
		}
		start, end = from, to
	}
	span := end - start
	if end < start {
		span = last - start + end - first + 1
	}
	var vals []int
	for i := 0; i*step <= span; i++ {
		vals = append(vals, first+(start-first+step*i)%(last-first+1))
	}
	return cronItemValues{any: m[1] != "" && step == 1, values: vals}, nil
}

// parseCronField reads a field of plain items (seconds, minutes, hours,
// months) into go-cron's syntax: * or a list of numbers.
func parseCronField(field string, first, last int) (string, error) {
	seen := map[int]bool{}
	for _, item := range strings.Split(field, ",") {
		v, err := parseCronItem(item, first, last, true, false)
		if err != nil {
			return "", err
		}
		if v.any {
			return "*", nil // * in a list selects every value
		}
		for _, n := range v.values {
			seen[n] = true
		}
	}
	return cronList(seen, first, last, ""), nil
}

// cronList writes the values in seen in order, each followed by suffix.
func cronList(seen map[int]bool, first, last int, suffix string) string {
	var b strings.Builder
	for n := first; n <= last; n++ {
		if seen[n] {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(n))
			b.WriteString(suffix)
		}
	}
	return b.String()
}

// parseCronDays reads the day-of-month and day-of-week fields. As in
// cronosjs, * or ? alone means no restriction and is dropped from a list;
// when both fields restrict, a day matching either one is chosen.
func parseCronDays(dom, dow string) (string, string, error) {
	var domOut []string
	days := map[int]bool{}
	for _, item := range strings.Split(dom, ",") {
		switch {
		case item == "?":
			continue
		case item == "l", item == "lw":
			domOut = append(domOut, strings.ToUpper(item))
			continue
		}
		suffix := ""
		if strings.HasSuffix(item, "w") {
			item, suffix = strings.TrimSuffix(item, "w"), "W"
		}
		v, err := parseCronItem(item, 1, 31, false, false)
		if err != nil {
			return "", "", fmt.Errorf("day of month: %w", err)
		}
		if suffix == "" {
			if v.any {
				continue
			}
			for _, n := range v.values {
				days[n] = true
			}
			continue
		}
		for _, n := range v.values {
			if n == 31 {
				// cronosjs takes the weekday nearest the month's last day
				// when it has no 31st.
				domOut = append(domOut, "LW")
			} else {
				domOut = append(domOut, strconv.Itoa(n)+"W")
			}
		}
	}
	if l := cronList(days, 1, 31, ""); l != "" {
		domOut = append([]string{l}, domOut...)
	}
	var dowOut []string
	wdays := map[int]bool{}
	for _, item := range strings.Split(dow, ",") {
		if item == "?" {
			continue
		}
		suffix := ""
		if strings.HasSuffix(item, "l") {
			item, suffix = strings.TrimSuffix(item, "l"), "#L"
		} else if i := strings.LastIndexByte(item, '#'); i >= 0 {
			nth := item[i+1:]
			if len(nth) != 1 || nth[0] < '1' || nth[0] > '5' {
				return "", "", fmt.Errorf("day of week: %q: # takes a number from 1 to 5", item)
			}
			item, suffix = item[:i], "#"+nth
		}
		v, err := parseCronItem(item, 0, 6, true, true)
		if err != nil {
			return "", "", fmt.Errorf("day of week: %w", err)
		}
		if suffix == "" {
			if v.any {
				continue
			}
			for _, n := range v.values {
				wdays[n] = true
			}
			continue
		}
		for _, n := range v.values {
			dowOut = append(dowOut, strconv.Itoa(n)+suffix)
		}
	}
	if l := cronList(wdays, 0, 6, ""); l != "" {
		dowOut = append([]string{l}, dowOut...)
	}
	d, w := strings.Join(domOut, ","), strings.Join(dowOut, ",")
	switch {
	case d == "" && w == "":
		return "*", "*", nil
	case d == "":
		d = "*"
	case w == "":
		w = "*"
	}
	return d, w, nil
}

// parseCronYear checks the year field against cronosjs's grammar; go-cron
// reads it as it is.
func parseCronYear(field string) (string, error) {
	for _, item := range strings.Split(field, ",") {
		m := cronItem.FindStringSubmatch(item)
		if m == nil {
			return "", fmt.Errorf("year: %q is not *, a number or a range, with an optional /step", item)
		}
		if m[3] != "" {
			a, b, _ := strings.Cut(m[3], "-")
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			if y < x {
				return "", fmt.Errorf("year: %q: a range of years cannot wrap around", item)
			}
		}
	}
	return field, nil
}

// crontabSpec rewrites a crontab in Node-RED's (cronosjs's) dialect into
// go-cron's 7 fields: second, minute, hour, day of month, month, day of
// week, year.
func crontabSpec(s string) (string, error) {
	expr := strings.ToLower(strings.TrimSpace(s))
	if p, ok := cronosPredefined[expr]; ok {
		expr = p
	}
	f := strings.Fields(expr)
	switch len(f) {
	case 5:
		f = append(append([]string{"0"}, f...), "*")
	case 6:
		f = append(f, "*")
	case 7:
	default:
		return "", fmt.Errorf("%d fields: want 5 (minute hour day month weekday), 6 (with seconds first) or 7 (and a year last)", len(f))
	}
	out := make([]string, 7)
	var err error
	for i, spec := range []struct {
		name        string
		first, last int
	}{{"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23}} {
		if out[i], err = parseCronField(f[i], spec.first, spec.last); err != nil {
			return "", fmt.Errorf("%s: %w", spec.name, err)
		}
	}
	if out[4], err = parseCronField(cronMonthNames.Replace(f[4]), 1, 12); err != nil {
		return "", fmt.Errorf("month: %w", err)
	}
	if out[3], out[5], err = parseCronDays(f[3], cronDayNames.Replace(f[5])); err != nil {
		return "", err
	}
	if out[6], err = parseCronYear(f[6]); err != nil {
		return "", err
	}
	return strings.Join(out, " "), nil
}

// crontab is a parsed crontab schedule in a time zone.
type crontab struct {
	sched cron.Schedule
	loc   *time.Location
}

// parseCrontab reads a crontab as Node-RED's inject node runs it, in loc.
func parseCrontab(s string, loc *time.Location) (*crontab, error) {
	spec, err := crontabSpec(s)
	if err != nil {
		return nil, err
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	return &crontab{sched: sched, loc: loc}, nil
}

// errNoNextTime is returned for a schedule that matches no time ahead.
var errNoNextTime = errors.New("matches no time in the next 30 years")

// Next returns the first time after t that the schedule matches, or the
// zero time when there is none. Around daylight saving changes it does
// what cronosjs does by default: a time that the clock skips fires at the
// change; in the hour the clock repeats, times fire in its first pass only.
func (c *crontab) Next(t time.Time) time.Time {
	t = t.In(c.loc)
	for range 4000 { // a repeated hour holds at most 3600 matches
		n := c.sched.Next(t)
		if n.IsZero() {
			return n
		}
		if repeatedPass(n) {
			t = n
			continue
		}
		if ch, ok := gapEnd(n); ok && !cron.Matches(c.sched, n) {
			// go-cron moved a time in the clock's gap past it: cronosjs
			// fires at the change instead, once.
			if ch.After(t) {
				return ch
			}
			t = n
			continue
		}
		return n
	}
	return time.Time{}
}

// repeatedPass tells whether t is in the second pass of an hour that the
// clock repeats (when daylight saving time ends).
func repeatedPass(t time.Time) bool {
	_, off := t.Zone()
	_, before := t.Add(-3 * time.Hour).Zone()
	if before <= off {
		return false
	}
	_, o := t.Add(-time.Duration(before-off) * time.Second).Zone()
	return o == before
}

// gapEnd tells whether t comes less than the size of a gap after the
// clock skipped forward (when daylight saving time starts), as a time in
// the gap moved forward comes, and returns the instant of the skip.
func gapEnd(t time.Time) (time.Time, bool) {
	_, off := t.Zone()
	lo := t.Add(-3 * time.Hour)
	_, before := lo.Zone()
	if before >= off {
		return time.Time{}, false
	}
	hi := t
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if _, o := mid.Zone(); o == off {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, t.Sub(hi) < time.Duration(off-before)*time.Second
}
