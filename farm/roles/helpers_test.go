package roles_test

import "os/exec"

var lookPath = exec.LookPath
