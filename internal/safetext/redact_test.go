package safetext

import "testing"

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Get "https://user:hunter2@registry.example/v2/": EOF`, `Get "https://xxxxx@registry.example/v2/": EOF`},
		{`https://user:p@ss@registry.example/v2/`, `https://xxxxx@registry.example/v2/`},
		{`https://TOKEN123@registry.example`, `https://xxxxx@registry.example`},
		{`dial http://u:pw@proxy:3128 and https://a:b@c/d`, `dial http://xxxxx@proxy:3128 and https://xxxxx@c/d`},
		{`://user:hunter2@host/x`, `://xxxxx@host/x`},
		{`Get "https://user:***@registry.example/v2/"`, `Get "https://xxxxx@registry.example/v2/"`},
		{`Authorization: Basic dXNlcjpodW50ZXIy`, `Authorization: Basic xxxxx`},
		{`Bearer eyJhbGciOi.eyJzdWIi.sig`, `Bearer xxxxx`},
		{`https://s3.example/blob?X-Amz-Credential=AKIA&X-Amz-Signature=abcd&x=1`, `https://s3.example/blob?X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx&x=1`},
		{`/token?access_token=abc123&scope=repository:x:pull`, `/token?access_token=xxxxx&scope=repository:x:pull`},
		{`login failed password=hunter2`, `login failed password=xxxxx`},
		{`{"username":"u","password":"hun\"ter2","auth":"dTpw"}`, `{"username":"u","password":"xxxxx","auth":"xxxxx"}`},

		// Image names with userinfo and no scheme.
		{`alice:hunter2@registry.example/app:v1`, `xxxxx@registry.example/app:v1`},
		{`parsing "alice:hunter2@registry.example:5000/app": invalid reference format`, `parsing "xxxxx@registry.example:5000/app": invalid reference format`},
		{`name=alice:hun@ter2@registry.example/app`, `name=xxxxx@registry.example/app`},
		{`alice:hunter2@host/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`, `xxxxx@host/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`},
		{`//alice:hunter2@host/app`, `//xxxxx@host/app`},
		{`docker://alice:hunter2@host/app and alice:x@h/y`, `docker://xxxxx@host/app and xxxxx@h/y`},

		// Left alone: references, digests, prose.
		{`busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`, `busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`},
		{`containers-storage:[vfs@/var/lib/store+/run/store]alpine`, `containers-storage:[vfs@/var/lib/store+/run/store]alpine`},
		{`localhost:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`, `localhost:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`},
		{`docker://busybox@sha256:` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", `docker://busybox@sha256:` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{`docker://quay.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`, `docker://quay.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`},
		{`unable to retrieve auth token: invalid username/password: unauthorized`, `unable to retrieve auth token: invalid username/password: unauthorized`},
		{`basic authentication required`, `basic authentication required`},
		{`WWW-Authenticate: Bearer realm="https://auth.docker.io/token"`, `WWW-Authenticate: Bearer realm="https://auth.docker.io/token"`},
		{`user@example.com`, `user@example.com`},
		{``, ``},
	}
	for _, tc := range tests {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
