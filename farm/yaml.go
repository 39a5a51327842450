package farm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
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
// the snake_case names in the struct tags of [Spec], [RoleSpec] and
// [HealthCheckSpec]; durations are strings such as "30s" or "10m". A key
// the spec does not know is an error, so that a misspelt field is not
// silently ignored. Every problem is reported, as a [*FieldError] carrying
// filename and the line, joined with errors.Join:
//
//	farm.yaml:12: role "app64": min 5 > max 3
func ParseYAML(data []byte, filename string) (Spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Spec{}, yamlError(filename, err)
	}
	if len(root.Content) == 0 {
		return Spec{}, &FieldError{File: filename, Msg: "the file holds no farm definition"}
	}
	var spec Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil && !errors.Is(err, io.EOF) {
		return Spec{}, yamlError(filename, err)
	}
	if err := spec.Validate(); err != nil {
		fes := FieldErrors(err)
		errs := make([]error, len(fes))
		for i, fe := range fes {
			fe.File = filename
			fe.Line = lineOf(root.Content[0], fe.Path)
			errs[i] = fe
		}
		return Spec{}, errors.Join(errs...)
	}
	return spec, nil
}

var (
	yamlLineRE  = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE   = regexp.MustCompile("^field (.+) not found in type ([\\w.]+)$")
	yamlTypeFix = strings.NewReplacer(
		"farm.Spec", "a farm",
		"farm.RoleSpec", "a role",
		"farm.HealthCheckSpec", "a health check",
		"farm.ZoneStrategy", "a zone strategy",
		"farm.HealthAction", "a health action",
		"farm.TerminationPolicy", "a termination policy",
		"farm.InitFailureAction", "an init failure action",
		"farm.ScalingSpec", "a scaling section",
		"farm.ThresholdSpec", "a threshold",
		"farm.TargetSpec", "a target",
		"farm.ScheduleSpec", "a schedule",
		"farm.WindowSpec", "a schedule window",
		"farm.APISpec", "an api section",
		"farm.DNSName", "a dns name",
		"farm.DatabaseSpec", "a database",
		"farm.NFSSpec", "an nfs server",
		"into time.Duration", `into a duration (write it like "30s" or "10m")`,
	)
)

// yamlError turns the YAML package's errors into FieldErrors with lines.
func yamlError(filename string, err error) error {
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{err.Error()}
	}
	errs := make([]error, 0, len(lines))
	for _, l := range lines {
		fe := &FieldError{File: filename, Msg: strings.TrimPrefix(l, "yaml: ")}
		if m := yamlLineRE.FindStringSubmatch(l); m != nil {
			fe.Line, _ = strconv.Atoi(m[1])
			fe.Msg = m[2]
		}
		if m := unknownRE.FindStringSubmatch(fe.Msg); m != nil {
			fe.Msg = fmt.Sprintf("unknown field %q in %s", m[1], m[2])
		}
		fe.Msg = yamlTypeFix.Replace(fe.Msg)
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
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
