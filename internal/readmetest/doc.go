// Package readmetest holds the test that runs the README's "A farm in Go"
// program and its shop.yaml as written, from the README's text.
package readmetest
