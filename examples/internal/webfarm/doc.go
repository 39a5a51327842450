// Package webfarm is what the web farm examples (examples/webfarm-ec2,
// examples/rackspace) share: the seed article's farm, its scripts, and the
// program that launches it, shows it working and terminates it. Each
// example keeps only what is its cloud's, behind the small [Cloud]
// interface, so that the part a reader copies for another cloud is short.
//
// # The farm
//
// [DBRole] is a MySQL database whose master is always db.ZONE; [AppRole] is
// the app64 role of apache servers, configured by the article's OnHostUp
// script, reconnected when the master moves, scaled on their load average.
// [Spec] puts them in a farm with the variables the [Scripts] use. A cloud
// adds what it has or lacks: the ELB on EC2, an HAProxy role on Rackspace.
// A [Shape] carries what changes between runs: image, instance type, zone,
// and whether the scripts install for real or only echo.
//
// # The program
//
// [Main] and [Program.Run] parse the shared flags (-test-servers,
// -crash-db, -no-sshd, -zone, -dns, -tsig-key, -ssh-user, -ssh-key,
// -private-ip, -serve, -ready-timeout, -v) and the cloud's own. With
// -test-servers the run uses the cloud's test server in this process and
// one real OpenSSH sshd on this machine that answers for every server, so
// that the scripts really run over SSH. Otherwise the cloud checks its
// configuration ([Cloud.Check], no network), the program reads -dns and
// -ssh-key, and only when nothing is missing does the cloud connect
// ([Cloud.Connect]). What is missing is printed with the [Program.Needs]
// text, and the program exits 2.
//
// The run ([Session]) launches the farm, prints each event and script
// result on a [Timeline], the DNS names, a load reading over SSH and the
// scaling verdict, crashes the database master with -crash-db, and
// terminates the farm: also after an interrupt, because servers left
// running cost money.
//
// # Tests
//
// Package webfarmtest holds the tests every example passes; an example's
// own tests add its cloud's message without credentials and the setup of a
// real run.
package webfarm
