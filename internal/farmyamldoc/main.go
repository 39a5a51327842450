// Command farmyamldoc writes docs/farm-yaml.md, the reference of every key
// of a farm file, from the Go types that read it: the keys and their types
// come from package farm's struct tags (by reflection), their meaning and
// default from the fields' doc comments (parsed from farm's source). It is
// run by go generate in package farm:
//
//	go generate ./farm
//
// and its test fails when docs/farm-yaml.md is not what it would write, so
// that the reference cannot drift from the code.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
)

func main() {
	out := flag.String("o", "docs/farm-yaml.md", "file to write")
	src := flag.String("src", "farm", "directory of package farm's source")
	flag.Parse()
	var b bytes.Buffer
	if err := generate(&b, *src); err != nil {
		fmt.Fprintln(os.Stderr, "farmyamldoc:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "farmyamldoc:", err)
		os.Exit(1)
	}
}

// fieldDocs reads the doc comments of the struct fields of the package in
// dir: "RoleSpec.Min" → its comment.
func fieldDocs(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			var prev string // a comment shared by a group of fields on one line
			for _, fld := range st.Fields.List {
				text := ""
				if fld.Doc != nil {
					text = fld.Doc.Text()
				}
				if text == "" {
					// A comment above a group of fields tells them all.
					text = prev
				}
				for _, id := range fld.Names {
					docs[ts.Name.Name+"."+id.Name] = strings.Join(strings.Fields(text), " ")
				}
				prev = text
			}
			return false
		})
	}
	return docs, nil
}

// section is one struct type of the file and where it is used.
type section struct {
	t     reflect.Type
	title string
	where string
}

var durationType = reflect.TypeOf(time.Duration(0))

// titles name the sections for the reader.
var titles = map[string]string{
	"Spec": "The farm", "RoleSpec": "A role", "HealthCheckSpec": "A health check",
	"ScriptBinding": "A script binding", "ScalingSpec": "A scaling section", "ThresholdSpec": "A threshold",
	"TargetSpec": "A target", "ScheduleSpec": "A schedule", "WindowSpec": "A schedule window",
	"APISpec": "The scaling API", "DNSName": "A DNS name", "DatabaseSpec": "A database", "NFSSpec": "An NFS server",
}

func anchor(t reflect.Type) string { return strings.ToLower(t.Name()) }

// typeText says how a value of t is written.
func typeText(t reflect.Type) string {
	switch {
	case t == durationType:
		return `duration ("30s", "10m", "1h30m")`
	case t.Kind() == reflect.Pointer:
		return typeText(t.Elem())
	case t.Kind() == reflect.Struct:
		return fmt.Sprintf("mapping ([%s](#%s))", titles[t.Name()], anchor(t))
	case t.Kind() == reflect.Slice:
		return "list of " + typeText(t.Elem())
	case t.Kind() == reflect.Map:
		return "mapping of names to " + typeText(t.Elem())
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "whole number"
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32:
		return "number"
	}
	return t.String()
}

// defaultRE finds the sentences of a comment that give a default.
var defaultRE = regexp.MustCompile(`(?i)(default|empty means|0 means|zero means|nil means|unset means|omitted means|none means|empty for)`)

// theDefaultRE finds a value marked as the default: `"even" (the default)`.
var theDefaultRE = regexp.MustCompile(`("[^"]+"|\S+) \(the default\b`)

// defaultOf returns what the comment says about the default: the value
// marked "(the default)", or the clauses that say what an empty value
// means.
func defaultOf(doc string) string {
	if m := theDefaultRE.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	var d []string
	for _, s := range sentences(doc) {
		for _, clause := range strings.Split(s, "; ") {
			if defaultRE.MatchString(clause) {
				clause = strings.TrimSuffix(clause, ".")
				d = append(d, strings.ToUpper(clause[:1])+clause[1:]+".")
			}
		}
	}
	return strings.Join(d, " ")
}

func sentences(doc string) []string {
	var out []string
	for doc != "" {
		i := strings.Index(doc, ". ")
		if i < 0 {
			out = append(out, doc)
			break
		}
		out = append(out, doc[:i+1])
		doc = doc[i+2:]
	}
	return out
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = regexp.MustCompile(`\[([A-Za-z.]+)\]`).ReplaceAllString(s, "`$1`")
	return s
}

func generate(w io.Writer, srcDir string) error {
	docs, err := fieldDocs(srcDir)
	if err != nil {
		return err
	}
	root := reflect.TypeOf(farm.Spec{})
	var order []section
	seen := map[reflect.Type]bool{}
	var visit func(t reflect.Type, where string)
	visit = func(t reflect.Type, where string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType || seen[t] {
			return
		}
		seen[t] = true
		order = append(order, section{t: t, title: titles[t.Name()], where: where})
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || key == "-" {
				continue
			}
			visit(f.Type, where+key+suffix(f.Type)+".")
		}
	}
	visit(root, "")

	fmt.Fprint(w, `# The farm file

Every key of a farm file (farm.LoadFile, farm.ParseYAML), its type, its default and its
meaning. This file is generated from package farm's types and their doc comments by
internal/farmyamldoc (`+"`go generate ./farm`"+`); a test fails when it is out of date. A key
not listed here is refused, with the key it probably meant. Durations are written like
"30s", "10m" or "1h30m".

`)
	for _, s := range order {
		title := s.title
		if title == "" {
			title = s.t.Name()
		}
		fmt.Fprintf(w, "## %s\n\n<a id=\"%s\"></a>Go type `farm.%s`", title, anchor(s.t), s.t.Name())
		if s.where != "" {
			fmt.Fprintf(w, "; in the file at `%s`", strings.TrimSuffix(s.where, "."))
		}
		fmt.Fprint(w, ".\n\n| key | type | default | meaning |\n|---|---|---|---|\n")
		for i := range s.t.NumField() {
			f := s.t.Field(i)
			key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || key == "-" {
				continue
			}
			if key == "" {
				key = strings.ToLower(f.Name)
			}
			meaning := docs[s.t.Name()+"."+f.Name]
			def := defaultOf(meaning)
			switch {
			case strings.Contains(meaning, "Required"):
				def = "required"
			case def != "":
			case strings.Contains(opts, "omitempty"):
				def = "none"
			default:
				def = "required"
			}
			fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", key, typeText(f.Type), cell(def), cell(meaning))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// suffix marks a list in a path: "roles[]." for a list of roles.
func suffix(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice {
		return "[]"
	}
	return ""
}
