package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

// Credentials written into the name itself (user:secret@host/app, with or
// without a scheme, with an API path) never show: not in the error, the
// debug logs, the progress events nor the JSON lines; "xxxxx" stands in
// their place (issue 10, items 5 and 13), nor in any error the PullError
// wraps, however deep (issue 22, 14: assertNoCanary walks the chain). The
// canary test of TestFaultCredentialsNeverShow, for names.
func TestCredentialsInNamesNeverShow(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, faultRepo+":"+faultTag, enginetest.Files{"a": "1"})
	logs := &logBuffer{}
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}))
	userinfo := faultUser + ":" + faultCanary
	for _, name := range []string{
		userinfo + "@" + reg.Host + "/" + faultRepo + ":" + faultTag,
		userinfo + "@x@" + reg.Host + "/" + faultRepo, // a raw '@' in the password
		"docker://" + userinfo + "@" + reg.Host + "/" + faultRepo + ":" + faultTag,
		"https://" + userinfo + "@" + reg.Host + "/" + faultRepo + ":" + faultTag,
		"https://" + userinfo + "@" + reg.Host + "/v2/" + faultRepo + "/manifests/" + faultTag,
		"http://" + userinfo + "@" + reg.Host + "/v2/" + faultRepo + "/manifests/" + faultTag,
		"//" + userinfo + "@" + reg.Host + "/" + faultRepo,
	} {
		t.Run(strings.ReplaceAll(name, "/", "|"), func(t *testing.T) {
			logs.Reset()
			var lines bytes.Buffer
			rec := &recorder{}
			jsonLines := progress.NewJSONLines(&lines, nil)
			sink := progress.SinkFunc(func(ev progress.Event) { rec.Emit(ev); jsonLines.Emit(ev) })
			_, err := e.Pull(context.Background(), name, policy.Always, &engine.PullOptions{Progress: sink})
			if k := pullerrors.Classify(err); k != pullerrors.InvalidReference {
				t.Errorf("kind %v, want invalid-reference: %v", k, err)
			}
			assertNoCanary(t, err, logs.String())
			if !strings.Contains(err.Error(), "xxxxx@") {
				t.Errorf("the error does not show xxxxx in the secret's place: %v", err)
			}
			for _, ev := range rec.events {
				if s := fmt.Sprintf("%+v %v", ev, ev.Err); strings.Contains(s, faultCanary) {
					t.Errorf("event %v carries the password: %s", ev.Kind, s)
				}
			}
			if strings.Contains(lines.String(), faultCanary) || !strings.Contains(lines.String(), "xxxxx@") {
				t.Errorf("the JSON lines carry the password, or no xxxxx: %s", lines.String())
			}
			if !regexp.MustCompile(`name=(https?:|docker:)?(//)?xxxxx@`).MatchString(logs.String()) {
				t.Errorf("the debug log does not name the pull with xxxxx: %s", logs.String())
			}
		})
	}
}
