package farm

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// nodeDecoder fills a Spec from a YAML node tree, field by field, so that
// every problem (an unknown key, a value of the wrong kind, a bad
// duration, a number out of range) is found at once and reported at the
// node's own line, with the role and the field, in the words of the file.
type nodeDecoder struct {
	file string
	errs []*FieldError
	// unknownIn are the paths of mappings that had an unknown key: what
	// validation finds wrong with them as a whole (a missing port) is most
	// likely that key, misspelt.
	unknownIn []string
}

// decodeCtx is where in the file a node is.
type decodeCtx struct {
	path string // full path: "roles[1].health_checks[0].port"
	role string // the role's name, when inside a role
	rel  string // path inside the role (or the full path outside one)
}

func (c decodeCtx) key(k string) decodeCtx {
	return decodeCtx{path: joinPath(c.path, k), role: c.role, rel: joinPath(c.rel, k)}
}

func (c decodeCtx) index(i int) decodeCtx {
	s := fmt.Sprintf("[%d]", i)
	return decodeCtx{path: c.path + s, role: c.role, rel: c.rel + s}
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func (d *nodeDecoder) fail(n *yaml.Node, c decodeCtx, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.rel != "" {
		msg = c.rel + ": " + msg
	}
	d.errs = append(d.errs, &FieldError{Path: c.path, Role: c.role, Msg: msg, File: d.file, Line: n.Line})
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	roleSpecType = reflect.TypeOf(RoleSpec{})
)

// typeWords names the Go types of a farm file as its reader knows them.
var typeWords = map[reflect.Type]string{
	reflect.TypeOf(Spec{}):            "a farm",
	roleSpecType:                      "a role",
	reflect.TypeOf(HealthCheckSpec{}): "a health check",
	reflect.TypeOf(ScriptBinding{}):   "a script binding",
	reflect.TypeOf(ScalingSpec{}):     "a scaling section",
	reflect.TypeOf(ThresholdSpec{}):   "a threshold",
	reflect.TypeOf(TargetSpec{}):      "a target",
	reflect.TypeOf(ScheduleSpec{}):    "a schedule",
	reflect.TypeOf(WindowSpec{}):      "a schedule window",
	reflect.TypeOf(APISpec{}):         "an api section",
	reflect.TypeOf(DNSName{}):         "a dns name",
	reflect.TypeOf(DatabaseSpec{}):    "a database section",
	reflect.TypeOf(NFSSpec{}):         "an nfs section",
}

// wantWords says what a value of type t is written as.
func wantWords(t reflect.Type) string {
	if w, ok := typeWords[t]; ok {
		return w + " (key: value lines)"
	}
	if t == durationType {
		return `a duration such as "30s" or "10m"`
	}
	switch t.Kind() {
	case reflect.Pointer:
		return wantWords(t.Elem())
	case reflect.String:
		return "a text value"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.Map:
		return "a mapping of names to " + plural(t.Elem())
	case reflect.Struct:
		return "a mapping (key: value lines)"
	}
	return t.String()
}

// plural names several values of type t: "text values", "roles".
func plural(t reflect.Type) string {
	w := strings.TrimSuffix(wantWords(t), " (key: value lines)")
	w = strings.TrimPrefix(strings.TrimPrefix(w, "a "), "an ")
	switch {
	case t == durationType:
		return "durations"
	case t.Kind() == reflect.Bool:
		return "true or false values"
	case strings.HasSuffix(w, " value"), strings.HasSuffix(w, " number"):
		return w + "s"
	}
	if _, named := typeWords[t]; named {
		return w + "s"
	}
	return w
}

// gotWords says what a node holds.
func gotWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// decode fills v (settable) from n.
func (d *nodeDecoder) decode(n *yaml.Node, v reflect.Value, c decodeCtx) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value leaves the zero value
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(n, v, c)
		return
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		before := len(d.errs)
		d.decode(n, p.Elem(), c)
		if len(d.errs) == before {
			v.Set(p)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.structure(n, v, c)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, c, "want %s, got %s", wantWords(t), gotWords(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), c.index(i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String {
			d.fail(n, c, "want %s, got %s", wantWords(t), gotWords(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			e := reflect.New(t.Elem()).Elem()
			d.decode(val, e, c.key(k.Value))
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
		}
		v.Set(m)
	default:
		d.scalar(n, v, c)
	}
}

func (d *nodeDecoder) duration(n *yaml.Node, v reflect.Value, c decodeCtx) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, c, "want %s, got %s", wantWords(durationType), gotWords(n))
		return
	}
	if n.Value == "0" {
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		hint := ""
		if _, nerr := strconv.ParseFloat(n.Value, 64); nerr == nil {
			hint = " (a number needs a unit: s, m or h)"
		}
		d.fail(n, c, "%q is not a duration%s; write it like \"30s\", \"10m\" or \"1h30m\"", n.Value, hint)
		return
	}
	v.SetInt(int64(dur))
}

func (d *nodeDecoder) scalar(n *yaml.Node, v reflect.Value, c decodeCtx) {
	t := v.Type()
	if n.Kind != yaml.ScalarNode {
		d.fail(n, c, "want %s, got %s", wantWords(t), gotWords(n))
		return
	}
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, c, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if tag == "!!float" && strings.Trim(n.Value, "+-0123456789_") == "" {
			d.fail(n, c, "number %s is out of range", n.Value)
			return
		}
		if tag != "!!int" {
			d.fail(n, c, "want a whole number, got %q", n.Value)
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			d.fail(n, c, "number %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		var f float64
		if (tag != "!!float" && tag != "!!int") || n.Decode(&f) != nil {
			d.fail(n, c, "want a number, got %q", n.Value)
			return
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			d.fail(n, c, "number %s is not finite", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, c, "cannot be set from a farm file")
	}
}

// yamlFields returns the keys a struct type takes and their field indexes.
func yamlFields(t reflect.Type) (keys []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
		index[name] = i
	}
	return keys, index
}

func (d *nodeDecoder) structure(n *yaml.Node, v reflect.Value, c decodeCtx) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.fail(n, c, "want %s, got %s", wantWords(t), gotWords(n))
		return
	}
	if t == roleSpecType {
		// Inside a role, messages name the role and paths start there.
		c.rel = ""
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
				c.role = n.Content[i+1].Value
			}
		}
	}
	keys, index := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fi, ok := index[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, strings.TrimSuffix(wantWords(t), " (key: value lines)"))
			if s := suggest(k.Value, keys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			if c.rel != "" {
				msg = c.rel + ": " + msg
			}
			kc := c.key(k.Value)
			d.unknownIn = append(d.unknownIn, c.path)
			d.errs = append(d.errs, &FieldError{Path: kc.path, Role: c.role, Msg: msg, File: d.file, Line: k.Line})
			continue
		}
		d.decode(val, v.Field(fi), c.key(k.Value))
	}
}

// suggest returns the candidate closest to word, if one is close enough to
// be a slip: the same letters but for case, '-' and '_', or at most a third
// of the letters (and at least one) different.
func suggest(word string, candidates []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", math.MaxInt
	for _, cand := range candidates {
		if norm(cand) == norm(word) {
			return cand
		}
		// "image_id" for "image", "health" for "health_checks".
		if len(cand) >= 4 && len(word) >= 4 && (strings.HasPrefix(word, cand+"_") || strings.HasPrefix(cand, word+"_")) {
			return cand
		}
		if dist := editDistance(strings.ToLower(word), strings.ToLower(cand)); dist < bestDist {
			best, bestDist = cand, dist
		}
	}
	if bestDist <= max(1, min(len(word), len(best))/3) {
		return best
	}
	return ""
}

// editDistance is the edit distance of a and b, a swap of two neighbours
// counting as one edit ("prot" for "port").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// inMisspeltMapping reports whether path is a mapping that had an unknown
// key, or one of its fields: a validation problem there (a port missing
// next to "prot") most likely comes from the misspelt key, already
// reported.
func inMisspeltMapping(path string, unknownIn []string) bool {
	return slices.ContainsFunc(unknownIn, func(p string) bool {
		if path == p {
			return true
		}
		rest, ok := strings.CutPrefix(path, p+".")
		if p == "" {
			rest, ok = path, true
		}
		return ok && !strings.ContainsAny(rest, ".[")
	})
}

// underFailed reports whether path is, or is inside, a path that failed to
// decode: validation problems there only repeat the decode problem.
func underFailed(path string, failed []*FieldError) bool {
	return slices.ContainsFunc(failed, func(fe *FieldError) bool {
		return path == fe.Path || strings.HasPrefix(path, fe.Path+".") || strings.HasPrefix(path, fe.Path+"[")
	})
}
