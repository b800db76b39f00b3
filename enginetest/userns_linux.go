package enginetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"syscall"

	"go.podman.io/storage/pkg/unshare"
)

// usernsEnv marks a test binary re-executed by enterUserNamespace; its value
// is "single" for a namespace that maps only the user's own UID.
const usernsEnv = "ENGINETEST_USERNS"

// singleUID is true inside a namespace that maps one UID: files owned by
// other users in layers cannot be chowned there, so the kit's stores set
// vfs.ignore_chown_errors.
var singleUID = os.Getenv(usernsEnv) == "single"

// enterUserNamespace makes an unprivileged test process able to write
// layers, as rootless Podman does: it re-executes the test binary as UID 0
// inside a user namespace and exits with the child's status. With Debian's
// uidmap (newuidmap) and a /etc/subuid range it maps the whole range;
// without them it maps the user's own UID only. It returns (without
// re-executing) when running as root or already inside the namespace, and
// an error naming what is missing when neither way works.
func enterUserNamespace() error {
	if os.Geteuid() == 0 {
		return nil
	}
	me, err := user.Current()
	if err != nil {
		return fmt.Errorf("determining the current user: %w", err)
	}
	if _, err := exec.LookPath("newuidmap"); err == nil && hasSubIDRange(me) {
		os.Setenv(usernsEnv, "range")
		unshare.MaybeReexecUsingUserNamespace(false) // exits when done
		return errors.New("could not enter a user namespace with the /etc/subuid range")
	}
	return reexecSingleUID()
}

// hasSubIDRange reports whether /etc/subuid gives the user a range.
func hasSubIDRange(me *user.User) bool {
	uids, gids, err := unshare.GetSubIDMappings(me.Username, me.Username)
	return err == nil && len(uids) > 0 && len(gids) > 0
}

// reexecSingleUID runs the test binary again as UID 0 in a new user
// namespace that maps only our UID and GID; no setuid helper is needed.
func reexecSingleUID() error {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), usernsEnv+"=single")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	}
	hint := "run the tests as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
	if _, lookErr := exec.LookPath("newuidmap"); lookErr != nil {
		hint += ", or install Debian's uidmap package and give the user a /etc/subuid and /etc/subgid range"
	}
	return fmt.Errorf("not root, and creating a user namespace failed (%v): %s", strings.TrimSpace(err.Error()), hint)
}
