// Package readmecheck holds the tests that keep README.md true as a whole:
// every Go snippet is code a test compiles (whole programs are built and run
// by internal/readmetest and internal/readmeprogram), every command names a
// package that exists, the package map names every package, the files it
// names exist, and its apt-get line installs what CI installs.
package readmecheck
