// Package readmecheck holds the tests that keep README.md true as a whole:
// every Go snippet is code a test compiles (whole programs are built and run
// by internal/readmetest and internal/readmeprogram), every command names a
// package that exists, and the package map names every public package.
package readmecheck
