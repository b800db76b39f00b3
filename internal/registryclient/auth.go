package registryclient

// Answering a registry's 401: Basic with the credentials, or a Bearer token
// from the challenge's realm, fetched as containers/image does.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
)

// authenticate answers res's challenges in order: the Authorization header
// to send, or ok false when none can be answered (Basic without
// credentials, a Bearer insufficient_scope with a token already held, an
// unknown scheme). held is the Authorization the refused request carried.
func (c *Client) authenticate(ctx context.Context, res *http.Response, held string) (string, bool, error) {
	for _, ch := range ParseChallenges(res.Header.Values("WWW-Authenticate")) {
		switch ch.Scheme {
		case "bearer":
			if ch.Params["error"] == "insufficient_scope" && held != "" {
				continue // a token we already hold is not enough: refused
			}
			token, err := c.token(ctx, ch.Params)
			if err != nil {
				return "", false, err
			}
			return "Bearer " + token, true, nil
		case "basic":
			if c.creds.Username != "" {
				req := &http.Request{Header: http.Header{}}
				req.SetBasicAuth(c.creds.Username, c.creds.Password)
				return req.Header.Get("Authorization"), true, nil
			}
		}
	}
	return "", false, nil
}

// token fetches a Bearer token for pulling the repository, as
// containers/image does: GET with Basic credentials (or anonymous), or
// POST of the identity token (OAuth2 refresh token).
func (c *Client) token(ctx context.Context, params map[string]string) (string, error) {
	req, err := c.tokenRequest(ctx, params)
	if err != nil {
		return "", err
	}
	c.setCommon(req)
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer Drain(res)
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return "", docker.ErrUnauthorizedForCredentials{Err: ResponseError(res)}
	case http.StatusTooManyRequests:
		return "", docker.ErrTooManyRequests
	default:
		return "", fmt.Errorf("requesting bearer token: %s%.0w", res.Status, docker.UnexpectedHTTPStatusError{StatusCode: res.StatusCode})
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxAuxBody+1))
	if err != nil {
		return "", err
	}
	if len(body) > MaxAuxBody {
		return "", pullerrors.Errorf(pullerrors.Unsupported, "the token answer is larger than %d bytes", MaxAuxBody)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", pullerrors.Wrap(pullerrors.Integrity, fmt.Errorf("decoding the token answer: %w", err))
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", pullerrors.Errorf(pullerrors.Integrity, "the token answer holds no token")
	}
	return tok.Token, nil
}

// tokenRequest is the request for a pull token from the challenge's realm.
func (c *Client) tokenRequest(ctx context.Context, params map[string]string) (*http.Request, error) {
	realm := params["realm"]
	if realm == "" {
		return nil, pullerrors.Errorf(pullerrors.Integrity, "missing realm in bearer auth challenge")
	}
	u, err := url.Parse(realm)
	if err == nil && u.Scheme != "https" && u.Scheme != "http" {
		err = fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if err != nil {
		return nil, pullerrors.Wrap(pullerrors.Integrity, fmt.Errorf("bad token realm %q: %w", safetext.Truncate(realm, 256), err))
	}
	scope := "repository:" + c.Repository() + ":pull"
	if c.creds.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.creds.IdentityToken},
			"client_id": {"containers/image"}, "scope": {scope}, "service": {params["service"]}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}
	q := u.Query()
	if c.creds.Username != "" {
		q.Set("account", c.creds.Username)
	}
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("scope", scope)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.creds.Username != "" && c.creds.Password != "" {
		req.SetBasicAuth(c.creds.Username, c.creds.Password)
	}
	return req, nil
}
