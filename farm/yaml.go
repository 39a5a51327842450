package farm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadFile reads a farm definition from a YAML file; see [ParseYAML]. A
// relative scripts_dir is taken from the file's directory.
func LoadFile(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	spec, err := ParseYAML(data, path)
	if err == nil && spec.ScriptsDir != "" && !filepath.IsAbs(spec.ScriptsDir) {
		spec.ScriptsDir = filepath.Join(filepath.Dir(path), spec.ScriptsDir)
	}
	return spec, err
}

// ParseYAML reads a farm definition from YAML and validates it. Keys are
// the snake_case names in the struct tags of [Spec], [RoleSpec] and the
// types they hold (docs/farm-yaml.md lists them all); durations are
// strings such as "30s" or "10m". Every problem is reported at once, each
// a [*FieldError] carrying filename, the line, the role and the field,
// joined with errors.Join in line order: a key the spec does not know (with
// the key it probably meant), a value of the wrong kind, a bad duration, a
// number out of range, and every problem [Spec.Validate] finds:
//
//	farm.yaml:12: role "app64": min 5 > max 3
//	farm.yaml:14: role "app64": unknown key "helth_checks" in a role; did you mean "health_checks"?
//
// The spec remembers its file, so that the problems [New] finds later
// (scripts missing from the library, for one) carry the file and line too.
func ParseYAML(data []byte, filename string) (Spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Spec{}, yamlSyntaxError(filename, err)
	}
	if len(root.Content) == 0 {
		return Spec{}, &FieldError{File: filename, Msg: "the file holds no farm definition"}
	}
	doc := root.Content[0]
	var spec Spec
	d := &nodeDecoder{file: filename}
	d.decode(doc, reflect.ValueOf(&spec).Elem(), decodeCtx{})
	spec.src = &yamlSource{file: filename, root: doc}
	var fes []*FieldError
	fes = append(fes, d.errs...)
	for _, fe := range FieldErrors(spec.Validate()) {
		if underFailed(fe.Path, d.errs) || inMisspeltMapping(fe.Path, d.unknownIn) {
			continue
		}
		fe.File, fe.Line = filename, lineOf(doc, fe.Path)
		fes = append(fes, fe)
	}
	if len(fes) > 0 {
		slices.SortStableFunc(fes, func(a, b *FieldError) int { return a.Line - b.Line })
		errs := make([]error, len(fes))
		for i, fe := range fes {
			errs[i] = fe
		}
		return Spec{}, errors.Join(errs...)
	}
	return spec, nil
}

// yamlSource is where a spec was read from.
type yamlSource struct {
	file string
	root *yaml.Node
}

// locate gives the *FieldError values joined in err the file and line of
// their field, for a spec read from YAML; other errors pass unchanged.
func (s Spec) locate(err error) error {
	if s.src == nil || err == nil {
		return err
	}
	for _, fe := range FieldErrors(err) {
		if fe.File == "" {
			fe.File, fe.Line = s.src.file, lineOf(s.src.root, fe.Path)
		}
	}
	return err
}

// yamlSyntaxLineRE reads the line of a YAML syntax error, which comes
// before there is any node to take it from.
var yamlSyntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntaxError reports a file that is not YAML at all.
func yamlSyntaxError(filename string, err error) error {
	fe := &FieldError{File: filename, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlSyntaxLineRE.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = "not valid YAML: " + m[2]
	}
	return fe
}

// lineOf finds the line of the field at path ("roles[1].health_checks[0].port")
// in a YAML document; when the field is absent it returns the line of the
// nearest enclosing node that exists.
func lineOf(n *yaml.Node, path string) int {
	line := n.Line
	rest := path
	for rest != "" && n != nil {
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			rest = rest[end+1:]
		case n.Kind == yaml.MappingNode:
			// The longest key that starts rest: keys may contain dots.
			best := -1
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if rest == k || strings.HasPrefix(rest, k+".") || strings.HasPrefix(rest, k+"[") {
					if best < 0 || len(k) > len(n.Content[best].Value) {
						best = i
					}
				}
			}
			if best < 0 {
				return line
			}
			line = n.Content[best].Line
			rest = rest[len(n.Content[best].Value):]
			n = n.Content[best+1]
		default:
			return line
		}
		rest = strings.TrimPrefix(rest, ".")
	}
	return line
}
