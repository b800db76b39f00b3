package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// A link planted in the resume directory under a partial's file name
// (data, state, its temporary file, lock) is never followed: the pull
// succeeds, the file it points to is unchanged, and the link is gone.
func TestResumeDirPlantedLinks(t *testing.T) {
	for _, ext := range []string{".data", ".state", ".state.tmp", ".lock"} {
		t.Run(ext, func(t *testing.T) {
			ri := newResumeImage(t, 1<<20)
			reg := enginetest.NewRegistry(t)
			reg.PushImage(t, "team/app:v1", ri.img)
			resume := filepath.Join(t.TempDir(), "resume")
			if err := os.Mkdir(resume, 0o700); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(t.TempDir(), "victim")
			const content = "the victim's own bytes"
			if err := os.WriteFile(victim, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			planted := filepath.Join(resume, ri.layer.Encoded()+ext)
			if err := os.Symlink(victim, planted); err != nil {
				t.Fatal(err)
			}
			e := newEngine(t, enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
				o.Resume.Dir = resume
			})))
			if _, err := e.Pull(context.Background(), reg.Host+"/team/app:v1", policy.Always, nil); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(victim); err != nil || string(got) != content {
				t.Errorf("the victim file now holds %d bytes (%v), want its own %d", len(got), err, len(content))
			}
			if _, err := os.Lstat(planted); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the planted link is still there: %v", err)
			}
			if left, _ := os.ReadDir(resume); len(left) != 0 {
				t.Errorf("left in the resume directory: %v", left)
			}
			assertTmpEmpty(t, e)
		})
	}
}

// New refuses a resume or temporary directory that is not private (open to
// others, another user's, a link): InvalidArgument for Resume.Dir, Storage
// for the store's own directories. A private one is accepted, and a
// directory New creates is 0700.
func TestPrivateDirsRefused(t *testing.T) {
	type setup func(t *testing.T, o *engine.Options) string // returns the directory to prepare
	resumeOpt := func(t *testing.T, o *engine.Options) string {
		o.Resume.Dir = filepath.Join(t.TempDir(), "resume")
		return o.Resume.Dir
	}
	resumeDefault := func(t *testing.T, o *engine.Options) string { return filepath.Join(o.RootDir, "resume") }
	tmpDefault := func(t *testing.T, o *engine.Options) string {
		o.SystemContext.BigFilesTemporaryDir = ""
		return filepath.Join(o.RootDir, "tmp")
	}
	open := func(t *testing.T, dir string) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	foreign := func(t *testing.T, dir string) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Skipf("cannot give a directory to another user: %v", err)
		}
	}
	link := func(t *testing.T, dir string) {
		target := t.TempDir() // private, but reached through a link
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		where   setup
		prepare func(*testing.T, string)
		kind    pullerrors.Kind
	}{
		{"Resume.Dir open to others", resumeOpt, open, pullerrors.InvalidArgument},
		{"Resume.Dir of another user", resumeOpt, foreign, pullerrors.InvalidArgument},
		{"Resume.Dir a link", resumeOpt, link, pullerrors.InvalidArgument},
		{"default resume dir open to others", resumeDefault, open, pullerrors.Storage},
		{"default tmp dir open to others", tmpDefault, open, pullerrors.Storage},
		{"default tmp dir a link", tmpDefault, link, pullerrors.Storage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := enginetest.NewEngineOptions(t)
			dir := tc.where(t, &opts)
			tc.prepare(t, dir)
			e, err := engine.New(opts)
			if err == nil {
				e.Close()
				t.Fatalf("New accepted %s", dir)
			}
			if k := pullerrors.Classify(err); k != tc.kind {
				t.Errorf("kind %v, want %v: %v", k, tc.kind, err)
			}
		})
	}
	t.Run("created private", func(t *testing.T) {
		opts := enginetest.NewEngineOptions(t)
		resume, tmp := resumeOpt(t, &opts), tmpDefault(t, &opts)
		e := newEngine(t, opts)
		for _, dir := range []string{resume, tmp} {
			if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
				t.Errorf("%s: %v, %v; want a 0700 directory", dir, fi.Mode(), err)
			}
		}
		_ = e
	})
}

// Removing the temporary directories of dead engines never follows a
// link: a link named like one, pointing to a directory elsewhere, leaves
// that directory and its files as they were.
func TestStaleTempDirCleanupFollowsNoLink(t *testing.T) {
	opts := enginetest.NewEngineOptions(t)
	base := opts.SystemContext.BigFilesTemporaryDir
	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pullengine-evil", ".pullengine-new-evil"} {
		if err := os.Symlink(victim, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	newEngine(t, opts)
	entries, err := os.ReadDir(victim)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "keep" {
		var names []string
		for _, de := range entries {
			names = append(names, de.Name())
		}
		t.Errorf("the linked directory now holds %v, want only keep", names)
	}
}
