package farm

// The reference of every key of a farm file, from the types of this
// package and their doc comments.
//go:generate go run ../internal/farmyamldoc -src . -o ../docs/farm-yaml.md
